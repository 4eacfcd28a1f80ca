"""Profile format and validator (firmware/crf/profile/validate.py) on CPython."""

import copy
import json
import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crf.profile import validate as v
from crf.profile.validate import ProfileError, estimate_duration_s, loads, validate

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "firmware" / "profiles"
STANDARD = sorted(p.stem for p in PROFILES.glob("*.json"))

sys.path.insert(0, str(REPO / "tests" / "mpy"))
import test_profile_validate_mpy as mpy_cases  # noqa: E402  (shared cases)


def load(name):
    return loads((PROFILES / (name + ".json")).read_text())


def base():
    """A valid bag profile to break one thing at a time."""
    return {
        "format": 1,
        "name": "case",
        "description": "test case",
        "steps": [
            {"kind": "hold", "target_c": 4, "duration_s": 600},
            {"kind": "ramp", "rate_c_per_min": 1, "target_c": -4, "probe": "sample"},
            {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
             "compensate": {"chamber_c": -50, "max_s": 600}},
            {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90},
            {"kind": "end"},
        ],
    }


def with_steps(*steps):
    p = base()
    p["steps"] = list(steps)
    return p


def edit(i, **fields):
    """base() with fields of step i set (None removes the field)."""
    p = base()
    for k, val in fields.items():
        if val is None:
            p["steps"][i].pop(k, None)
        else:
            p["steps"][i][k] = val
    return p


def top(**fields):
    p = base()
    for k, val in fields.items():
        if val is None:
            p.pop(k, None)
        else:
            p[k] = val
    return p


def problems_of(profile, limits=None):
    with pytest.raises(ProfileError) as info:
        validate(profile, limits)
    return info.value


HOLD4 = {"kind": "hold", "target_c": 4, "duration_s": 60}
END = {"kind": "end"}

# ---------------------------------------------------------------- standard


@pytest.mark.parametrize("name", STANDARD)
def test_standard_profile_is_valid(name):
    p = load(name)
    assert p["name"] == name
    warnings = validate(p)
    if name == "selftest":
        assert len(warnings) == 1 and "ends at 4 °C, above -80 °C" in warnings[0]
    else:
        assert warnings == []


def test_the_three_standard_profiles_ship():
    assert {"hpc_bag", "vial", "selftest"} <= set(STANDARD)


def test_hpc_bag_follows_the_compensated_bag_program():
    steps = load("hpc_bag")["steps"]
    assert [s["kind"] for s in steps] == ["hold", "ramp", "ramp", "ramp", "end"]
    assert steps[0]["target_c"] == 4 and steps[0]["duration_s"] == 600
    assert steps[0]["note"] == "load and equilibrate"
    assert steps[1]["probe"] == "sample" and steps[1]["target_c"] == -4
    comp = steps[2]["compensate"]
    assert steps[2]["probe"] == "sample" and steps[2]["target_c"] == -40
    assert -60 <= comp["chamber_c"] <= -40 and comp["max_s"] == 600
    assert steps[3]["rate_c_per_min"] == 10 and steps[3]["target_c"] == -90
    assert estimate_duration_s(load("hpc_bag")) == 600 + 8 * 60 + 36 * 60 + 5 * 60


@pytest.mark.parametrize("name", ["hpc_bag", "vial"])
def test_product_profiles_declare_acceptance_limits(name):
    acc = load(name)["acceptance"]
    assert set(acc) == {"max_chamber_dev_c", "sample_rate_c_per_min", "nucleation_c",
                        "end_sample_max_c"}
    lo, hi = acc["sample_rate_c_per_min"]
    assert lo <= 1 <= hi      # both program -1 °C/min on the sample through -10..-40 °C
    assert acc["end_sample_max_c"] == -80
    assert "acceptance" not in load("selftest")


def test_vial_follows_the_ampule_program():
    steps = load("vial")["steps"]
    assert [s["kind"] for s in steps] == ["hold", "ramp", "ramp", "end"]
    assert steps[1]["target_c"] == -45 and "compensate" in steps[1]
    assert steps[2]["target_c"] == -90


def test_selftest_is_short_and_stays_warm():
    p = load("selftest")
    assert estimate_duration_s(p) < 15 * 60
    assert min(s.get("target_c", 4) for s in p["steps"]) >= -40


# ------------------------------------------------------------ the errors

INVALID = [
    # (profile, step_index, field, words in the reason)
    (top(format=2), None, "format", "2 is not supported"),
    (top(format=None), None, "format", "missing"),
    (top(format="1"), None, "format", "not supported"),
    (top(format=True), None, "format", "not supported"),
    (top(name=None), None, "name", "missing"),
    (top(name="x" * 25), None, "name", "25 characters, at most 24"),
    (top(name="HPC bag"), None, "name", "only a-z, 0-9, _ and -"),
    (top(name=""), None, "name", "must not be empty"),
    (top(name=7), None, "name", "must be text"),
    (top(description="d" * 81), None, "description", "81 characters, at most 80"),
    (top(description="−1 °C/min"), None, "description", "printable ASCII"),
    (top(steps=None), None, "steps", "missing"),
    (top(steps=[]), None, "steps", "at least one step"),
    (top(steps={"kind": "end"}), None, "steps", "must be a list"),
    (top(steps=[HOLD4] * 32 + [END]), None, "steps", "33 steps exceed the 32-step limit"),
    (top(author="me"), None, "author", "unknown field"),
    (with_steps(HOLD4, 5, END), 1, "step", "must be a JSON object"),
    (with_steps(HOLD4, {"target_c": 3}, END), 1, "kind", "missing"),
    (with_steps(HOLD4, {"kind": "cool"}, END), 1, "kind", '"cool" is not a step kind'),
    (edit(1, rate=1), 1, "rate", "unknown field"),
    (edit(0, note="n" * 41), 0, "note", "41 characters, at most 40"),
    (edit(0, note=["a"]), 0, "note", "must be text"),
    (edit(0, target_c=True), 0, "target_c", "must be a number"),
    (edit(0, target_c="4"), 0, "target_c", "must be a number"),
    (edit(0, target_c=None), 0, "target_c", "the first step must set a temperature"),
    (edit(0, target_c=float("nan")), 0, "target_c", "finite"),
    (edit(0, target_c=float("inf")), 0, "target_c", "finite"),
    (edit(0, target_c=51), 0, "target_c", "51 is above the 50 °C limit"),
    (edit(3, target_c=-181), 3, "target_c", "-181 is below the -180 °C limit"),
    (edit(0, duration_s=0), 0, "duration_s", "0 is outside 1..86400 s"),
    (edit(0, duration_s=86401), 0, "duration_s", "86401 is outside 1..86400 s"),
    (edit(0, duration_s=1.5), 0, "duration_s", "whole number of seconds"),
    (edit(0, duration_s=True), 0, "duration_s", "whole number of seconds"),
    (edit(0, until="operator"), 0, "duration_s", "not both"),
    (edit(0, duration_s=None), 0, "duration_s", "missing"),
    (edit(0, duration_s=None, until="nucleation"), 0, "until", '"until": "operator"'),
    (edit(0, probe="middle"), 0, "probe", 'must be "chamber" or "sample"'),
    (edit(3, rate_c_per_min=60), 3, "rate_c_per_min", "60 exceeds the 50 °C/min limit"),
    (edit(3, rate_c_per_min=0), 3, "rate_c_per_min", "must be above 0"),
    (edit(3, rate_c_per_min=-10), 3, "rate_c_per_min", "must be above 0"),
    (edit(3, rate_c_per_min=1e-6), 3, "rate_c_per_min", "below the 0.01 °C/min minimum"),
    (edit(3, rate_c_per_min=False), 3, "rate_c_per_min", "must be a number"),
    (edit(3, rate_c_per_min=None), 3, "rate_c_per_min", "missing"),
    (edit(3, target_c=None), 3, "target_c", "missing"),
    (edit(3, target_c=-40), 3, "target_c", "the ramp goes nowhere"),
    (edit(2, compensate=True), 2, "compensate", "must be a JSON object"),
    (edit(2, probe="chamber"), 2, "compensate", "only on a sample-probe ramp"),
    (edit(2, probe=None), 2, "compensate", "only on a sample-probe ramp"),
    (edit(2, target_c=10), 2, "compensate", "only on a cooling ramp"),
    (edit(2, compensate={"max_s": 600}), 2, "compensate.chamber_c", "missing"),
    (edit(2, compensate={"chamber_c": -10}), 2, "compensate.chamber_c", "-10 is outside -100..-20"),
    (edit(2, compensate={"chamber_c": -120}), 2, "compensate.chamber_c", "outside -100..-20"),
    (edit(2, compensate={"chamber_c": -50, "detect_rise_c": 5}), 2,
     "compensate.detect_rise_c", "5 is outside 0.1..3"),
    (edit(2, compensate={"chamber_c": -50, "detect_rise_c": 0.05}), 2,
     "compensate.detect_rise_c", "0.05 is outside 0.1..3"),
    (edit(2, compensate={"chamber_c": -50, "max_s": 10}), 2, "compensate.max_s", "10 is outside 30..1800"),
    (edit(2, compensate={"chamber_c": -50, "max_s": 600.0}), 2, "compensate.max_s", "whole number"),
    (edit(2, compensate={"chamber_c": -50, "rise": 1}), 2, "compensate.rise", "unknown field"),
    (with_steps({"kind": "hold", "target_c": -30, "duration_s": 60},
                {"kind": "ramp", "rate_c_per_min": 1, "target_c": -60, "probe": "sample",
                 "compensate": {"chamber_c": -25}}, END),
     1, "compensate.chamber_c", "-25 must be below the previous setpoint (-30 °C)"),
    (with_steps({"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
                 "compensate": {"chamber_c": -50}}, END),
     0, "compensate", "needs a known start"),
    (with_steps(HOLD4, {"kind": "wait", "below_c": -5, "above_c": 0, "timeout_s": 60}, END),
     1, "below_c", "not both"),
    (with_steps(HOLD4, {"kind": "wait", "timeout_s": 60}, END), 1, "below_c", "missing"),
    (with_steps(HOLD4, {"kind": "wait", "below_c": -5}, END), 1, "timeout_s", "missing"),
    (with_steps(HOLD4, {"kind": "wait", "below_c": -5, "timeout_s": 60}, END),
     1, "below_c", "-5 cannot be reached with the chamber setpoint at 4 °C"),
    (with_steps(HOLD4, {"kind": "wait", "below_c": 4, "timeout_s": 60}, END),
     1, "below_c", "cannot be reached"),
    (with_steps(HOLD4, {"kind": "wait", "above_c": 10, "target_c": -20, "timeout_s": 60}, END),
     1, "above_c", "10 cannot be reached with the chamber setpoint at -20 °C"),
    (with_steps(HOLD4, {"kind": "wait", "below_c": -5, "target_c": -20, "timeout_s": 0}, END),
     1, "timeout_s", "outside 1..86400"),
    (with_steps({"kind": "wait", "below_c": -5, "timeout_s": 60}, END),
     0, "target_c", "the first step must set a temperature"),
    (with_steps(HOLD4, {"kind": "jump", "target_c": -40, "until": "nucleation"}, END),
     1, "timeout_s", "missing"),
    (with_steps(HOLD4, {"kind": "jump", "target_c": -40, "duration_s": 60, "timeout_s": 60}, END),
     1, "timeout_s", 'only with "until": "nucleation"'),
    (with_steps(HOLD4, {"kind": "jump", "target_c": -40, "duration_s": 60, "until": "nucleation"}, END),
     1, "duration_s", "not both"),
    (with_steps(HOLD4, {"kind": "jump", "target_c": -40, "until": "operator", "timeout_s": 60}, END),
     1, "until", '"until": "nucleation"'),
    (with_steps(HOLD4, {"kind": "jump", "duration_s": 60}, END), 1, "target_c", "missing"),
    (with_steps(HOLD4, {"kind": "jump", "target_c": 2, "until": "nucleation", "timeout_s": 60}, END),
     1, "target_c", "too warm for the sample to nucleate"),
    (with_steps({"kind": "end"}), 0, "target_c", "the first step must set a temperature"),
    (with_steps(HOLD4, END, HOLD4, END), 1, "kind", "end must be the last step"),
    (with_steps(HOLD4), 0, "kind", 'the last step must be "end", not "hold"'),
    (with_steps({"kind": "hold", "target_c": 4, "duration_s": 86400},
                {"kind": "ramp", "rate_c_per_min": 1, "target_c": -90}, END),
     None, "steps", "estimated duration 25.6 h exceeds the 24.0 h limit"),
    # acceptance limits (for the batch report)
    (top(acceptance=[2]), None, "acceptance", "must be a JSON object, got a list"),
    (top(acceptance={"max_dev": 2}), None, "acceptance.max_dev", "unknown field (acceptance takes: "
     "max_chamber_dev_c, sample_rate_c_per_min, nucleation_c, end_sample_max_c)"),
    (top(acceptance={"max_chamber_dev_c": 0}), None, "acceptance.max_chamber_dev_c",
     "0 is outside 0.01..20 °C"),
    (top(acceptance={"max_chamber_dev_c": "2"}), None, "acceptance.max_chamber_dev_c",
     "must be a number in °C, got text"),
    (top(acceptance={"max_chamber_dev_c": float("nan")}), None, "acceptance.max_chamber_dev_c",
     "finite"),
    (top(acceptance={"sample_rate_c_per_min": 1}), None, "acceptance.sample_rate_c_per_min",
     "must be a list [low, high] in °C/min, got 1"),
    (top(acceptance={"sample_rate_c_per_min": [0.5, 1, 2]}), None,
     "acceptance.sample_rate_c_per_min", "must be a list [low, high]"),
    (top(acceptance={"sample_rate_c_per_min": [2, 0.5]}), None, "acceptance.sample_rate_c_per_min",
     "low 2 must be below high 0.5"),
    (top(acceptance={"sample_rate_c_per_min": [1, 1]}), None, "acceptance.sample_rate_c_per_min",
     "low 1 must be below high 1"),
    (top(acceptance={"sample_rate_c_per_min": [0, 2]}), None, "acceptance.sample_rate_c_per_min[0]",
     "0 is outside 0.01..50 °C/min"),
    (top(acceptance={"sample_rate_c_per_min": [0.5, True]}), None,
     "acceptance.sample_rate_c_per_min[1]", "must be a number in °C/min, got true/false"),
    (top(acceptance={"nucleation_c": [-2, -20]}), None, "acceptance.nucleation_c",
     "low -2 must be below high -20"),
    (top(acceptance={"nucleation_c": [-20, 1]}), None, "acceptance.nucleation_c[1]",
     "1 is outside -80..0 °C"),
    (edit(2, compensate=None, probe="chamber") | {"acceptance": {"nucleation_c": [-20, -2]}}, None,
     "acceptance.nucleation_c", "the profile never detects nucleation"),
    (top(acceptance={"end_sample_max_c": 5}), None, "acceptance.end_sample_max_c",
     "5 is outside -180..0 °C"),
    (top(acceptance={"end_sample_max_c": -95}), None, "acceptance.end_sample_max_c",
     "-95 cannot be met with the end setpoint at -90 °C"),
    (top(acceptance={"end_sample_max_c": -90}), None, "acceptance.end_sample_max_c",
     "cannot be met"),
]


@pytest.mark.parametrize("profile,index,field,words", INVALID,
                         ids=["%s-%s" % (c[2], i) for i, c in enumerate(INVALID)])
def test_invalid_profile_names_step_field_and_reason(profile, index, field, words):
    err = problems_of(profile)
    hits = [p for p in err.problems if p[0] == index and p[1] == field and words in p[2]]
    assert hits, err.problems
    # The human text names the step counted from 1, with its kind when known.
    line = str(err).split("\n")[err.problems.index(hits[0])]
    assert line.endswith(field + ": " + hits[0][2])
    if index is None:
        assert line.startswith(field + ": ")
    else:
        assert line.startswith("step %d" % (index + 1))
    assert isinstance(err, ValueError)


def test_message_format_for_operators():
    err = problems_of(edit(3, rate_c_per_min=60))
    assert str(err) == "step 4 (ramp): rate_c_per_min: 60 exceeds the 50 °C/min limit"
    assert err.problems == [(3, "rate_c_per_min", "60 exceeds the 50 °C/min limit")]
    err = problems_of(with_steps(HOLD4, {"kind": "bake"}, END))
    assert str(err).startswith("step 2: kind: ")


def test_every_problem_is_listed_at_once():
    p = base()
    p["name"] = "Bad Name"
    p["colour"] = "blue"
    p["steps"][0]["duration_s"] = 0
    p["steps"][3]["rate_c_per_min"] = 99
    p["steps"][4]["target_c"] = "cold"
    err = problems_of(p)
    fields = [(i, f) for i, f, _ in err.problems]
    assert fields == [(None, "colour"), (None, "name"), (0, "duration_s"),
                      (3, "rate_c_per_min"), (4, "target_c")]
    assert len(str(err).split("\n")) == 5


def test_unknown_fields_are_named_in_a_stable_order():
    p = edit(0, zeta=1, alpha=2)
    err = problems_of(p)
    assert [f for _, f, _ in err.problems] == ["alpha", "zeta"]


def test_first_ramp_starts_from_the_chamber():
    p = with_steps({"kind": "ramp", "rate_c_per_min": 1, "target_c": 4}, END)
    assert validate(p) == [
        "step 2 (end): the profile ends at 4 °C, above -80 °C: products are normally "
        "frozen to -90 °C or colder before transfer"]
    assert estimate_duration_s(p, start_c=20.0) == 16 * 60


def test_a_wait_defaults_to_the_previous_setpoint():
    p = with_steps({"kind": "hold", "target_c": -50, "duration_s": 60},
                   {"kind": "wait", "below_c": -30, "timeout_s": 3600},
                   {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90}, END)
    assert validate(p) == []


def test_jump_until_nucleation_is_valid():
    p = with_steps(HOLD4,
                   {"kind": "jump", "target_c": -20, "until": "nucleation", "timeout_s": 1800},
                   {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40},
                   {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90}, END)
    assert validate(p) == []


def test_limits_can_be_tightened():
    p = load("hpc_bag")
    err = problems_of(p, {"max_rate_c_per_min": 5})
    assert err.problems == [(3, "rate_c_per_min", "10 exceeds the 5 °C/min limit")]
    err = problems_of(p, {"min_c": -80})
    assert (3, "target_c", "-90 is below the -80 °C limit") in err.problems
    assert validate(p, {"max_steps": 5}) == []
    assert problems_of(p, {"max_steps": 4}).problems[0][1] == "steps"


def test_bad_json():
    with pytest.raises(ProfileError) as info:
        loads('{"format": 1, "steps": [')
    assert info.value.problems[0][:2] == (None, "json")
    assert str(info.value).startswith("json: not valid JSON")
    with pytest.raises(ProfileError):
        loads("[" * 100000)


def test_not_an_object():
    for thing in (None, [], "hpc_bag", 3):
        assert problems_of(thing).problems[0][1] == "profile"


@pytest.mark.parametrize("profile,lines", mpy_cases.CASES,
                         ids=[str(i) for i in range(len(mpy_cases.CASES))])
def test_same_messages_as_on_micropython(profile, lines):
    # tests/mpy/test_profile_validate_mpy.py asserts these lines on the device port.
    assert str(problems_of(profile)).split("\n") == lines


# ---------------------------------------------------- acceptance limits

FULL_ACCEPTANCE = {"max_chamber_dev_c": 2, "sample_rate_c_per_min": [0.8, 2],
                   "nucleation_c": [-20, -2], "end_sample_max_c": -80}


def test_acceptance_limits_are_optional_and_checked_only_for_sense():
    assert validate(top(acceptance=FULL_ACCEPTANCE)) == []
    assert validate(top(acceptance={"max_chamber_dev_c": 0.01})) == []
    assert validate(top(acceptance=None)) == []


def test_acceptance_problems_are_all_listed_with_dotted_fields():
    err = problems_of(top(acceptance={"max_chamber_dev_c": -1, "sample_rate_c_per_min": [3, 1],
                                      "end_sample_max_c": "cold", "colour": 1}))
    assert [f for _, f, _ in err.problems] == [
        "acceptance.colour", "acceptance.max_chamber_dev_c", "acceptance.sample_rate_c_per_min",
        "acceptance.end_sample_max_c"]
    assert str(err).split("\n")[1] == "acceptance.max_chamber_dev_c: -1 is outside 0.01..20 °C"


def test_empty_acceptance_warns():
    assert validate(top(acceptance={})) == [
        "acceptance declares no limits: every run's report will ask for review"]


def test_rate_band_that_excludes_the_program_warns():
    (w,) = validate(top(acceptance={"sample_rate_c_per_min": [1.5, 2]}))
    assert w == ("step 3 (ramp): the sample is programmed to cool at 1 °C/min, outside the "
                 "accepted 1.5..2 °C/min of acceptance.sample_rate_c_per_min")
    # A sample ramp that stays out of -10..-40 °C is not judged by the band.
    assert validate(top(acceptance={"sample_rate_c_per_min": [0.8, 1.2]})) == []
    p = edit(1, rate_c_per_min=3)         # step 2 ends at -4 °C: outside the band
    assert validate(p | {"acceptance": {"sample_rate_c_per_min": [0.8, 1.2]}}) == []


def test_end_limit_close_to_the_end_setpoint_warns():
    (w,) = validate(top(acceptance={"end_sample_max_c": -89}))
    assert w.startswith("acceptance.end_sample_max_c -89 °C is within 2 °C of the end setpoint")


def test_nucleation_band_with_a_nucleation_jump():
    p = with_steps(HOLD4, {"kind": "jump", "target_c": -20, "until": "nucleation", "timeout_s": 1800},
                   {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40},
                   {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90}, END)
    p["acceptance"] = {"nucleation_c": [-20, -2]}
    assert validate(p) == []


# ---------------------------------------------------------- the warnings


def test_ramp_faster_than_ln2_can_cool_warns():
    p = edit(3, rate_c_per_min=20)
    warnings = validate(p)
    assert len(warnings) == 1
    assert warnings[0].startswith("step 4 (ramp): cooling at 20 °C/min to -90 °C")
    assert "LN2" in warnings[0]


def test_fast_ramp_deep_in_the_cold_warns_but_not_when_warm():
    cold = with_steps({"kind": "hold", "target_c": -100, "duration_s": 60},
                      {"kind": "ramp", "rate_c_per_min": 10, "target_c": -160}, END)
    assert any("step 2 (ramp): cooling at 10 °C/min" in w for w in validate(cold))
    warm = with_steps({"kind": "hold", "target_c": 20, "duration_s": 60},
                      {"kind": "ramp", "rate_c_per_min": 10, "target_c": 0},
                      {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90}, END)
    assert validate(warm) == []


def test_warming_ramps_never_warn_about_ln2():
    p = with_steps({"kind": "hold", "target_c": -150, "duration_s": 60},
                   {"kind": "ramp", "rate_c_per_min": 30, "target_c": -90}, END)
    assert validate(p) == []


def test_fast_sample_ramp_warns():
    p = edit(1, rate_c_per_min=8)
    warnings = validate(p)
    assert len(warnings) == 1
    assert warnings[0].startswith("step 2 (ramp): 8 °C/min on the sample probe")


def test_ending_warm_warns():
    p = edit(4, target_c=-60)
    assert validate(p) == [
        "step 5 (end): the profile ends at -60 °C, above -80 °C: products are normally "
        "frozen to -90 °C or colder before transfer"]
    assert validate(edit(4, target_c=-80)) == []


def test_wait_threshold_close_to_setpoint_warns():
    p = with_steps({"kind": "hold", "target_c": -90, "duration_s": 60},
                   {"kind": "wait", "below_c": -89, "timeout_s": 600}, END)
    (w,) = validate(p)
    assert w.startswith("step 2 (wait): below_c -89 °C is within 2 °C")


def test_shallow_nucleation_jump_warns():
    p = with_steps(HOLD4, {"kind": "jump", "target_c": -6, "until": "nucleation",
                           "timeout_s": 600},
                   {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90}, END)
    (w,) = validate(p)
    assert w.startswith("step 2 (jump): jump to -6 °C")


def test_capability_model_falls_with_temperature():
    assert v.max_cooling_rate(30) == 15
    assert v.max_cooling_rate(15) == 15
    assert v.max_cooling_rate(-150) == 9
    assert v.max_cooling_rate(-190) == 9
    temps = range(15, -151, -5)
    rates = [v.max_cooling_rate(t) for t in temps]
    assert rates == sorted(rates, reverse=True)
    # The CryoMed-style -10 °C/min to -90 °C program must be within reach.
    assert v.max_cooling_rate(-90) >= 10


# ---------------------------------------------------------- the estimate


def test_estimate_counts_each_kind():
    p = with_steps({"kind": "hold", "target_c": 4, "duration_s": 100},
                   {"kind": "hold", "until": "operator"},
                   {"kind": "ramp", "rate_c_per_min": 2, "target_c": -6},
                   {"kind": "wait", "below_c": -5, "timeout_s": 300},
                   {"kind": "jump", "target_c": -30, "until": "nucleation", "timeout_s": 400},
                   {"kind": "jump", "target_c": -20, "duration_s": 50},
                   {"kind": "end", "target_c": -20})
    assert estimate_duration_s(p) == 100 + 0 + 300 + 300 + 400 + 50


def test_estimate_tolerates_nonsense():
    assert estimate_duration_s(None) == 0
    assert estimate_duration_s({"steps": "x"}) == 0
    assert estimate_duration_s({"steps": [1, {"kind": "ramp", "rate_c_per_min": 0,
                                              "target_c": 10 ** 400}]}) == 0


# ------------------------------------------------------ properties (fuzz)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10)
field_names = st.sampled_from(
    ["kind", "target_c", "duration_s", "until", "probe", "note", "rate_c_per_min",
     "compensate", "below_c", "above_c", "timeout_s", "detect_rise_c", "chamber_c",
     "max_s", "format", "name", "description", "steps", "acceptance", "max_chamber_dev_c",
     "sample_rate_c_per_min", "nucleation_c", "end_sample_max_c", "bogus"])
interesting = st.sampled_from(
    [0, 1, -1, 0.5, -4, -40, -90, 50, 51, -180, -181, 86400, 86401, 1e-9, True, False,
     None, "", "hold", "ramp", "wait", "jump", "end", "operator", "nucleation",
     "sample", "chamber", [], {}, {"chamber_c": -50}, float("nan"), [0.8, 2], [2, 0.8],
     [-20, -2], [1]]).map(copy.deepcopy)


def containers(obj):
    """Every dict and list inside obj (the places a mutation can land)."""
    out = [obj]
    if isinstance(obj, dict):
        for val in obj.values():
            if isinstance(val, (dict, list)):
                out.extend(containers(val))
    elif isinstance(obj, list):
        for val in obj:
            if isinstance(val, (dict, list)):
                out.extend(containers(val))
    return out


@st.composite
def mutated_profiles(draw):
    p = copy.deepcopy(load(draw(st.sampled_from(STANDARD))))
    for _ in range(draw(st.integers(1, 4))):
        places = containers(p)
        place = draw(st.sampled_from(places))
        value = draw(interesting | json_values)
        if isinstance(place, dict):
            key = draw(field_names | st.sampled_from(sorted(place) or ["x"]))
            if draw(st.booleans()) and key in place:
                del place[key]
            else:
                place[key] = value
        else:
            action = draw(st.sampled_from(["delete", "set", "insert", "duplicate", "swap"]))
            if not place:
                place.append(value)
            elif action == "delete":
                del place[draw(st.integers(0, len(place) - 1))]
            elif action == "set":
                place[draw(st.integers(0, len(place) - 1))] = value
            elif action == "insert":
                place.insert(draw(st.integers(0, len(place))), value)
            elif action == "duplicate":
                place.append(copy.deepcopy(draw(st.sampled_from(place))))
            else:
                a = draw(st.integers(0, len(place) - 1))
                b = draw(st.integers(0, len(place) - 1))
                place[a], place[b] = place[b], place[a]
    return p


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_profiles())
def test_mutations_never_crash(profile):
    try:
        warnings = validate(profile)
    except ProfileError as err:
        assert err.problems
        steps = profile.get("steps")
        for i, field, reason in err.problems:
            assert i is None or 0 <= i < len(steps)
            assert isinstance(field, str) and field
            assert isinstance(reason, str) and reason
        assert len(str(err).split("\n")) == len(err.problems)
    else:
        assert all(isinstance(w, str) for w in warnings)
        # Accepted profiles are sound for the engine.
        assert profile["steps"][-1]["kind"] == "end"
        assert estimate_duration_s(profile) <= v.DEFAULT_LIMITS["max_total_s"]
        json.dumps(profile, allow_nan=False)
    assert isinstance(estimate_duration_s(profile), int)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_loads_only_raises_profile_error(text):
    try:
        p = loads(text)
    except ProfileError as err:
        assert err.problems[0][1] == "json"
        return
    try:
        validate(p)
    except ProfileError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-150, 40), st.integers(1, 50)), min_size=1, max_size=30))
def test_chamber_ramp_programs_pass_unless_too_long(ramps):
    # Any chain of moving ramps is valid; only its length can refuse it.
    steps = [{"kind": "hold", "target_c": 4, "duration_s": 60}]
    sp, expect = 4, 60.0
    for target, rate in ramps:
        if target == sp:
            continue
        steps.append({"kind": "ramp", "rate_c_per_min": rate, "target_c": target})
        expect += abs(target - sp) * 60 / rate
        sp = target
    steps.append({"kind": "end"})
    p = with_steps(*steps)
    assert estimate_duration_s(p) == int(expect + 0.5)
    if estimate_duration_s(p) > 24 * 3600:
        assert problems_of(p).problems[-1][1] == "steps"
    else:
        for w in validate(p):
            assert "LN2" in w or "ends at" in w
            assert math.isfinite(len(w))
