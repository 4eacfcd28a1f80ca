# The relay phase, one call per control tick: switch the heat into the
# chamber between u0 - d and u0 + d at setpoint -+ eps, log the switches and
# the extremum between them (preallocated arrays), adapt the bias during the
# first SKIP half cycles, stop after SKIP + MEASURE half cycles or
# RELAY_MAX_S; and tune_status's reply with the live oscillation.
# Functions of the relay Session (relay.py).
from crf.control.controller import ln2_cooling_w
from crf.control.split import split_range

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SKIP = const(4)             # half cycles left out (transient, bias adapting)
MEASURE = const(8)          # half cycles measured
RELAY_MAX_S = const(900)
STEP_S = const(40)          # step-response samples kept (1 s each)
STATUS_MAX = const(30)      # readings per tune_status reply


def step(self, pv):
    t = self.phase_ms * 0.001
    e = pv - self.target
    k = self.nstep
    if k < STEP_S:
        self.step_t[k] = t
        self.step_v[k] = e
        self.nstep = k + 1
    if self.out < 0:
        if e > self._ext:
            self._ext = e
        if e < -self.eps:
            switch(self, t, 1)
    else:
        if e < self._ext:
            self._ext = e
        if e > self.eps:
            switch(self, t, -1)
    if self.state == "running" and self.phase == "relay" and self.phase_ms > RELAY_MAX_S * 1000:
        self._conclude()
    if self.phase != "relay":
        return 0.0
    w = self.u0 + self.out * self.d
    drive(self, w)
    return w

def switch(self, t, out):
    k = self.nsw
    self.peak_v[k - 1] = self._ext
    self.sw_t[k] = t
    self.nsw = k + 1
    self.out = out
    self._ext = -1e9 if out < 0 else 1e9
    n = k                           # completed half cycles
    if 2 <= n <= SKIP and n % 2 == 0:
        # Bias, while the cycle settles: a longer cooling half (n-2) than
        # heating half means cooling is short. Fixed while measuring.
        hc = self.sw_t[n - 1] - self.sw_t[n - 2]
        hh = self.sw_t[n] - self.sw_t[n - 1]
        self.u0 -= 0.5 * self.d * (hc - hh) / (hc + hh)
    if n >= SKIP + MEASURE:
        self._conclude()

def drive(self, w):
    app = self.app
    cfg = app.cfg
    ctl = app.ctl
    cool = ln2_cooling_w(cfg, app.chamber_c)
    u = w / cool if w < 0.0 else w / cfg["heater_w"]
    ctl.ln2_duty, ctl.heater_duty = split_range(u, cfg["dead_band"])
    ctl.power_w = w


def status(self, since):
    """tune_status: progress and the readings since sample `since` (at most
    STATUS_MAX, the newest): chamber in 0.01 deg C and heat in W, as small
    integers, so the reply stays a few hundred bytes."""
    n = self.n
    first = since
    if first < n - STATUS_MAX:
        first = n - STATUS_MAX
    if first < 0:
        first = 0
    cs = []
    ws = []
    for k in range(first, n):
        i = k % len(self.ring_c)
        cs.append(int(self.ring_c[i] * 100.0))
        ws.append(int(self.ring_w[i]))
    return {"state": self.state, "phase": self.phase, "at_c": self.target,
            "index": self.index + 1, "of": len(self.at), "t_s": self.t_ms // 1000,
            "phase_s": self.phase_ms // 1000,
            "half_cycles": self.nsw - 1 if self.phase == "relay" else 0,
            "half_cycles_needed": SKIP + MEASURE, "eps_c": round(self.eps, 3),
            "d_w": round(self.d, 1), "u0_w": round(self.u0, 1), "sp_c": round(self.sp, 2),
            "n": n, "first": first, "c_centi": cs, "w": ws, "run": self.run_id}
