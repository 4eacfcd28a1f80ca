"""Batch report (crf_host.report): verdict, figures and the PDF/PNG it writes.

Real records come from the virtual freezer (one hpc_bag run on the 50 mL bag
plant and one vial run, shared by the module). Variants are written again
through the firmware's own RunLog from a real run's samples and events, with
one thing changed (the profile's limits, an alarm, a hold, the seal), so each
variant is a genuine, verifiable record that differs only where the test says.
Only the tests about the files render a PDF (about 1 s each); the verdict
tests call analyse() on the record.
"""

import hashlib
import json
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crf.profile import acceptance
from crf.record import format as fmt
from crf.record.runlog import RunLog
from crf_host.paths import PLANTS_DIR, PROFILES_DIR
from crf_host.records import read_run
from crf_host import metrics
from crf_host.report import PASS, REVIEW, RATE_BAND_C, analyse, make_report, sample_rate
from crf_host.runner import run_virtual

# Long enough after the end step for a 50 mL bag to pass -80 °C (about 8 min
# at a -90 °C chamber) before the virtual operator stops the run.
AFTER_END_S = 600


def pdf_pages(path):
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bag_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bag")
    run_virtual(PLANTS_DIR / "bag_50ml.json", "hpc_bag", out, batch="B-2027-017", operator="ann",
                exit_after_end_s=AFTER_END_S)
    return out / "000001.run"


@pytest.fixture(scope="module")
def vial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vial")
    run_virtual(PLANTS_DIR / "vials_20x1p8ml.json", "vial", out, batch="V-7", operator="ann",
                exit_after_end_s=AFTER_END_S)
    return out / "000001.run"


def shipped(name):
    return json.loads((PROFILES_DIR / (name + ".json")).read_text())


def replay(run, root, profile=None, events=(), seal=fmt.SEAL_COMPLETED, until_s=None,
           drop_events=(), **header):
    """Write a real run again through RunLog: same samples and events, with the
    profile (a dict) swapped in, extra events (t_s, name, who, detail) merged,
    events named in drop_events left out, samples cut after until_s, and the
    given seal status (None: not sealed). -> path of the new record."""
    h = {k: v for k, v in run.header.items() if k not in ("run", "format", "interval_ms", "planned_s")}
    if profile is not None:
        text = json.dumps(profile, indent=1)
        h.update(profile_text=text, profile_name=profile["name"],
                 profile_sha256=hashlib.sha256(text.encode()).hexdigest())
    h.update(header)
    start = h.get("start_rtc_s") or 0
    root.mkdir(parents=True, exist_ok=True)
    log = RunLog(str(root))
    run_id = log.open_run(h, run.header["planned_s"], 1000)
    evs = [(e["t_s"], e["event"], e["who"], e["detail"]) for e in run.events
           if e["event"] not in drop_events] + list(events)
    evs.sort(key=lambda e: e[0])
    last = 0
    for s in run.samples:
        if until_s is not None and s["t_s"] > until_s:
            break
        while evs and evs[0][0] <= s["t_s"]:
            t, name, who, detail = evs.pop(0)
            assert log.event(int(t * 1000), start + int(t) if start else None, name, who, detail)
        flags = (fmt.STATE_CODES.index(s["state"]) | (fmt.F_COMP if s["comp"] else 0)
                 | (fmt.F_SAMPLE_CTL if s["sample_control"] else 0)
                 | (fmt.F_ALARM if s["alarm"] else 0)
                 | (fmt.F_CHAMBER_FAULT if s["chamber_fault"] else 0)
                 | (fmt.F_SAMPLE_FAULT if s["sample_fault"] else 0))
        last = int(s["t_s"] * 1000)
        assert log.sample(last, 255 if s["step"] is None else s["step"] - 1, s["chamber_c"],
                          s["sample_c"], s["sp_chamber_c"], s["sp_sample_c"], s["ln2_duty"],
                          s["heater_duty"], flags)
    for t, name, who, detail in evs:
        if until_s is None or t <= until_s:
            assert log.event(int(t * 1000), start + int(t) if start else None, name, who, detail)
    if seal is None:
        log._move()                    # what a power cut leaves: records on flash, no seal
    else:
        assert log.seal(last + 1000, start + last // 1000 + 1 if start else None, seal)
    return log.file_of(run_id)


def with_acceptance(**limits):
    p = shipped("hpc_bag")
    p["acceptance"] = dict(p["acceptance"], **limits)
    return p


def verdict_of(path):
    return analyse(read_run(path))["verdict"]


def only_reason(v, start):
    assert v.result == REVIEW
    assert len(v.reasons) == 1, v.reasons
    assert v.reasons[0].startswith(start), v.reasons
    return v.reasons[0]


# ------------------------------------------------------------ real runs


def test_normal_hpc_bag_run_passes_with_the_shipped_limits(bag_run, tmp_path):
    pdf, png, v = make_report(bag_run, tmp_path)
    assert v.result == PASS and v.passed and v.reasons == (), v.reasons
    assert [c[3] for c in v.checks] == ["pass"] * 4
    run = read_run(bag_run)
    assert run.verified and v.seal_digest == run.seal["digest"] and len(v.seal_digest) == 64
    assert pdf == tmp_path / "000001-report.pdf" and png == tmp_path / "000001-freeze-curve.png"
    assert pdf_pages(pdf) == 3
    assert is_png(png)
    assert str(v) == PASS


def test_report_goes_beside_the_record_by_default(vial_run):
    pdf, png, v = make_report(vial_run)
    assert pdf.parent == vial_run.parent and png.parent == vial_run.parent
    assert pdf.exists() and png.exists()
    assert v.result == PASS, v.reasons     # the vial profile's own limits


def test_figures_follow_their_definitions(bag_run):
    run = read_run(bag_run)
    a = analyse(run)
    # Nucleation: the controller's event, temperature as recorded.
    (ev,) = [e for e in run.events if e["event"] == "nucleation"]
    assert a["nucleation"]["t_s"] == ev["t_s"] and a["nucleation"]["c"] == float(ev["detail"])
    assert a["nucleation"]["min_before_c"] <= a["nucleation"]["c"]
    # Sample rate: the program is -1 °C/min on the sample probe through the band.
    sr = a["sample_rate"]
    assert sr["complete"] and 0.9 < sr["rate"] < 1.1 and sr["t0"] > ev["t_s"]
    assert a["programmed_rates"] == [1]
    # Chamber deviation: small outside the excluded windows, and never in compensation.
    dev = a["chamber_dev"]
    assert 0 < dev["max_abs"] < 2 and dev["n"] > 500
    comp = [s["t_s"] for s in run.samples if s["comp"]]
    assert not comp[0] <= dev["t_s"] <= comp[-1] + 120
    # End temperature: the last sample reading, the product at stop.
    assert a["end_sample"] == (run.samples[-1]["sample_c"], run.samples[-1]["t_s"])
    assert a["start_iso"] == "2027-01-01T00:00:00Z" and a["end_iso"] == run.seal["rtc"]
    assert a["actions"][0]["who"] == "ann" and a["actions"][0]["event"] == "start"


def test_one_rate_band_for_report_validator_and_benchmark():
    assert tuple(RATE_BAND_C) == tuple(acceptance.RATE_BAND_C) == tuple(metrics.RATE_BAND_C)


def test_sample_rate_is_a_least_squares_fit_of_the_last_pass():
    def s(t, v):
        return {"t_s": t, "sample_c": v, "sample_fault": False}
    # Supercools through -10, nucleates, warms back to -4, then cools at 2 °C/min.
    samples = [s(t, 4 - t / 60) for t in range(0, 1081, 60)]          # to -14
    samples += [s(1100, -4.0)] + [s(1100 + k * 30, -4 - k) for k in range(1, 60)]
    r = sample_rate(samples, nucleation_s=1090)
    assert r["complete"] and abs(r["rate"] - 2.0) < 1e-9
    assert r["t0"] > 1100 and r["n"] == 31                            # -10 .. -40 inclusive
    partial = sample_rate(samples[:-25], nucleation_s=1090)
    assert not partial["complete"] and "did not reach -40" in partial["why"]
    assert "already below" in sample_rate([s(0, -50), s(60, -60)])["why"]


# ----------------------------------------------------- REVIEW and why


def test_tightened_deviation_limit_asks_for_review(bag_run, tmp_path):
    run = read_run(bag_run)
    path = replay(run, tmp_path, profile=with_acceptance(max_chamber_dev_c=0.01))
    v = verdict_of(path)
    reason = only_reason(v, "max chamber deviation: ")
    assert "above the 0.01 °C limit" in reason
    assert [c[3] for c in v.checks] == [REVIEW, "pass", "pass", "pass"]


def test_rate_band_and_nucleation_band(bag_run, tmp_path):
    run = read_run(bag_run)
    v = verdict_of(replay(run, tmp_path / "a", profile=with_acceptance(sample_rate_c_per_min=[1.5, 2])))
    assert "outside the accepted 1.5–2 °C/min" in only_reason(v, "sample cooling rate -10..-40 °C: ")
    v = verdict_of(replay(run, tmp_path / "b", profile=with_acceptance(nucleation_c=[-12, -2])))
    assert "colder than -12 °C" in only_reason(v, "nucleation temperature: ")
    v = verdict_of(replay(run, tmp_path / "c", profile=with_acceptance(nucleation_c=[-30, -16])))
    assert "warmer than -16 °C" in only_reason(v, "nucleation temperature: ")


def test_no_nucleation_recorded_cannot_be_judged(bag_run, tmp_path):
    run = read_run(bag_run)
    v = verdict_of(replay(run, tmp_path, drop_events=("nucleation",)))
    assert "no nucleation was recorded" in only_reason(v, "nucleation temperature: cannot be assessed")


def test_product_taken_out_too_warm(bag_run, tmp_path):
    # As the demo does: stopped 2 minutes after the end step, the bag is near -70 °C.
    run = read_run(bag_run)
    end = [e["t_s"] for e in run.events if e["event"] == "end"][0]
    path = replay(run, tmp_path, until_s=end + 120, drop_events=("stop",))
    reason = only_reason(verdict_of(path), "end sample temperature: ")
    assert "warmer than the -80 °C" in reason


def test_tampered_record_is_never_passed(bag_run, tmp_path):
    data = bytearray(bag_run.read_bytes())
    run = read_run(bag_run)
    # A sample in the middle of the run, one byte of its chamber temperature changed.
    s = run.samples[400]
    start = data.index(struct.pack("<BBI", fmt.TAG_SAMPLE, s["step"] - 1, int(s["t_s"] * 1000)))
    data[start + 6] ^= 0x01
    bad = tmp_path / "000001.run"
    bad.write_bytes(bytes(data))
    pdf, png, v = make_report(bad, tmp_path)
    assert v.result == REVIEW
    assert v.reasons[0].startswith("record does not verify: "), v.reasons
    assert "at byte %d (record" % start in v.reasons[0] and "bad CRC" in v.reasons[0]
    assert pdf_pages(pdf) >= 3 and is_png(png)


def test_unsealed_record(bag_run, tmp_path):
    path = replay(read_run(bag_run), tmp_path, seal=None)
    run = read_run(path)
    assert run.seal is None
    v = verdict_of(path)
    assert v.reasons[0].startswith("record not sealed: the record ends without a seal")
    assert v.seal_digest is None
    pdf, png, _ = make_report(path, tmp_path / "out")
    assert pdf_pages(pdf) == 3 and is_png(png)


def test_interrupted_and_stopped_seals(bag_run, tmp_path):
    run = read_run(bag_run)
    v = verdict_of(replay(run, tmp_path / "i", seal=fmt.SEAL_INTERRUPTED))
    assert "interrupted" in only_reason(v, "seal status 'interrupted'")
    v = verdict_of(replay(run, tmp_path / "s", seal=fmt.SEAL_STOPPED))
    only_reason(v, "seal status 'stopped': the run was stopped before its end step")


def test_profile_without_acceptance_limits_asks_for_review(bag_run, tmp_path):
    p = shipped("hpc_bag")
    del p["acceptance"]
    v = verdict_of(replay(read_run(bag_run), tmp_path, profile=p))
    only_reason(v, "the profile declares no acceptance limits")
    assert [c[2:] for c in v.checks] == [("not declared", "—")] * 4


def test_empty_or_invalid_acceptance_is_not_a_pass(bag_run, tmp_path):
    run = read_run(bag_run)
    p = shipped("hpc_bag")
    p["acceptance"] = {}
    only_reason(verdict_of(replay(run, tmp_path / "e", profile=p)),
                "the profile declares no acceptance limits")
    # A profile whose limits the validator refuses never ran on a controller; if such a
    # record turns up, the refused limit is shown as invalid, the others are still judged.
    p = with_acceptance(sample_rate_c_per_min=[2, 0.5])
    v = verdict_of(replay(run, tmp_path / "i", profile=p))
    assert v.reasons == ("the recorded profile does not validate: acceptance.sample_rate_c_per_min: "
                         "low 2 must be below high 0.5",)
    assert [c[2:] for c in v.checks][1] == ("invalid in the profile", REVIEW)
    assert [c[3] for c in v.checks] == ["pass", REVIEW, "pass", "pass"]


def test_alarms_and_operator_actions_are_listed_and_reviewed(bag_run, tmp_path):
    run = read_run(bag_run)
    path = replay(run, tmp_path, events=[
        (2500.0, "alarm_raised", "controller", "chamber deviation 3.2 °C"),
        (2530.0, "alarm_acked", "bob", "door checked — OK"),
        (2600.0, "alarm_cleared", "controller", ""),
        (3000.0, "hold", "bob", ""), (3060.0, "continue", "bob", ""),
    ])
    a = analyse(read_run(path))
    assert [(e["event"], e["who"]) for e in a["alarms"]] == [
        ("alarm_raised", "controller"), ("alarm_acked", "bob"), ("alarm_cleared", "controller")]
    assert [(e["event"], e["who"]) for e in a["actions"] if e["who"] == "bob"] == [
        ("alarm_acked", "bob"), ("hold", "bob"), ("continue", "bob")]
    assert a["verdict"].reasons == (
        "alarm raised at 0:41:40 by controller: chamber deviation 3.2 °C",
        "run held at 0:50:00 by bob")


def test_profile_hash_mismatch(bag_run, tmp_path):
    path = replay(read_run(bag_run), tmp_path, profile_sha256="0" * 64)
    a = analyse(read_run(path))
    assert not a["sha_ok"]
    assert a["verdict"].reasons[0].startswith("record does not verify: ")
    assert "does not match its recorded SHA-256" in a["verdict"].reasons[0]


def test_awkward_text_and_long_event_lists_still_render(bag_run, tmp_path):
    # "$" would start mathtext; a long detail must wrap; 60 events need a second event page.
    run = read_run(bag_run)
    notes = [(60.0 + k, "note", "operator-with-a-very-long-identifier", "$x$ " + "word " * 20)
             for k in range(60)]
    path = replay(run, tmp_path, events=notes, batch="B$1_%^{x}", operator="$ann$")
    pdf, png, v = make_report(path, tmp_path)
    assert v.result == PASS, v.reasons        # notes are listed, not a reason for review
    assert pdf_pages(pdf) > 3 and is_png(png)


def test_not_a_record_at_all(tmp_path):
    junk = tmp_path / "000009.run"
    junk.write_bytes(b"this is not a run record")
    pdf, png, v = make_report(junk, tmp_path)
    assert v.result == REVIEW and v.seal_digest is None
    assert any("no readable header" in r for r in v.reasons), v.reasons
    assert pdf_pages(pdf) == 3 and is_png(png)


@pytest.fixture(scope="module")
def bag_bytes(bag_run):
    return bag_run.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_damage_gives_a_verdict_never_an_exception(bag_bytes, data):
    blob = bytearray(bag_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        what = data.draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        at = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if what == "flip" and blob:
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        elif what == "cut":
            del blob[at:]
        elif what == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=40))
        elif blob:
            blob[at:at + 20] = bytes(len(blob[at:at + 20]))
    a = analyse(read_run(bytes(blob)))
    v = a["verdict"]
    assert v.result in (PASS, REVIEW)
    if bytes(blob) != bag_bytes and not read_run(bytes(blob)).verified:
        assert v.result == REVIEW and v.reasons[0].startswith("record ")
