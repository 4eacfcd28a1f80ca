"""The profile engine against scripted probe readings (CPython)."""
from crf import config
from crf.control.controller import MODE_CHAMBER, MODE_SAMPLE
from crf.profile.engine import Engine, END, HELD, RUNNING, STOPPED

CFG = config.check({})


def prof(*steps):
    return {"format": 1, "name": "t", "description": "t", "steps": list(steps)}


def run(e, seconds, chamber=4.0, sample=4.0, chamber_sp=None):
    for _ in range(seconds):
        e.update(1000, chamber, sample, e.sp_chamber if chamber_sp is None else chamber_sp, CFG)


def test_ramp_moves_setpoint_at_programmed_rate_then_next_step():
    e = Engine()
    e.start(prof({"kind": "hold", "target_c": 4, "duration_s": 10},
                 {"kind": "ramp", "rate_c_per_min": 2, "target_c": -6},
                 {"kind": "end"}), 4.0, 4.0)
    run(e, 10)
    assert e.kind == "ramp" and e.sp_chamber == 4.0
    run(e, 60)
    assert abs(e.sp_chamber - 2.0) < 1e-6
    assert e.rate_chamber_c_s() < 0
    run(e, 300)
    assert e.state == END and e.sp_chamber == -6


def test_sample_ramp_starts_from_sample_and_uses_cascade_mode():
    e = Engine()
    e.start(prof({"kind": "hold", "target_c": 4, "duration_s": 1},
                 {"kind": "ramp", "rate_c_per_min": 1, "target_c": -4, "probe": "sample"},
                 {"kind": "end"}), 4.0, 5.0)
    run(e, 1, sample=5.0)
    assert e.mode == MODE_SAMPLE
    assert e.sp_sample == 5.0                      # from the sample, not the chamber
    run(e, 60, sample=5.0)
    assert abs(e.sp_sample - 4.0) < 1e-6


def test_hold_until_operator_waits_for_continue():
    e = Engine()
    e.start(prof({"kind": "hold", "target_c": 4, "until": "operator"}, {"kind": "end"}), 4.0, 4.0)
    run(e, 3600)
    assert e.kind == "hold"
    assert e.resume()
    run(e, 2)
    assert e.state == END


def test_operator_hold_freezes_setpoint_and_time():
    e = Engine()
    e.start(prof({"kind": "ramp", "rate_c_per_min": 1, "target_c": -20}, {"kind": "end"}), 4.0, 4.0)
    run(e, 60)
    assert e.hold() and e.state == HELD
    sp = e.sp_chamber
    t = e.elapsed_ms
    run(e, 600)
    assert e.sp_chamber == sp and e.elapsed_ms == t
    assert e.resume() and e.state == RUNNING


def test_compensation_on_exotherm_then_resume_from_sample():
    e = Engine()
    e.start(prof({"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
                  "compensate": {"chamber_c": -50, "max_s": 600}},
                 {"kind": "end"}), -5.0, -5.0)
    s = -5.0
    for _ in range(300):                        # supercooling: sample keeps falling
        s -= 1.0 / 60
        e.update(1000, s - 5, s, -15.0, CFG)
    assert not e.comp
    e.update(1000, -15.0, s + 2.0, -15.0, CFG)  # nucleation exotherm
    assert e.comp and e.mode == MODE_CHAMBER and e.sp_chamber == -15.0
    for _ in range(60):                         # chamber driven down at comp_rate_c_min
        e.update(1000, -20.0, s + 2.0, e.sp_chamber, CFG)
    assert abs(e.sp_chamber - (-15.0 - CFG["comp_rate_c_min"])) < 1e-6
    assert e.rate_chamber_c_s() < 0
    for _ in range(600):
        e.update(1000, -20.0, s + 2.0 + 1e-3, e.sp_chamber, CFG)
        if e.sp_chamber == -50:
            break
    assert e.sp_chamber == -50 and e.rate_chamber_c_s() == 0.0
    assert any(ev[1] == "nucleation" for ev in e.events)
    peak = s + 2.0
    t = 0
    while e.comp and t < 700:                   # latent heat out: sample falls again
        peak -= 0.05
        e.update(1000, -50.0, peak, -50.0, CFG)
        t += 1
    assert not e.comp and e.mode == MODE_SAMPLE
    assert abs(e.sp_sample - peak) < 1e-9       # ramp resumes from the sample
    assert t < 600


def test_compensation_ends_at_max_s_without_cooling():
    e = Engine()
    e.start(prof({"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
                  "compensate": {"chamber_c": -50, "max_s": 120}},
                 {"kind": "end"}), -8.0, -8.0)
    run(e, 5, chamber=-15, sample=-8.0)
    e.update(1000, -15.0, -4.0, -15.0, CFG)
    assert e.comp
    run(e, 121, chamber=-50, sample=-4.0)
    assert not e.comp


def test_wait_timeout_advances_with_event():
    e = Engine()
    e.start(prof({"kind": "hold", "target_c": -10, "duration_s": 1},
                 {"kind": "wait", "below_c": -8, "timeout_s": 30},
                 {"kind": "end"}), -10.0, 0.0)
    run(e, 1, sample=0.0)
    assert e.kind == "wait"
    run(e, 31, sample=0.0)
    assert e.state == END
    assert any(ev[1] == "timeout" for ev in e.events)


def test_wait_crossing_advances():
    e = Engine()
    e.start(prof({"kind": "wait", "below_c": -8, "timeout_s": 3000, "target_c": -20},
                 {"kind": "end"}), -10.0, 0.0)
    run(e, 5, sample=0.0)
    assert e.kind == "wait" and e.sp_chamber == -20
    run(e, 1, sample=-8.5)
    assert e.state == END


def test_stop_turns_control_off():
    e = Engine()
    e.start(prof({"kind": "hold", "target_c": 4, "duration_s": 100}, {"kind": "end"}), 4.0, 4.0)
    assert e.stop() and e.state == STOPPED
    run(e, 10)
    assert e.state == STOPPED and e.mode == 0
