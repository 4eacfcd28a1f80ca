# The profile validator on the MicroPython unix port: the shipped profiles
# must pass on the device, and bad profiles must be refused with the same
# messages the host shows (tests/test_profile_validate.py runs CASES too).
from crf.profile import validate as v


def _root():
    f = __file__
    for _ in range(3):
        i = f.rfind("/")
        f = f[:i] if i >= 0 else ""
    return f or "."


def _load(name):
    with open(_root() + "/firmware/profiles/" + name + ".json") as fh:
        return v.loads(fh.read())


STANDARD = ("hpc_bag", "vial", "selftest")


def _base():
    return {
        "format": 1,
        "name": "case",
        "description": "test case",
        "steps": [
            {"kind": "hold", "target_c": 4, "duration_s": 600},
            {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
             "compensate": {"chamber_c": -50}},
            {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90},
            {"kind": "end"},
        ],
    }


def _with(step_index, **fields):
    p = _base()
    for k in fields:
        if fields[k] is None:
            p["steps"][step_index].pop(k, None)
        else:
            p["steps"][step_index][k] = fields[k]
    return p


def _accept(acceptance):
    p = _base()
    p["acceptance"] = acceptance
    return p


# (profile, exact lines of str(ProfileError))
CASES = [
    (_with(2, rate_c_per_min=60),
     ["step 3 (ramp): rate_c_per_min: 60 exceeds the 50 °C/min limit"]),
    (_with(0, target_c=True),
     ["step 1 (hold): target_c: must be a number in °C, got true/false"]),
    (_with(0, target_c=None),
     ["step 1 (hold): target_c: missing: the first step must set a temperature"]),
    (_with(2, target_c=-40),
     ["step 3 (ramp): target_c: -40 equals the previous setpoint: the ramp goes nowhere (use a hold)"]),
    (_with(1, probe="chamber"),
     ["step 2 (ramp): compensate: only on a sample-probe ramp (nucleation is detected from the sample trace)"]),
    (_with(1, compensate={"chamber_c": -10.5, "max_s": 5}),
     ["step 2 (ramp): compensate.chamber_c: -10.5 is outside -100..-20 °C",
      "step 2 (ramp): compensate.max_s: 5 is outside 30..1800 s"]),
    (_with(3, kind="hold"),
     ["step 4 (hold): duration_s: missing: give \"duration_s\" or \"until\": \"operator\"",
      "step 4 (hold): kind: the last step must be \"end\", not \"hold\""]),
    (_with(0, rate=1),
     ["step 1 (hold): rate: unknown field (a hold step takes: kind, target_c, duration_s, until, probe, note)"]),
    (_with(2, target_c=-190.25),
     ["step 3 (ramp): target_c: -190.25 is below the -180 °C limit"]),
    (_accept({"max_chamber_dev_c": 0, "sample_rate_c_per_min": [2, 0.5], "colour": 1,
              "nucleation_c": [-20.5, True], "end_sample_max_c": -95}),
     ["acceptance.colour: unknown field (acceptance takes: max_chamber_dev_c, "
      "sample_rate_c_per_min, nucleation_c, end_sample_max_c)",
      "acceptance.max_chamber_dev_c: 0 is outside 0.01..20 °C",
      "acceptance.sample_rate_c_per_min: low 2 must be below high 0.5",
      "acceptance.nucleation_c[1]: must be a number in °C, got true/false",
      "acceptance.end_sample_max_c: -95 cannot be met with the end setpoint at -90 °C"]),
]


def test_standard_profiles_validate():
    for name in STANDARD:
        p = _load(name)
        warnings = v.validate(p)
        assert p["name"] == name
        if name == "selftest":
            assert len(warnings) == 1 and "above -80" in warnings[0], warnings
        else:
            assert warnings == [], (name, warnings)


def test_product_profiles_carry_acceptance_limits():
    # The firmware does not use them; they ride in the run record for the batch report.
    for name in ("hpc_bag", "vial"):
        acc = _load(name)["acceptance"]
        assert acc["end_sample_max_c"] == -80 and len(acc["sample_rate_c_per_min"]) == 2


def test_standard_durations():
    assert v.estimate_duration_s(_load("hpc_bag")) == 3540
    assert v.estimate_duration_s(_load("selftest")) < 15 * 60


def test_bad_profiles_give_the_same_messages():
    for profile, lines in CASES:
        try:
            v.validate(profile)
        except v.ProfileError as e:
            assert str(e).split("\n") == lines, (str(e), lines)
            assert e.lines() == lines
            continue
        assert False, "accepted: %s" % lines


def test_bad_json_is_a_profile_error():
    try:
        v.loads('{"format": 1, "steps": [')
    except v.ProfileError as e:
        assert e.problems[0][:2] == (None, "json")
        return
    assert False, "bad JSON accepted"


def test_capability_model():
    assert v.max_cooling_rate(15) == 15
    assert v.max_cooling_rate(-150) == 9
    assert 11 < v.max_cooling_rate(-90) < 11.5
