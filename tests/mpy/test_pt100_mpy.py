# PT100 inverse on the MicroPython unix port (double floats), plus the same
# code run with every operation rounded to 32-bit float as on the rp2 port.

from array import array
import math

from crf.drivers import pt100

_buf = array("f", [0.0])


def _r32(x):
    _buf[0] = x
    return _buf[0]


def _v(x):
    return x.v if isinstance(x, F32) else x


class F32:
    # a number whose every arithmetic result is rounded to float32
    def __init__(self, v):
        self.v = _r32(v)

    def __add__(self, o):
        return F32(self.v + _v(o))

    def __radd__(self, o):
        return F32(_v(o) + self.v)

    def __sub__(self, o):
        return F32(self.v - _v(o))

    def __rsub__(self, o):
        return F32(_v(o) - self.v)

    def __mul__(self, o):
        return F32(self.v * _v(o))

    def __rmul__(self, o):
        return F32(_v(o) * self.v)

    def __truediv__(self, o):
        return F32(self.v / _v(o))

    def __rtruediv__(self, o):
        return F32(_v(o) / self.v)

    def __neg__(self):
        return F32(-self.v)

    def __abs__(self):
        return F32(abs(self.v))

    def __lt__(self, o):
        return self.v < _v(o)

    def __le__(self, o):
        return self.v <= _v(o)

    def __gt__(self, o):
        return self.v > _v(o)

    def __ge__(self, o):
        return self.v >= _v(o)


def _cvd(t):
    # forward equation in double precision, independent of the module
    r = 1.0 + 3.9083e-3 * t - 5.775e-7 * t * t
    if t < 0:
        r += -4.183e-12 * (t - 100.0) * t * t * t
    return 100.0 * r


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
    saved = (pt100.A, pt100.B, pt100.C, pt100.sqrt)
    pt100.A = F32(saved[0])
    pt100.B = F32(saved[1])
    pt100.C = F32(saved[2])
    pt100.sqrt = lambda x: F32(math.sqrt(_v(x)))
    try:
        worst = 0.0
        for i in range(-800, 201):
            t = i * 0.25
            got = pt100.temperature(F32(_cvd(t)), F32(100.0))
            assert isinstance(got, F32)
            worst = max(worst, abs(got.v - t))
    finally:
        pt100.A, pt100.B, pt100.C, pt100.sqrt = saved
    assert worst < 0.03, worst
    assert pt100.A == 3.9083e-3  # restored
