# Fault injection for the virtual freezer (simulation only): probe faults,
# door, LN2 supply, stuck valve and heater, a hung firmware (the emulated
# watchdog restarts the process, exit 75, flash intact), record storage
# failure and power cuts (the plant's state survives a restart in a file
# beside the flash image, as the real freezer's contents would). Used by
# run.py --fault / --outage and by the sim_fault link command; checked by
# `make faults` (crf_host.faults). What each fault must do: docs/safety.md.
from crf.safety.guard import _sample_ahead

# kind: the alarm that must follow
EXPECT = {
    "chamber_open": "chamber_probe", "chamber_stuck": "chamber_probe",
    "chamber_range": "chamber_probe", "sample_open": "sample_probe",
    "sample_jump": "sample_probe", "door": "door_open", "ln2_low": "ln2_supply",
    "ln2_dry": "ln2_no_cool", "valve_stuck": "valve_stuck",
    "heater_stuck": "heater_runaway|ln2_no_cool|chamber_dev", "storage_full": "storage",
    "hang": "watchdog", "power_cut": "power_fail",
}


def apply(app, board, kind, on):
    p = board.plant
    if kind.startswith("chamber_") or kind.startswith("sample_"):
        probe, what = kind.split("_", 1)
        if not on:
            p.set_fault(probe, None)
        elif what == "range":
            p.set_fault(probe, "offset", 400.0)
        elif what == "jump":
            p.set_fault(probe, "offset", 15.0)
        else:
            p.set_fault(probe, what)
    elif kind == "door":
        board.f_door = on
    elif kind == "ln2_low":
        board.f_ln2_low = on
    elif kind == "ln2_dry":
        p._sup_kind = "constant"
        p._sup = {"kind": "constant", "factor": 0.0 if on else 1.0}
        p.supply_factor = p._sup["factor"]
    elif kind == "valve_stuck":
        board.f_valve_stuck = on
    elif kind == "heater_stuck":
        board.f_heater_stuck = on
    elif kind == "hang":
        board.hang = on
    elif kind == "storage_full":
        if on and app.log is not None and app.log.f is not None:
            app.log.failed = "flash full"       # as RunLog._check_space: samples stop, events go on
    else:
        raise ValueError("fault kind: one of %s" % ", ".join(sorted(EXPECT)))


# -- the injection schedule (run.py --fault KIND@MOMENT[+S][/S]) -------------
class Injector:
    """MOMENT: pre (cooling, before nucleation), comp (compensation), final
    (the last ramp), end (the end hold), or tN (N s of run time); +S waits S
    seconds after it; /S removes the fault after S seconds (else it stays).
    Records what crf_host.faults judges: when the expected alarm came, the
    outputs one tick later, the product's true temperature range."""

    def __init__(self, app, board, spec):
        kind, _, when = spec.partition("@")
        dur = None
        if "/" in when:
            when, d = when.split("/")
            dur = int(d) * 1000
        delay = 0
        if "+" in when:
            when, d = when.split("+")
            delay = int(d) * 1000
        self.app = app
        self.board = board
        self.kind = kind
        self.when = when
        self.delay = delay
        self.dur = dur
        self.code = EXPECT[kind]
        self.seen = None            # the moment arrived
        self.at = None              # injected
        self.off = None             # removed
        self.det = None             # the expected alarm listed
        self.snap = None            # outputs 1.5 s after detection
        self.action = None          # first pass with the fault's output action in place
        self.lo = self.hi = self.t0 = None
        self.cut = False
        self.done = False           # seen enough: 15 min after injection
        self.sample_step = False

    def _moment(self):
        e = self.app.engine
        w = self.when
        if w == "pre":
            return e.index >= 1 and e.nucleation_ms is None and e.state == "running"
        if w == "comp":
            return e.comp
        if w == "final":
            return e.kind == "ramp" and e.probe == "chamber" and e.index == len(e.profile["steps"]) - 2
        if w == "end":
            return e.state == "end"
        return self.app.run_ms >= int(w[1:]) * 1000

    def poll(self, ms):
        app = self.app
        b = self.board
        if self.at is None:
            if self.seen is None and app.running() and self._moment():
                self.seen = ms
            if self.seen is not None and ms - self.seen >= self.delay:
                self.at = ms
                self.lo = self.hi = self.t0 = b.plant.sample_c
                e = app.engine
                self.sample_step = e.probe == "sample" or _sample_ahead(e)
                if self.kind == "power_cut":
                    self.cut = True
                else:
                    apply(app, b, self.kind, True)
            return
        if ms - self.at >= 900000:
            self.done = True
        t = b.plant.sample_c
        if t > self.hi:
            self.hi = t
        if t < self.lo:
            self.lo = t
        if self.dur is not None and self.off is None and ms - self.at >= self.dur:
            self.off = ms
            apply(app, b, self.kind, False)
        if self.action is None and _acted(self.kind, app, b):
            self.action = ms
        if self.det is None:
            for r in app.alarms.active():
                if r.code in self.code.split("|"):
                    self.code = r.code
                    self.det = ms
        elif self.snap is None and ms - self.det >= 1500 and self.off is None:
            ctl = app.ctl
            e = app.engine
            self.snap = {"valve": b.valve, "fan": b.fan, "heater": b.heater,
                         "relay": b.alarm_relay, "buzzer": b.buzzer, "ln2_duty": ctl.ln2_duty,
                         "heater_duty": ctl.heater_duty, "state": e.state, "probe": e.probe,
                         "no_sample": e.no_sample}

    def report(self):
        return {"kind": self.kind, "when": self.when, "code": self.code,
                "injected_s": _s(self.at), "removed_s": _s(self.off), "detected_s": _s(self.det),
                "action_s": _s(self.action),
                "outputs": self.snap, "sample_step": self.sample_step,
                "product0_c": self.t0, "product_max_c": self.hi, "product_min_c": self.lo}


def _acted(kind, app, b):
    # The output action that must follow at once (door: valve and fan off;
    # chamber probe: heater off and LN2 at most the degraded cap).
    if kind == "door":
        return not b.valve and not b.fan
    if kind.startswith("chamber_"):
        return app.ctl.heater_duty == 0.0 and app.ctl.ln2_duty <= 0.3
    return False


def _s(ms):
    return None if ms is None else ms / 1000.0
