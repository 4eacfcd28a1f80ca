# Probe readings replayed from a recorded run, in place of the plant model
# (run.py --replay FILE). For benchmarks of the firmware alone: the plant's
# physics is float arithmetic, and on the unix port every float result is a
# heap object, so the model makes several times the firmware's own garbage
# and sets how often the heap is collected. The board has no such model.
# Replayed, the loop collects about as often as on the board.
#
# FILE: per virtual second, chamber then sample in 0.01 degC as little-endian
# int16 (-32768: no reading); crf_host.panelbench writes it from a
# closed-loop trace. The outputs act on nothing (open loop); past the end of
# the file the last readings hold.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_NONE = const(-32768)


def _i16(b, i):
    v = b[i] | b[i + 1] << 8
    return v - 65536 if v >= 32768 else v


class ReplayPlant:
    ln2_kg = 0.0
    nucleation_ms = None
    nucleation_c = None
    tm_c = None

    def __init__(self, path, spec):
        self.spec = spec            # for the board's calibration() only
        self._f = open(path, "rb")
        self._buf = bytearray(4)
        self.ms = 0
        self._sec = -1
        self._c = _NONE
        self._s = _NONE

    def step(self, ms, valve, heater, fan):
        self.ms += ms

    def _at(self):
        sec = self.ms // 1000
        if sec != self._sec:
            self._sec = sec
            b = self._buf
            if self._f.readinto(b) == 4:
                self._c = _i16(b, 0)
                self._s = _i16(b, 2)

    # as the plant's probes: a reading in degC (a float, as a driver's
    # conversion makes one), or None
    def read_chamber_probe(self):
        self._at()
        c = self._c
        return None if c == _NONE else c / 100

    def read_sample_probe(self):
        self._at()
        s = self._s
        return None if s == _NONE else s / 100

    # the trace's "true" columns
    @property
    def chamber_c(self):
        return self._c / 100

    @property
    def sample_c(self):
        return self._s / 100

    def close(self):
        self._f.close()
