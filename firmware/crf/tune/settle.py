# Approach and settle at a test temperature (the controller in force, gains
# unchanged), the measurements that size the relay (reading noise, holding
# power), and the safety checks of every tick. Functions of the relay
# Session (relay.py); the phases are described in session.py.
from crf.control.controller import MODE_CHAMBER, ln2_cooling_w

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

APPROACH_C_MIN = 8.0
SETTLE_C = 0.5
SETTLE_S = const(60)
EPS_MIN_C = 0.05
EPS_NOISE = 2.0             # hysteresis: this many standard deviations of the reading noise
RELAY_FRAC = 0.7            # d = this share of the smaller of cooling / heating reserve


def unsafe(self):
    app = self.app
    b = app.board
    if b.door_open():
        return "door opened"
    if b.chamber_fault or app.chamber_c is None:
        return "chamber probe fault"
    if not b.ln2_supply_ok():
        return "LN2 supply lost"
    al = alarm(app)
    if al:
        return "alarm %s" % al
    c = app.chamber_c
    if c < self.lo or c > self.hi:
        return "chamber %.1f C outside the limits %.1f .. %.1f C" % (c, self.lo, self.hi)
    if self.phase == "relay" and abs(c - self.target) > self.band:
        return "chamber %.1f C more than %.1f K from %.1f C during the relay test" % (
            c, self.band, self.target)
    if self.temp_ms > self.limit_ms:
        return "no result at %.1f C within %d min" % (self.target, self.limit_ms // 60000)
    return None

def hold(self, dt_ms, pv, sample_f):
    # Approach and settle with the controller in force (gains unchanged).
    app = self.app
    ctl = app.ctl
    step = APPROACH_C_MIN / 60.0 * dt_ms * 0.001
    rate = 0.0
    if self.sp > self.target + step:
        self.sp -= step
        rate = -APPROACH_C_MIN / 60.0
    elif self.sp < self.target - step:
        self.sp += step
        rate = APPROACH_C_MIN / 60.0
    else:
        self.sp = self.target
    if self.ctl_reset:
        ctl.reset()
        ctl.chamber_sp = pv
        self.ctl_reset = False
    ctl.update(dt_ms, MODE_CHAMBER, self.sp, rate, 0.0, 0.0, pv, sample_f)
    w = ctl.power_w
    if self.phase == "approach":
        if self.sp == self.target:
            self.phase = "settle"
            self.phase_ms = 0
            self.phase_note()
        return w
    if abs(pv - self.target) > SETTLE_C:
        self._stable_ms = 0
        self._nw = 0
        self._d2 = 0.0
        self._nd = 0
        self._w = 0.0
        self._last = None
        return w
    self._stable_ms += dt_ms
    self._nw += 1
    if self._last is not None:
        dd = pv - self._last
        self._d2 += dd * dd
        self._nd += 1
    self._last = pv
    self._w += w
    if self._stable_ms >= SETTLE_S * 1000 and self._nd:
        start_relay(self)
    return w

def start_relay(self):
    app = self.app
    cfg = app.cfg
    self.noise = (self._d2 / self._nd / 2.0) ** 0.5
    self.u0 = self._w / self._nw
    self.eps = EPS_NOISE * self.noise if EPS_NOISE * self.noise > EPS_MIN_C else EPS_MIN_C
    cool = ln2_cooling_w(cfg, self.target) + self.u0
    heat = cfg["heater_w"] - self.u0
    res = cool if cool < heat else heat
    if res <= 0.0:
        self.finish("refused", "no cooling or heating reserve at %.1f C (holding takes %.0f W)" % (
            self.target, self.u0))
        return
    self.d = RELAY_FRAC * res
    self.phase = "relay"
    self.phase_ms = 0
    self.out = -1
    self.sw_t[0] = 0.0
    self.nsw = 1
    self._ext = -1e9
    self.phase_note()


def alarm(app):
    """The code of an active alarm (app.alarms, when the alarm layer is
    there), or None."""
    al = getattr(app, "alarms", None)
    if al is None:
        return None
    for row in al.active():
        if getattr(row, "active", True):
            return str(getattr(row, "code", "alarm"))
    return None
