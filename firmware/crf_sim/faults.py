# Fault injection for the virtual freezer (simulation only): probe faults,
# door, LN2 supply, stuck valve and heater, a hung firmware (the emulated
# watchdog restarts the process, exit 75, flash intact), record storage
# failure and power cuts (the plant's state survives a restart in a file
# beside the flash image, as the real freezer's contents would). Used by
# run.py --fault / --outage and by the sim_fault link command; checked by
# `make faults` (crf_host.faults). What each fault must do: docs/safety.md.
import json
import os
from crf_sim.board_virtual import EXIT_RESTART
from crf.safety.guard import _sample_ahead, _DEGRADED_LN2

# kind: the alarm that must follow
EXPECT = {
    "chamber_open": "chamber_probe", "chamber_stuck": "chamber_probe",
    "chamber_range": "chamber_probe", "sample_open": "sample_probe",
    "sample_jump": "sample_probe", "door": "door_open", "ln2_low": "ln2_supply",
    "ln2_dry": "ln2_no_cool", "valve_stuck": "valve_stuck", "heater_stuck": "heater_runaway",
    "storage": "storage", "hang": "watchdog", "power_cut": "power_fail",
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
    elif kind == "storage":
        if on and app.log is not None and app.log.f is not None:
            app.log._fail("storage error (injected)")
    else:
        raise ValueError("fault kind: one of %s" % ", ".join(sorted(EXPECT)))


# -- restarts: reset cause, plant state --------------------------------------
_PLANT_KEYS = ("t_ms", "_carry_ms", "_ring_i", "ln2_kg", "supply_factor", "_h", "units_c", "_x",
               "_s", "_sum_tg", "_blk", "chamber_c", "wall_c", "sample_c", "_hw", "q_ln2_j",
               "q_heater_j", "q_fan_j", "q_ambient_j", "q_samples_j", "nucleation_ms",
               "nucleation_c")


def save_state(board, cause=None):
    """The freezer's contents and the RTC survive the controller's restart."""
    path = board.cause_path
    if not path:
        return
    p = board.plant
    st = {k: getattr(p, k) for k in _PLANT_KEYS}
    st["ring"] = list(p._ring)
    st["probes"] = [p._chamber_probe.lagged_c, p._sample_probe.lagged_c]
    st["rtc_s"] = board.clock.rtc_s()
    with open(path[:-6] + ".plant", "w") as f:
        f.write(json.dumps(st))
    if cause:
        with open(path, "w") as f:
            f.write(cause)


def boot(board, flash, outage_s):
    """Before the firmware starts: restore the plant (advanced through the
    outage with every output off) and the RTC, if a restart left them."""
    if not flash:
        return None
    board.cause_path = flash + ".cause"
    path = flash + ".plant"
    try:
        with open(path) as f:
            st = json.loads(f.read())
    except OSError:
        return None
    os.remove(path)
    p = board.plant
    for k in _PLANT_KEYS:
        setattr(p, k, st[k])
    ring = st["ring"]
    for i in range(len(ring)):
        p._ring[i] = ring[i]
    p._chamber_probe.lagged_c, p._sample_probe.lagged_c = st["probes"]
    if outage_s:
        p.step(outage_s * 1000, False, 0.0, False)
    board.clock.set_rtc_s(st["rtc_s"] + outage_s)
    return st


def watchdog_reset(board):
    """The emulated watchdog expired: outputs drop, the chip resets."""
    board.safe_outputs()
    save_state(board, "watchdog")
    raise SystemExit(EXIT_RESTART)


# -- the injection schedule (run.py --fault KIND@MOMENT[+S][/S]) -------------
class Injector:
    """MOMENT: pre (cooling, before nucleation), comp (compensation), final
    (the last ramp), end (the end hold), or tN (N s of run time); +S waits S
    seconds after it; /S removes the fault after S seconds (else it stays)."""

    def __init__(self, app, board, spec):
        kind, _, when = spec.partition("@")
        if kind not in EXPECT:
            raise ValueError("fault kind: one of %s" % ", ".join(sorted(EXPECT)))
        dur = None
        if "/" in when:
            when, d = when.split("/")
            dur = int(d) * 1000
        delay = 0
        if "+" in when:
            when, d = when.split("+")
            delay = int(d) * 1000
        if when not in ("pre", "comp", "final", "end") and not when.startswith("t"):
            raise ValueError("fault moment: pre, comp, final, end or tN")
        self.app = app
        self.board = board
        self.kind = kind
        self.when = when
        self.delay = delay
        self.dur = dur
        self.code = EXPECT[kind]
        self.seen_ms = None         # the moment arrived
        self.at_ms = None           # injected
        self.off_ms = None          # removed
        self.detected_ms = None
        self.safe_checks = 0
        self.unsafe = []            # (t_s, why)
        self.product0 = None
        self.product_max = None
        self.product_min = None
        self.cut = False
        self.sample_step = False

    def _moment(self):
        e = self.app.engine
        w = self.when
        if w == "pre":
            return e.index >= 1 and e.nucleation_ms is None and e.state == "running"
        if w == "comp":
            return e.comp
        if w == "final":
            steps = e.profile["steps"] if e.profile else ()
            last = -1
            for i in range(len(steps)):
                if steps[i]["kind"] == "ramp":
                    last = i
            return e.index == last and e.state == "running"
        if w == "end":
            return e.state == "end"
        return self.app.run_ms >= int(w[1:]) * 1000

    def poll(self, ms):
        app = self.app
        b = self.board
        if self.at_ms is None:
            if self.seen_ms is None and app.running() and self._moment():
                self.seen_ms = ms
            if self.seen_ms is not None and ms - self.seen_ms >= self.delay:
                self.at_ms = ms
                self.product0 = b.plant.sample_c
                self.product_max = self.product_min = self.product0
                e = app.engine
                self.sample_step = e.probe == "sample" or _sample_ahead(e)
                if self.kind == "power_cut":
                    self.cut = True
                    return
                apply(app, b, self.kind, True)
            return
        t = b.plant.sample_c
        if t > self.product_max:
            self.product_max = t
        if t < self.product_min:
            self.product_min = t
        if self.dur is not None and self.off_ms is None and ms - self.at_ms >= self.dur:
            self.off_ms = ms
            apply(app, b, self.kind, False)
        if self.detected_ms is None:
            for r in app.alarms.active():
                if r.code == self.code:
                    self.detected_ms = ms
        if self.detected_ms is not None and self.off_ms is None and ms - self.detected_ms >= 1500:
            self._check_safe(ms)

    def _check_safe(self, ms):
        # The documented safe state while the fault is present (docs/safety.md).
        app = self.app
        b = self.board
        ctl = app.ctl
        k = self.kind
        why = None
        if b.alarm_relay:
            why = "alarm relay energised"
        elif k.startswith("chamber_"):
            if ctl.heater_duty > 0.0 or b.heater > 0.0:
                why = "heater on without a chamber reading"
            elif ctl.ln2_duty > _DEGRADED_LN2 + 1e-6:
                why = "LN2 above the degraded cap"
            elif app.engine.state not in ("held", "idle", "stopped"):
                why = "profile not held"
        elif k.startswith("sample_"):
            e = app.engine
            if self.sample_step and (e.probe != "chamber" or not e.no_sample):
                why = "not on the chamber path"
        elif k == "door":
            if b.valve or b.fan:
                why = "valve or fan on with the door open"
        elif k == "valve_stuck":
            if ctl.ln2_duty > 0.0:
                why = "LN2 commanded with the valve stuck open"
        elif k == "heater_stuck":
            if ctl.heater_duty > 0.0:
                why = "heater commanded during a runaway"
        self.safe_checks += 1
        if why is not None and len(self.unsafe) < 5:
            self.unsafe.append((ms // 1000, why))

    def report(self):
        return {"kind": self.kind, "when": self.when, "code": self.code,
                "injected_s": None if self.at_ms is None else self.at_ms / 1000.0,
                "removed_s": None if self.off_ms is None else self.off_ms / 1000.0,
                "detected_s": None if self.detected_ms is None else self.detected_ms / 1000.0,
                "safe_checks": self.safe_checks, "unsafe": self.unsafe,
                "sample_step": self.sample_step,
                "product0_c": self.product0, "product_max_c": self.product_max,
                "product_min_c": self.product_min}




def summary(app, board, inj, raised, exit_code):
    """The fault run's part of run.py's summary."""
    base = board.clock.rtc_s() - board.clock.ms // 1000
    return {"exit": exit_code, "fault": inj.report() if inj is not None else None,
            "alarms_raised": [[t - base, c] for t, c in raised],
            "alarms": [[r.code, r.active, r.acked] for r in app.alarms.active()],
            "state": app.engine.state, "no_sample": app.engine.no_sample,
            "transfer": app.safety.transfer,
            "outputs": {"valve": board.valve, "heater": board.heater, "fan": board.fan,
                        "alarm_relay": board.alarm_relay, "buzzer": board.buzzer},
            "product_c": board.plant.sample_c}
