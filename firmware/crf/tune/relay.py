# The relay experiment at each test temperature (state machine, one call per
# control tick); the phases are described in session.py. Ending a
# temperature is conclude.py, the whole tune result.py, the relay phase
# cycle.py, approach and settle settle.py.
import array
from crf.tune import settle, cycle
from crf.tune.cycle import SKIP, MEASURE, STEP_S

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MIN_C = -150.0              # test temperatures the freezer can hold (LN2 .. heater)
MAX_C = 40.0
TEMPS_MAX = const(4)
RING = const(32)            # live samples for tune_status


class Session:
    def __init__(self, app, at, band, lo, hi, limit_ms, who):
        self.app = app
        self.at = at
        self.band = band
        self.lo = lo
        self.hi = hi
        self.limit_ms = limit_ms
        self.who = who
        self.index = 0
        self.results = []           # per temperature: dict
        self.state = "running"
        self.reason = None
        self.t_ms = 0               # since the tune started
        self.ring_c = array.array("f", bytes(4 * RING))
        self.ring_w = array.array("f", bytes(4 * RING))
        self.n = 0                  # samples taken (ring index = n % RING)
        self.run_id = None
        # Preallocated logs (no allocation per tick): relay switches, the
        # extremum after each, and the step response that starts the relay.
        k = SKIP + MEASURE + 1
        self.sw_t = array.array("f", bytes(4 * k))
        self.peak_v = array.array("f", bytes(4 * k))
        self.step_t = array.array("f", bytes(4 * STEP_S))
        self.step_v = array.array("f", bytes(4 * STEP_S))
        self._begin(at[0])

    # -- per temperature ---------------------------------------------------
    def _begin(self, target):
        self.target = target
        self.phase = "approach"
        self.phase_ms = 0
        self.temp_ms = 0
        self.sp = self.app.chamber_c
        self.ctl_reset = True
        self._stable_ms = 0
        self._nw = 0
        self._d2 = 0.0              # sum of squared successive differences (settle window)
        self._nd = 0
        self._w = 0.0               # sum of power over the settle window
        self._last = None
        self.noise = None
        self.u0 = 0.0
        self.d = 0.0
        self.eps = 0.0
        self.out = 0                # relay: -1 cooling, +1 heating
        self.nsw = 0                # relay switches logged (incl. the start)
        self.nstep = 0              # step-response samples logged
        self._ext = 0.0

    def facts(self):
        """The tune's request, for the audit log."""
        return {"at": self.at, "run": self.run_id, "band_c": self.band, "min_c": self.lo,
                "max_c": self.hi, "minutes": self.limit_ms // 60000}

    def phase_note(self):
        if self.phase == "approach":
            d = "tune: %d/%d approach %.1f C" % (self.index + 1, len(self.at), self.target)
        elif self.phase == "settle":
            d = "tune: settle at %.1f C" % self.target
        else:
            d = "tune: relay at %.1f C, d %.0f W, eps %.3f K, noise %.3f K, u0 %.0f W" % (
                self.target, self.d, self.eps, self.noise, self.u0)
        self.app.note("note", self.who, d)

    # -- the app's control tick --------------------------------------------
    def control(self, dt_ms, sample_f):
        app = self.app
        self.t_ms += dt_ms
        self.phase_ms += dt_ms
        self.temp_ms += dt_ms
        app.run_ms = self.t_ms
        why = settle.unsafe(self)
        if why:
            self.finish("aborted", why)
            return
        pv = app.chamber_c
        if self.phase == "relay":
            w = cycle.step(self, pv)
        else:
            w = settle.hold(self, dt_ms, pv, sample_f)
        if self.state != "running":
            return
        i = self.n % RING
        self.ring_c[i] = pv
        self.ring_w[i] = w
        self.n += 1
        log = app.log
        if log is not None and log.f is not None:
            ctl = app.ctl
            log.sample(self.t_ms, self.index, pv, app.sample_c, self.sp, None,
                       ctl.ln2_duty, ctl.heater_duty, 1)

    def _conclude(self):
        from crf.tune import conclude
        return conclude.conclude(self)

    def finish(self, state, reason):
        from crf.tune import result
        return result.finish(self, state, reason)

    def status(self, since):
        return cycle.status(self, since)
