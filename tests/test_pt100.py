"""Callendar-Van Dusen (IEC 60751) forward and inverse for PT100 / PT1000."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crf.drivers import pt100


@pytest.mark.parametrize("t, ohms", [
    (-200.0, 18.52), (-196.0, 20.25), (-100.0, 60.26), (-50.0, 80.31),
    (0.0, 100.00), (25.0, 109.73), (50.0, 119.40), (100.0, 138.51),
])
def test_forward_matches_iec_60751_table(t, ohms):
    assert pt100.resistance(t) == pytest.approx(ohms, abs=0.005)


def test_pt1000_scales_with_r0():
    assert pt100.resistance(-196.0, 1000.0) == pytest.approx(10 * pt100.resistance(-196.0))
    assert pt100.temperature(10 * pt100.resistance(-150.0), 1000.0) == pytest.approx(-150.0, abs=1e-6)


def test_c_term_only_below_zero():
    # above 0 C the forward equation is the plain quadratic
    t = 40.0
    assert pt100.resistance(t) == pytest.approx(100 * (1 + pt100.A * t + pt100.B * t * t), rel=1e-15)
    # below, the C term lowers R by ~1.0 ohm at -200 C (~2.3 C)
    quad = 100 * (1 + pt100.A * -200 + pt100.B * 40000)
    assert quad - pt100.resistance(-200.0) == pytest.approx(1.0039, abs=0.001)


@given(st.floats(min_value=-200.0, max_value=850.0))
def test_round_trip_double(t):
    assert pt100.temperature(pt100.resistance(t)) == pytest.approx(t, abs=1e-6)


def test_round_trip_across_freezer_range_under_0_01():
    for i in range(-2000, 501):
        t = i * 0.1
        assert abs(pt100.temperature(pt100.resistance(t)) - t) < 0.01


def test_monotonic_and_continuous_at_zero():
    assert pt100.temperature(100.0) == 0.0
    below = pt100.temperature(99.9999)
    above = pt100.temperature(100.0001)
    assert below < 0.0 < above
    assert above - below == pytest.approx(0.0002 / 0.39083, rel=1e-3)
    prev = -1e9
    for i in range(1500, 14000, 7):
        t = pt100.temperature(i / 100.0)
        assert t > prev
        prev = t


def test_ln2_and_slope():
    # sensors.md: ~20.25 ohm and ~0.43 ohm/K at -196 C
    assert pt100.temperature(20.25) == pytest.approx(-196.0, abs=0.02)
    slope = (pt100.resistance(-195.5) - pt100.resistance(-196.5)) / 1.0
    assert slope == pytest.approx(0.43, abs=0.01)


def test_degenerate_inputs_do_not_raise():
    assert pt100.temperature(0.0) < -200.0  # shorted RTD: far below range, finite
    assert math.isfinite(pt100.temperature(5000.0))


def test_float32_arithmetic_stays_within_0_03(pt100_float32):
    """The rp2 port computes in 32-bit floats: run the same code on
    numpy.float32 (constants, input and sqrt rounded to float32)."""
    f32 = pt100_float32
    worst = 0.0
    for i in range(-800, 201):
        t = i * 0.25
        r = f32(pt100.resistance(t))
        got = pt100.temperature(r, f32(100.0))
        assert isinstance(got, np.float32)
        worst = max(worst, abs(float(got) - t))
    assert worst < 0.03
