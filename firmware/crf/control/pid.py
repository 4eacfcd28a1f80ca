# PID for the chamber and sample loops.
# Derivative on measurement (no kick on setpoint steps) through a first-order
# filter, integral bounded by the output limits (anti-windup), feed-forward
# added outside the integral, and bumpless transfer via track().
# Time comes in as integer milliseconds from the caller's clock.


class PID:
    def __init__(self, kp, ki, kd=0.0, d_filter_s=0.0, out_min=-1.0, out_max=1.0, i_band=0.0):
        self.kp = kp
        self.ki = ki          # per second
        self.kd = kd          # seconds
        self.d_filter_s = d_filter_s
        self.i_band = i_band  # integrate only while |error| < i_band (0: always)
        self.out_min = out_min
        self.out_max = out_max
        self.integral = 0.0
        self.d_term = 0.0
        self._last_pv = None
        self.output = 0.0

    def set_limits(self, out_min, out_max):
        self.out_min = out_min
        self.out_max = out_max

    def reset(self):
        self.integral = 0.0
        self.d_term = 0.0
        self._last_pv = None

    def track(self, output, sp, pv, ff=0.0):
        # Bumpless transfer: make the next output equal `output` for this sp/pv.
        self.integral = output - ff - self.kp * (sp - pv)
        self.d_term = 0.0
        self._last_pv = pv
        self.output = output

    def update(self, sp, pv, dt_ms, ff=0.0):
        dt = dt_ms * 0.001
        err = sp - pv
        if self._last_pv is None or dt <= 0.0:
            self._last_pv = pv
            dt = 0.0
        if dt > 0.0 and self.kd:
            raw = -self.kd * (pv - self._last_pv) / dt
            a = dt / (self.d_filter_s + dt)
            self.d_term += a * (raw - self.d_term)
        self._last_pv = pv
        p = self.kp * err
        lo = self.out_min
        hi = self.out_max
        # Conditional integration: do not integrate further into saturation.
        i = self.integral + self.ki * err * dt
        u = p + i + self.d_term + ff
        band = self.i_band
        if (u > hi and err > 0.0) or (u < lo and err < 0.0) or (band and (err > band or err < -band)):
            i = self.integral
            u = p + i + self.d_term + ff
        # Keep the integral itself inside the output range.
        i_hi = hi - ff
        i_lo = lo - ff
        if i > i_hi:
            i = i_hi
        elif i < i_lo:
            i = i_lo
        self.integral = i
        if u > hi:
            u = hi
        elif u < lo:
            u = lo
        self.output = u
        return u
