"""rtd_celsius (crf.drivers.max31865) against the IEC 60751 Pt100 table.

Table: IEC 60751:2008 (EN 60751), Table 1, "Temperature/resistance
relationship for Pt100", every 10 C from -200 to +100 C, resistance printed
to 0.01 ohm.  The table is the standard's Callendar-Van Dusen equation
(A = 3.9083e-3, B = -5.775e-7, C = -4.183e-12 below 0 C; sensors.md)
rounded to 0.01 ohm, so:

1. the forward equation must reproduce every printed value to +-0.005 ohm
   (this proves the equation in the firmware is the standard's);
2. the conversion error of rtd_celsius at each table temperature
   (rtd_celsius of the standard's resistance minus the table temperature)
   must be <= 0.01 C, in double and in 32-bit float arithmetic (rp2);
3. converting the printed (rounded) resistance must give the table
   temperature within 0.01 C plus the printed value's own half-LSB
   (0.005 ohm / slope, up to 0.013 C near +100 C): the most that the
   printed table can be honoured.
"""

import numpy as np
import pytest

from crf.drivers import max31865, pt100
from crf.drivers.max31865 import rtd_celsius

# (t in C, R in ohm): IEC 60751:2008 Table 1, Pt100
IEC60751_PT100 = [
    (-200, 18.52), (-190, 22.83), (-180, 27.10), (-170, 31.34), (-160, 35.54),
    (-150, 39.72), (-140, 43.88), (-130, 48.00), (-120, 52.11), (-110, 56.19),
    (-100, 60.26), (-90, 64.30), (-80, 68.33), (-70, 72.33), (-60, 76.33),
    (-50, 80.31), (-40, 84.27), (-30, 88.22), (-20, 92.16), (-10, 96.09),
    (0, 100.00), (10, 103.90), (20, 107.79), (30, 111.67), (40, 115.54),
    (50, 119.40), (60, 123.24), (70, 127.08), (80, 130.90), (90, 134.71),
    (100, 138.51),
]
MAX_ERR_C = 0.01


def _cvd(t, r0=100.0, a=3.9083e-3, b=-5.775e-7, c=-4.183e-12):
    """The standard's equation, written out here independently of the firmware."""
    x = 1.0 + a * t + b * t * t
    if t < 0:
        x += c * (t - 100.0) * t ** 3
    return r0 * x


def test_table_covers_the_range_every_10_c():
    ts = [t for t, _ in IEC60751_PT100]
    assert ts == list(range(-200, 101, 10))


@pytest.mark.parametrize("t, ohms", IEC60751_PT100)
def test_equation_reproduces_the_printed_table(t, ohms):
    assert abs(pt100.resistance(t) - ohms) <= 0.005 + 1e-9
    assert abs(_cvd(t) - ohms) <= 0.005 + 1e-9


def test_c_term_is_used_below_zero():
    # without the C term the -200 C value would be 19.52 ohm, 2.3 C away
    assert abs(pt100.resistance(-200) - 18.52) < 0.005
    assert rtd_celsius(_cvd(-200.0, c=0.0)) > -198.0


def test_conversion_error_at_table_points_max_0_01():
    worst = max(abs(rtd_celsius(_cvd(t)) - t) for t, _ in IEC60751_PT100)
    assert worst <= MAX_ERR_C
    assert worst < 1e-6  # in double precision it is far better


def test_printed_table_values_convert_within_0_01_plus_table_rounding():
    for t, ohms in IEC60751_PT100:
        slope = (_cvd(t + 0.05) - _cvd(t - 0.05)) / 0.1
        assert abs(rtd_celsius(ohms) - t) <= MAX_ERR_C + 0.005 / slope, t


def test_pt1000_uses_the_same_relation():
    for t, ohms in IEC60751_PT100:
        assert abs(rtd_celsius(ohms * 10.0, r0=1000.0) - rtd_celsius(ohms)) < 1e-9
        assert abs(rtd_celsius(_cvd(t, 1000.0), 1000.0) - t) <= MAX_ERR_C


def test_dense_conversion_error_minus_200_to_plus_100():
    worst = 0.0
    for i in range(-2000, 1001):
        t = i / 10.0
        worst = max(worst, abs(rtd_celsius(_cvd(t)) - t))
    assert worst <= MAX_ERR_C


def test_float32_arithmetic_max_0_01(pt100_float32):
    """rp2 floats are 32-bit: constants, inputs, every product and sqrt are
    rounded to float32 (numpy.float32 propagates through the code)."""
    f32 = pt100_float32
    worst = 0.0
    for t, _ in IEC60751_PT100:
        got = rtd_celsius(f32(_cvd(t)), f32(100.0))
        assert isinstance(got, np.float32)
        worst = max(worst, abs(float(got) - t))
    assert worst <= MAX_ERR_C
    for i in range(-2000, 1001, 3):
        t = i / 10.0
        worst = max(worst, abs(float(rtd_celsius(f32(_cvd(t)), f32(100.0))) - t))
    assert worst <= MAX_ERR_C


def test_fault_names():
    assert max31865.fault_name(max31865.FAULT_HIGH).startswith("RTD above")
    assert "all ones" in max31865.fault_name(max31865.FAULT_BUS_ONES | 0x80)
    assert max31865.fault_name(0) == ""
