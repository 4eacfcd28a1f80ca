# PT100 inverse on the MicroPython unix port (double floats), plus the same
# code run with every operation rounded to 32-bit float as on the rp2 port.

from crf.drivers import pt100
from f32 import cvd as _cvd, worst_f32


def test_forward_matches_reference():
    for i in range(-200, 51):
        assert abs(pt100.resistance(i) - _cvd(i)) < 1e-9


def test_round_trip_double():
    worst = 0.0
    for i in range(-800, 201):
        t = i * 0.25
        worst = max(worst, abs(pt100.temperature(_cvd(t)) - t))
    assert worst < 0.001, worst


def test_ln2_code_1659():
    t = pt100.temperature(1659 * 400.0 / 32768)
    assert abs(t + 196.0) < 0.03, t


def test_float32_emulated_within_0_03():
    worst = worst_f32(pt100.temperature, [i * 0.25 for i in range(-800, 201)])
    assert worst < 0.03, worst
    assert pt100.A == 3.9083e-3  # restored
