# Time-proportioned drive of the LN2 solenoid.
# Pulse-density modulation: open time owed accumulates at `duty`, and pulses are
# spread as evenly as the valve's minimum on/off times allow. Short, evenly
# spaced pulses keep the chamber ripple small; the minimum times bound wear.
from crf.clock import ticks_diff


class ValveDriver:
    def __init__(self, period_ms, min_on_ms, min_off_ms):
        self.period_ms = period_ms    # bound on owed time carried over (ms)
        self.min_on_ms = min_on_ms
        self.min_off_ms = min_off_ms
        self.on = False
        self.cycles = 0
        self._owed = 0
        self._in_state = 0
        self._last = None

    def reset(self):
        self.on = False
        self._owed = 0
        self._in_state = self.min_off_ms
        self._last = None

    def update(self, now_ms, duty):
        """Advance to now_ms (int ticks, wrap-safe) with `duty` 0..1; returns valve state."""
        if self._last is None:
            dt = 0
        else:
            dt = ticks_diff(now_ms, self._last)
            if dt < 0:
                dt = 0
        self._last = now_ms
        if duty < 0.0:
            duty = 0.0
        elif duty > 1.0:
            duty = 1.0
        owed = self._owed + int(duty * dt)
        if self.on:
            owed -= dt
        cap = self.period_ms
        if owed > cap:
            owed = cap
        elif owed < -cap:
            owed = -cap
        self._owed = owed
        self._in_state += dt
        if self.on:
            if duty >= 1.0:
                return True
            if self._in_state >= self.min_on_ms and (owed <= 0 or duty <= 0.0):
                self.on = False
                self._in_state = 0
        else:
            if duty > 0.0 and self._in_state >= self.min_off_ms and owed >= self.min_on_ms // 2:
                self.on = True
                self._in_state = 0
                self.cycles += 1
        return self.on
