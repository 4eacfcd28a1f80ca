# Control building blocks on the MicroPython unix port (also collected by pytest).
from crf.control.pid import PID
from crf.control.valve import ValveDriver
from crf.control.split import split_range
from crf.clock import ticks_add, ticks_diff, TICKS_PERIOD


def test_ticks_diff_wraps():
    a = TICKS_PERIOD - 50
    b = ticks_add(a, 120)
    assert b == 70
    assert ticks_diff(b, a) == 120
    assert ticks_diff(a, b) == -120


def test_pid_integral_bounded_by_output_limits():
    pid = PID(1.0, 1.0, out_min=-10.0, out_max=10.0)
    for _ in range(1000):
        pid.update(100.0, 0.0, 1000)
    assert pid.output == 10.0
    assert pid.integral <= 10.0
    # Once the error reverses the output leaves saturation at once (no windup).
    u = pid.update(-5.0, 0.0, 1000)
    assert u < 10.0


def test_pid_derivative_on_measurement_no_setpoint_kick():
    pid = PID(0.0, 0.0, kd=10.0, d_filter_s=0.0, out_min=-100.0, out_max=100.0)
    pid.update(0.0, 0.0, 1000)
    assert pid.update(50.0, 0.0, 1000) == 0.0       # setpoint step: no kick
    assert pid.update(50.0, 1.0, 1000) == -10.0     # measurement moves: D acts


def test_pid_track_is_bumpless():
    pid = PID(2.0, 0.5, out_min=-100.0, out_max=100.0)
    pid.track(-30.0, 5.0, 6.0, ff=-10.0)
    u = pid.update(5.0, 6.0, 0, ff=-10.0)
    assert abs(u - (-30.0)) < 1e-9


def test_valve_average_duty_and_min_times():
    v = ValveDriver(4000, 200, 300)
    t = TICKS_PERIOD - 5000      # crosses the tick wrap
    on_ms = 0
    run = 0
    shortest_on = 10 ** 9
    shortest_off = 10 ** 9
    prev = v.update(t, 0.07)
    for _ in range(6000):        # 10 minutes at 100 ms
        t = ticks_add(t, 100)
        s = v.update(t, 0.07)
        if s:
            on_ms += 100
        if s != prev:
            if prev:
                shortest_on = min(shortest_on, run)
            else:
                shortest_off = min(shortest_off, run)
            run = 0
        run += 100
        prev = s
    duty = on_ms / 600000
    assert abs(duty - 0.07) < 0.005, duty
    assert shortest_on >= 200
    assert shortest_off >= 300
    assert v.cycles > 100          # short, spread pulses, not one long one


def test_valve_full_and_zero_duty():
    v = ValveDriver(4000, 200, 200)
    t = 0
    for _ in range(50):
        t += 100
        assert v.update(t, 0.0) is False
    for _ in range(50):
        t += 100
        last = v.update(t, 1.0)
    assert last is True
    assert v.cycles == 1


def test_split_range_never_both():
    u = -1.0
    while u <= 1.0:
        ln2, heat = split_range(u, 0.02)
        assert ln2 == 0.0 or heat == 0.0
        assert 0.0 <= ln2 <= 1.0 and 0.0 <= heat <= 1.0
        u += 0.01
    assert split_range(0.01, 0.02) == (0.0, 0.0)
    assert split_range(-1.0, 0.02) == (1.0, 0.0)
    assert split_range(1.0, 0.02) == (0.0, 1.0)
