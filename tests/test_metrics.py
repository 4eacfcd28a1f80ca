"""Freeze-run metrics on synthetic traces whose answers are known by construction."""

import math

import pytest

from crf_host import metrics


def row(t, **kw):
    r = {"t_s": float(t), "state": "running", "step": 1.0, "kind": "ramp", "probe": "chamber",
         "rate_c_per_min": 1.0, "sp_chamber_c": 0.0, "sp_sample_c": None, "chamber_c": 0.0,
         "sample_c": 0.0, "chamber_true_c": 0.0, "sample_true_c": 0.0, "valve_duty": 0.0,
         "heater_duty": 0.0, "ln2_kg": 0.0, "valve_cycles": 0.0, "comp": 0.0}
    r.update(kw)
    return r


def test_chamber_rms_and_max_only_over_ramp_rows():
    rows = [row(t, chamber_c=0.5 if t % 2 else -0.5) for t in range(100)]
    # A hold with a large error must not count: only ramps are judged.
    rows += [row(100 + t, kind="hold", chamber_c=9.0) for t in range(50)]
    m = metrics.compute(rows, {})
    assert m["chamber_rms_c"] == pytest.approx(0.5)
    assert m["chamber_max_abs_c"] == pytest.approx(0.5)


def test_compensation_excursion_excluded_for_180_s_from_its_start():
    rows = []
    for t in range(1000):
        comp = 1.0 if 300 <= t < 360 else 0.0
        # Big deliberate error from the excursion start through 479 s.
        err = 20.0 if 300 <= t < 480 else 0.2
        rows.append(row(t, comp=comp, chamber_c=err))
    m = metrics.compute(rows, {})
    assert m["chamber_rms_c"] == pytest.approx(0.2)
    assert m["chamber_max_abs_c"] == pytest.approx(0.2)


def test_error_at_180_s_after_excursion_start_counts_again():
    rows = [row(t, comp=1.0 if t == 10 else 0.0, chamber_c=3.0 if t == 190 else 0.0)
            for t in range(400)]
    m = metrics.compute(rows, {})
    assert m["chamber_max_abs_c"] == pytest.approx(3.0)


def test_each_excursion_opens_its_own_window():
    rows = [row(t, comp=1.0 if t in (10, 11, 500) else 0.0,
                chamber_c=7.0 if t in (100, 600) else 0.1) for t in range(1000)]
    assert metrics.compute(rows, {})["chamber_max_abs_c"] == pytest.approx(0.1)


def test_probe_faults_are_skipped():
    rows = [row(t, chamber_c=None if t % 3 == 0 else 1.0) for t in range(30)]
    assert metrics.compute(rows, {})["chamber_rms_c"] == pytest.approx(1.0)


def sample_ramp(rate_true, t_end=3600, start=0.0, programmed=1.0):
    """Sample-probe cooling ramp whose sample falls at rate_true C/min."""
    return [row(t, probe="sample", rate_c_per_min=programmed, sp_sample_c=start - programmed * t / 60,
                sample_c=start - rate_true * t / 60) for t in range(t_end)]


def test_sample_rate_error_is_mean_abs_difference_in_band():
    m = metrics.compute(sample_ramp(1.1), {})
    assert m["sample_rate_error_c_per_min"] == pytest.approx(0.1)
    # On rate: zero error.
    assert metrics.compute(sample_ramp(1.0), {})["sample_rate_error_c_per_min"] == pytest.approx(0.0)


def test_sample_rate_only_counts_minutes_between_minus_10_and_minus_40():
    # 2 C/min above -10 C, exactly 1 C/min below: only the in-band minutes count.
    rows = []
    for t in range(4000):
        s = -2.0 * t / 60 if t <= 300 else -10.0 - (t - 300) / 60
        rows.append(row(t, probe="sample", sp_sample_c=-t / 60, sample_c=s))
    errs = metrics.sample_rate_errors(rows)
    assert errs and max(errs) == pytest.approx(0.0, abs=1e-9)
    # 300 s to -40 C at 1 C/min is 30 whole in-band minutes.
    assert len(errs) == 30


def test_sample_rate_none_without_sample_ramps():
    rows = [row(t, sample_c=-20 - t / 60) for t in range(600)]
    assert metrics.compute(rows, {})["sample_rate_error_c_per_min"] is None


def test_warming_sample_ramp_has_positive_programmed_rate():
    rows = [row(t, probe="sample", sp_sample_c=-40 + t / 60, sample_c=-40 + t / 60)
            for t in range(1200)]
    assert metrics.compute(rows, {})["sample_rate_error_c_per_min"] == pytest.approx(0.0)


def test_plateau_from_nucleation_to_5_below_tm():
    tm = -4.0
    # Supercooled to -12 C, nucleates at 100 s, warms back to Tm within 30 s,
    # sits there for 20 min from nucleation, then cools on.
    rows = [row(t, sample_true_c=(-12.0 if t < 100 else -12.0 + 0.3 * (t - 100) if t < 130
                                  else tm if t < 100 + 20 * 60
                                  else tm - 5.0 - (t - 1300) / 60)) for t in range(3000)]
    m = metrics.compute(rows, {"nucleation_s": 100.0, "tm_c": tm})
    assert m["plateau_min"] == pytest.approx(20.0)


def test_plateau_zero_when_sample_never_warms_back():
    rows = [row(t, sample_true_c=-20.0 - t / 60) for t in range(600)]
    assert metrics.compute(rows, {"nucleation_s": 60.0, "tm_c": -4.0})["plateau_min"] == 0.0


def test_plateau_none_when_sample_never_leaves_it():
    rows = [row(t, sample_true_c=-12.0 if t < 60 else -4.0) for t in range(600)]
    assert metrics.compute(rows, {"nucleation_s": 60.0, "tm_c": -4.0})["plateau_min"] is None


def test_plateau_none_without_nucleation():
    rows = [row(t) for t in range(10)]
    assert metrics.compute(rows, {"nucleation_s": None, "tm_c": -4.0})["plateau_min"] is None


def test_summary_fields_pass_through():
    rows = [row(0, ln2_kg=0.1, valve_cycles=3.0)]
    s = {"ln2_kg": 4.2, "valve_cycles": 310, "heap_peak_bytes": 90000, "wall_s": 12.0}
    m = metrics.compute(rows, s)
    assert (m["ln2_kg"], m["valve_cycles"], m["heap_peak_bytes"], m["sim_wall_s"]) == \
        (4.2, 310, 90000, 12.0)
    assert metrics.compute(rows, s, wall_s=15.5)["sim_wall_s"] == 15.5
    # The baseline has no heap to report.
    assert metrics.compute(rows, {})["heap_peak_bytes"] is None
    assert math.isclose(metrics.compute(rows, {})["ln2_kg"], 0.1)


def test_smoke_firmware_run_yields_metrics(tmp_path):
    # The whole path: virtual freezer on the unix port -> trace -> metrics.
    from crf_host import bench

    m = bench.smoke(tmp_path)
    assert m["trace_rows"] > 600
    assert m["chamber_rms_c"] is not None and m["chamber_rms_c"] < 2.0
    assert m["valve_cycles"] > 0 and m["ln2_kg"] > 0
    assert m["sample_rate_error_c_per_min"] is None  # the self-test has no sample ramps
