# Wrap-safe integer millisecond tick arithmetic (ticks_ms / ticks_diff semantics).
# Boards provide a clock object; these helpers serve boards without time.ticks_*
# (the virtual clock, host tests) and define the tick period everyone shares.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

TICKS_PERIOD = const(1 << 30)
_TICKS_MAX = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)


def ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(end, start):
    # Signed difference end - start, correct across one wrap of the counter.
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


class DeviceClock:
    """Clock of a real board: time.ticks_* plus the RTC supplied by the board."""

    def __init__(self, rtc=None):
        import time
        self._time = time
        self._rtc = rtc
        self._rtc_set = False
        self.ticks_ms = time.ticks_ms
        self.ticks_diff = time.ticks_diff
        self.ticks_add = time.ticks_add

    def sleep_ms(self, ms):
        if ms > 0:
            self._time.sleep_ms(ms)

    def rtc_s(self):
        return self._time.time() if self._rtc_set else None

    def set_rtc_s(self, s):
        if self._rtc is not None:
            tm = self._time.gmtime(s)
            self._rtc.datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))
        self._rtc_set = True
