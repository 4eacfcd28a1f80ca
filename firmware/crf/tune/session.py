# The autotune's start, loaded for the start only: the request and the
# freezer checked, the session begun (the experiment is relay.py, its end
# result.py). The autotune is a relay experiment on the chamber loop at each
# test temperature, run by the app's control tick while app.tuning is set (the
# profile engine is idle then). Per temperature:
#   approach  the present controller brings the chamber to the target, the
#             setpoint moving at APPROACH_C_MIN
#   settle    setpoint held until the chamber stays within SETTLE_C for
#             SETTLE_S; there the reading noise (from successive differences)
#             and the holding power u0 are measured
#   relay     heat into the chamber switched between u0 - d and u0 + d at
#             setpoint -+ eps, eps = max(2 noise, EPS_MIN_C); the first
#             switch (to cooling, from rest) is the step response that gives
#             the dead time; the bias u0 adapts during the first SKIP half
#             cycles so the cycle is symmetric, then MEASURE half cycles are
#             measured; at most RELAY_MAX_S
# then identify.py fits the model and rule.py computes the gains; anything
# not clean refuses the proposal, saying why. The engineer's limits (band
# around the target, absolute min/max, minutes per temperature), the door,
# the chamber probe, the LN2 supply and active alarms abort the tune with
# the outputs off. Gains change only with `tune apply`; the result goes to
# <root>/tune.json, the raw data to a run record (header "kind": "tune").
from crf.tune.relay import Session, MIN_C, MAX_C, TEMPS_MAX
from crf.tune.settle import alarm
import json
from crf.record import format as recfmt

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

LOG_MS = const(1000)        # the tune's record: one sample a second

class NotNow(ValueError):
    """A tune refused for the freezer's state (run, door, probe, supply, alarm)."""


def _num(a, key, lo, hi, default):
    v = a.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ValueError("%s: a number %s..%s is needed" % (key, lo, hi))
    return float(v)


def begin(app, a, who):
    """Check the request and start; the session, or ValueError (NotNow: the
    freezer's state) saying why not. On success this module is dropped (it is
    needed for the start only), on failure the whole package."""
    from crf.tune.result import unload
    from crf.lazy import forget
    try:
        s = start(app, a, who)
    except Exception:
        unload(app)
        raise
    forget("crf.tune.session")
    return s


def start(app, a, who):
    temps = a.get("at", [-20.0, -60.0])
    if not isinstance(temps, list) or not 0 < len(temps) <= TEMPS_MAX:
        raise ValueError("at: a list of 1..%d test temperatures is needed" % TEMPS_MAX)
    at = []
    for t in temps:
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ValueError("at: temperatures must be numbers")
        if not MIN_C <= t <= MAX_C:
            raise ValueError("at: %s C is outside the freezer's tuning range %s..%s C" % (t, MIN_C, MAX_C))
        at.append(float(t))
    band = _num(a, "band_c", 0.5, 20.0, 5.0)
    lo = _num(a, "min_c", MIN_C - 10.0, MAX_C, min(at) - band - 5.0)
    hi = _num(a, "max_c", MIN_C, MAX_C + 10.0, max(max(at) + band + 5.0, 30.0))
    limit = _num(a, "minutes", 5, 120, 45)
    for t in at:
        if not lo < t < hi:
            raise ValueError("at: %s C is outside the limits min_c %s .. max_c %s" % (t, lo, hi))
    b = app.board
    if app.running():
        raise NotNow("a run is in progress: tune between runs")
    if app.tuning is not None:
        raise NotNow("an autotune is already in progress")
    if b.door_open():
        raise NotNow("the door is open: close it before tuning")
    if app.chamber_c is None or b.chamber_fault:
        raise NotNow("the chamber probe has no valid reading")
    if not b.ln2_supply_ok():
        raise NotNow("no LN2 supply")
    al = alarm(app)
    if al:
        raise NotNow("alarm active: %s" % al)
    if not lo < app.chamber_c < hi:
        raise NotNow("the chamber (%.1f C) is outside the limits min_c %s .. max_c %s" % (
            app.chamber_c, lo, hi))
    s = Session(app, at, band, lo, hi, int(limit * 60000), who)
    open_record(s, a)
    app.tuning = s
    app.run_ms = 0
    app.valve.reset()
    b.set_fan(True)
    s.phase_note()
    return s


def open_record(self, a):
    # The raw data: a run record with header "kind": "tune", one sample a
    # second (LOG_MS), phase changes and results as note events.
    app = self.app
    log = app.log
    if log is None:
        return
    rtc = app.clock.rtc_s()
    if log.f is not None:
        log.seal(app._interrupted_t(), rtc, recfmt.SEAL_INTERRUPTED)
    text = json.dumps({"tune": a})
    h = app._header("autotune", text, "", "", self.who, rtc)
    h["kind"] = "tune"
    app.spend_reserve()         # the room kept for a record's start (crf/app.py)
    try:
        self.run_id = log.open_run(h, len(self.at) * self.limit_ms // 1000, LOG_MS)
    except (OSError, ValueError) as ex:
        app.keep_reserve()
        raise ValueError("the tune's record cannot be written: %s" % ex)
