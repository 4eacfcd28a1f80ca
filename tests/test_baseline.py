"""The textbook baseline: reproducible tuning, chamber tracking, a trace the metrics can read."""

import math

import pytest

from crf_host import baseline, metrics
from crf_host.paths import PLANTS_DIR
from crf_host.runner import TRACE_COLUMNS, read_trace, write_trace
from crf_sim.plantfile import load_plant

BAG = PLANTS_DIR / "bag_50ml.json"
# Gains of the order the full tuning picks for the bench-top chamber; fixed here
# so these tests neither tune nor touch the gains cache.
GAINS = {"kp": 0.06, "ki": 0.008, "kd": 0.0}

RAMP_PROFILE = {
    "format": 1, "name": "chamber_ramp", "description": "test",
    "steps": [
        {"kind": "hold", "target_c": 4, "duration_s": 300},
        {"kind": "ramp", "rate_c_per_min": 1, "target_c": -20},
        {"kind": "end"},
    ],
}


@pytest.fixture(scope="module")
def spec():
    return load_plant(str(BAG))


def test_rule_gains_follow_the_textbook_formulas():
    g = baseline.rule_gains(ku=2.0, pu=10.0)
    zn, tl = g["ziegler-nichols"], g["tyreus-luyben"]
    assert zn["kp"] == pytest.approx(1.2)
    assert zn["kp"] / zn["ki"] == pytest.approx(5.0)       # Ti = Pu/2
    assert zn["kd"] / zn["kp"] == pytest.approx(1.25)      # Td = Pu/8
    assert tl["kp"] == pytest.approx(2.0 / 2.2)
    assert tl["kp"] / tl["ki"] == pytest.approx(22.0)      # Ti = 2.2 Pu
    assert tl["kd"] / tl["kp"] == pytest.approx(10.0 / 6.3)


def test_relay_test_finds_a_limit_cycle(spec):
    ku, pu, a = baseline.relay_test(spec)
    assert ku > 0 and a > baseline.RELAY_HYSTERESIS_C
    # The chamber gas answers the valve within seconds, far below the run's minutes.
    assert 2.0 < pu < 120.0


def test_tuning_is_reproducible(spec):
    kw = dict(kp_factors=(0.15, 0.5), ti_factors=(1.0, 2.0), td_factors=(1.0,),
              ramp_start_c=0.0, ramp_end_c=-15.0)
    first = baseline.tune_baseline(spec, **kw)
    again = baseline.tune_baseline(spec, **kw)
    assert first == again
    assert first["rule"] in ("ziegler-nichols", "tyreus-luyben")
    assert math.isfinite(first["tuning_rms_c"])


def test_gains_cache_is_keyed_by_plant_and_reused(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(baseline, "tune_baseline",
                        lambda spec: calls.append(1) or dict(GAINS, tuning_version=baseline.TUNING_VERSION))
    cache = tmp_path / "gains.json"
    assert baseline.baseline_gains(BAG, cache=cache)["kp"] == GAINS["kp"]
    baseline.baseline_gains(BAG, cache=cache)
    assert len(calls) == 1
    assert "bag_50ml:" in cache.read_text()


def test_baseline_follows_a_chamber_ramp():
    rows, summary, _ = baseline.run_baseline(BAG, RAMP_PROFILE, gains=GAINS)
    m = metrics.compute(rows, summary)
    assert m["chamber_rms_c"] < 0.5
    assert m["chamber_max_abs_c"] < 3.0
    # Ran the ramp to its target and the 120 s tail after the end step.
    assert summary["run_end_s"] == pytest.approx(300 + 24 * 60, abs=3)
    assert rows[-1]["t_s"] >= summary["run_end_s"] + 119
    assert rows[-1]["sp_chamber_c"] == -20


def test_baseline_trace_has_the_firmware_columns(tmp_path):
    rows, summary, _ = baseline.run_baseline(BAG, RAMP_PROFILE, gains=GAINS)
    assert all(set(r) == set(TRACE_COLUMNS) for r in rows)
    path = tmp_path / "trace.csv"
    write_trace(path, rows)
    back = read_trace(path)
    assert list(back[0]) == list(TRACE_COLUMNS)
    assert back[-1]["ln2_kg"] == pytest.approx(rows[-1]["ln2_kg"])
    for key in ("ln2_kg", "valve_cycles", "nucleation_s", "nucleation_c", "tm_c", "run_end_s"):
        assert key in summary
    assert summary["ln2_kg"] > 0 and summary["valve_cycles"] > 0


def test_schedule_turns_sample_steps_into_chamber_setpoints():
    profile = {"steps": [
        {"kind": "hold", "target_c": 4, "duration_s": 10},
        {"kind": "ramp", "rate_c_per_min": 6, "target_c": 3, "probe": "sample",
         "compensate": {"chamber_c": -50}},
        {"kind": "jump", "target_c": -20, "until": "nucleation", "timeout_s": 600},
        {"kind": "wait", "probe": "sample", "below_c": -5, "timeout_s": 900, "target_c": -10},
        {"kind": "end", "target_c": -10},
    ]}
    s = baseline.ChamberSchedule(profile, start_c=20.0)
    assert s.update(0, 20.0) == 4
    # The sample ramp runs on the chamber at the same rate (0.1 C/s).
    sps = [s.update(t, 4.0) for t in range(10, 21)]
    assert sps[1] == pytest.approx(3.9) and sps[5] == pytest.approx(3.5)
    assert s.info()[:2] == ("ramp", "sample")
    # Ramp done: the nucleation jump is skipped (no sample probe), the wait
    # holds its target until the CHAMBER probe crosses the threshold.
    assert s.update(21, 4.0) == -10
    assert s.info()[0] == "wait"
    assert s.update(30, -4.0) == -10 and s.info()[0] == "wait"
    s.update(31, -5.0)
    assert s.info()[0] == "end" and s.end_s == 31
