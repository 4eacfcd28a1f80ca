"""A short self-test run, start to sealed record, as an engineer would prove
a newly built controller: identify, set the clock, push a short profile
(hold at the chamber's present temperature for 60 s: the freezer barely
works, and no LN2 is needed), run it to its end, stop, fetch the record over
the link and verify it (digest chain, seal, header: firmware, board,
measurement chain with its correction, profile text and hash)."""

import json
import os
import time

import pytest

from crf_host import records
from crf_host.link import DeviceError
from hil import wait_for

VF_SPEED = "200"
HOLD_S = 60


def _profile(chamber_c):
    target = max(-40.0, min(40.0, round(chamber_c)))
    return json.dumps({
        "format": 1, "name": "hil_selftest",
        "description": "HIL: short self-test, hold at the present chamber temperature",
        "steps": [{"kind": "hold", "target_c": target, "duration_s": HOLD_S,
                   "note": "hold at %d C" % target},
                  {"kind": "end", "note": "self-test done"}]})


def test_short_self_test_run_is_recorded_and_verifies(engineer, target):
    c = engineer
    ident = c.identify()
    c.set_time()                                    # the host's clock: the record is dated
    st = wait_for("a chamber reading", lambda: (lambda s: s if s["chamber_c"] is not None
                                                 else None)(c.status()), 30)
    assert st["state"] in ("idle", "stopped")
    text = _profile(st["chamber_c"])
    assert c.validate_profile(text)
    c.push_profile("hil_selftest", text)
    assert c.pull_profile("hil_selftest") == text
    t0 = time.monotonic()
    run = c.run_start("hil_selftest", batch="HIL-selftest", operator="hil")
    real = os.environ.get("CRF_PORT")
    limit = HOLD_S * 3 + 120 if real else 60
    wait_for("the self-test profile's end", lambda: c.status()["state"] == "end", limit, 0.2)
    c.run_stop("hil")
    st = c.status()
    assert st["record"] == "closed" and st["run"] == run
    data = c.fetch_log(run)
    rec = records.read_run(data)
    assert rec.verified, [records.where(p) for p in rec.problems]
    assert rec.seal["status"] == "completed"
    h = rec.header
    assert (h["fw"], h["board"], h["serial"]) == (ident["fw"], ident["board"], ident["serial"])
    assert h["profile_text"] == text and h["batch"] == "HIL-selftest"
    assert isinstance(h["start_rtc_s"], int) and abs(h["start_rtc_s"] - time.time()) < 3600 * 24
    cal = h["calibration"]
    assert set(cal) >= {"chamber", "sample"} and "correction" in cal["chamber"]
    assert h["config"]["chamber_cal_ice_c"] == c.config_get()["config"]["chamber_cal_ice_c"]
    assert len(rec.samples) >= 3
    assert rec.samples[-1]["t_s"] >= HOLD_S - 5
    assert all(s["chamber_c"] is not None and not s["chamber_fault"] for s in rec.samples)
    names = [e["event"] for e in rec.events]
    assert "end" in names, names
    if not real:
        assert time.monotonic() - t0 < 60
    c.delete_profile("hil_selftest")


def test_probe_calibration_is_audited_and_shifts_the_reading(engineer):
    """Two-point calibration through the audited configuration: the readings
    entered for the ice point move what the controller reports by the same
    amount at 0 C (here: the present chamber reading, near room temperature,
    moves by about the offset), and nonsense is refused naming the key."""
    c = engineer
    cfg = c.config_get()["config"]
    assert (cfg["chamber_cal_ice_c"], cfg["chamber_cal_ln2_c"]) == (0.0, -195.8)
    before = wait_for("a chamber reading", lambda: c.status()["chamber_c"], 30)
    reply = c.config_set({"chamber_cal_ice_c": 2.0})
    try:
        assert reply["changed"] == {"chamber_cal_ice_c": [0.0, 2.0]}
        entry = [json.loads(x) for x in c.audit().decode().splitlines()][-1]
        assert entry["action"] == "config_set" and entry["changed"] == reply["changed"]
        # a probe that read +2.0 at the ice point reads 2 C too warm near 0 C
        # (the gain term adds ~1 % of the distance from 0 C)
        # (once a whole control period's mean is of calibrated readings;
        # the first mean after the change may still mix in older ones)
        def moved():
            v = c.status()["chamber_c"]
            return (v,) if v is not None and v - before < -1.0 else None
        real = os.environ.get("CRF_PORT")
        after = wait_for("the calibrated chamber reading", moved, 10.0 if real else 5.0, 0.1)[0]
        assert -3.5 < after - before < -1.0, (before, after)
        with pytest.raises(DeviceError) as e:
            c.config_set({"chamber_cal_ln2_c": -120.0})
        assert e.value.name == "bad_args" and "chamber_cal_ln2_c" in str(e.value)
    finally:
        c.config_set({"chamber_cal_ice_c": 0.0})
    assert c.config_get()["config"] == cfg
