# 32-bit float arithmetic on the MicroPython unix port (double floats), as
# the rp2 port computes, for the PT100 tests (test_pt100_mpy,
# test_drivers_mpy): F32 rounds every arithmetic result to float32.
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


def cvd(t):
    # forward equation in double precision, independent of the module
    r = 1.0 + 3.9083e-3 * t - 5.775e-7 * t * t
    if t < 0:
        r += -4.183e-12 * (t - 100.0) * t * t * t
    return 100.0 * r


def worst_f32(convert, temps):
    """Largest |convert(R(t), 100) - t| over temps with R(t), R0, pt100's
    constants and its sqrt all in float32 (pt100 restored after)."""
    saved = (pt100.A, pt100.B, pt100.C, pt100.sqrt)
    pt100.A = F32(saved[0])
    pt100.B = F32(saved[1])
    pt100.C = F32(saved[2])
    pt100.sqrt = lambda x: F32(math.sqrt(_v(x)))
    try:
        worst = 0.0
        for t in temps:
            got = convert(F32(cvd(t)), F32(100.0))
            assert isinstance(got, F32)
            worst = max(worst, abs(got.v - t))
    finally:
        pt100.A, pt100.B, pt100.C, pt100.sqrt = saved
    return worst
