# The profile engine: runs a validated profile step by step and produces the
# setpoints the controller follows. It never touches outputs; time comes in
# as integer milliseconds from the board's clock.
from crf.control.controller import MODE_OFF, MODE_CHAMBER, MODE_SAMPLE
from crf.profile.rules import PROBE_DEFAULT, COMP_DETECT_RISE_C, COMP_MAX_S

IDLE = "idle"
RUNNING = "running"
HELD = "held"       # operator hold: setpoints frozen
END = "end"         # final hold reached: product may be transferred
STOPPED = "stopped"

_MAX_EVENTS = 16
_HIST = 31      # control periods of sample history for the cooling-rate estimate


class Engine:
    def __init__(self):
        self.profile = None
        self.state = IDLE
        self.index = -1
        self.step = None
        self.kind = ""
        self.probe = "chamber"
        self.mode = MODE_OFF
        self.sp = 0.0               # setpoint of the step's controlled probe
        self.sp_chamber = 0.0
        self.sp_sample = 0.0
        self.rate_c_s = 0.0         # signed rate of the controlled setpoint
        self.comp = False           # compensation excursion active
        self.nucleation_ms = None
        self.elapsed_ms = 0         # run time, not counting operator holds
        self.step_ms = 0            # time in the present step
        self.events = []
        self._target = 0.0
        self._run_min = None
        self._peak = None
        self._comp_done = False
        self._comp_ms = 0
        self._hist = [0.0] * _HIST
        self._hist_i = 0
        self._comp_target = 0.0
        self._comp_rate_c_s = 0.0
        self.no_sample = False      # sample probe lost: sample steps follow the chamber path
        self.lead = 0.0             # ... this far from the sample setpoint

    # -- operator commands -------------------------------------------------
    def start(self, profile, chamber_c, sample_c):
        self.profile = profile
        self.state = RUNNING
        self.elapsed_ms = 0
        self.nucleation_ms = None
        self.sp_chamber = chamber_c
        self.sp_sample = sample_c if sample_c is not None else chamber_c
        self.sp = chamber_c
        self.probe = "chamber"
        self.index = -1
        self.no_sample = False
        self._event("start", profile["name"])
        self._enter(0, chamber_c, sample_c, chamber_c)

    def hold(self):
        if self.state == RUNNING:
            self.state = HELD
            self._event("hold", self.index)
            return True
        return False

    def resume(self):
        if self.state == HELD:
            self.state = RUNNING
            self._event("continue", self.index)
            return True
        # "continue" also ends a hold step waiting for the operator
        if self.state == RUNNING and self.kind == "hold" and self.step.get("until") == "operator":
            self._event("continue", self.index)
            self._advance = True
            return True
        return False

    def stop(self):
        if self.state in (RUNNING, HELD, END):
            self.state = STOPPED
            self.mode = MODE_OFF
            self.comp = False
            self._event("stop", self.index)
            return True
        return False

    # -- the engine --------------------------------------------------------
    def _event(self, code, detail):
        if len(self.events) >= _MAX_EVENTS:
            self.events.pop(0)
        self.events.append((self.elapsed_ms, code, detail))

    def _enter(self, i, chamber_c, sample_c, chamber_sp):
        steps = self.profile["steps"]
        prev_probe = self.probe
        self.index = i
        st = steps[i]
        self.step = st
        self.kind = st["kind"]
        self.step_ms = 0
        self.comp = False
        self._advance = False
        self._run_min = None
        self._peak = None
        self._comp_done = False
        self.rate_c_s = 0.0
        kind = self.kind
        probe = st.get("probe", PROBE_DEFAULT.get(kind, "chamber"))
        if kind in ("wait", "jump", "end"):
            ctl = "chamber"
        else:
            ctl = probe
        shift = 0.0
        if ctl == "sample" and self.no_sample:
            ctl = "chamber"
            shift = self.lead
        # Where the setpoint starts: continue the previous path (bumpless).
        if ctl == "sample":
            if prev_probe == "sample":
                sp0 = self.sp_sample
            else:
                sp0 = sample_c if sample_c is not None else chamber_sp
        else:
            sp0 = chamber_sp if prev_probe == "sample" else self.sp_chamber
        self.probe = ctl
        self.mode = MODE_SAMPLE if ctl == "sample" else MODE_CHAMBER
        if kind == "ramp":
            self._target = st["target_c"] + shift
            r = st["rate_c_per_min"] / 60.0
            self.rate_c_s = -r if self._target < sp0 else r
        else:
            self._target = st["target_c"] + shift if "target_c" in st else sp0
            sp0 = self._target
        self.sp = sp0
        self._publish()
        self._event("step", i)

    def _publish(self):
        if self.probe == "sample":
            self.sp_sample = self.sp
        else:
            self.sp_chamber = self.sp

    def _next(self, chamber_c, sample_c, chamber_sp):
        i = self.index + 1
        if i >= len(self.profile["steps"]):
            self.state = END
            return
        self._enter(i, chamber_c, sample_c, chamber_sp)
        if self.kind == "end":
            self.state = END
            self._event("end", i)

    def _exotherm(self, sample_c, rise_c):
        # Nucleation: the sample warms by rise_c above its running minimum
        # while it is being cooled.
        if sample_c is None:
            return False
        if self._run_min is None or sample_c < self._run_min:
            self._run_min = sample_c
            return False
        return sample_c > self._run_min + rise_c

    def _slope(self, sample_c, dt_ms):
        """Sample cooling rate (deg C/s) over the last ~30 s, or None until known."""
        h = self._hist
        if sample_c is None:
            return None
        i = self._hist_i
        h[i % _HIST] = sample_c
        self._hist_i = i + 1
        if i < _HIST:
            return None
        return (sample_c - h[(i + 1) % _HIST]) / ((_HIST - 1) * dt_ms * 0.001)

    def update(self, dt_ms, chamber_c, sample_c, chamber_sp, cfg):
        """Advance one control period. sample_c should be the filtered sample reading;
        chamber_sp is the controller's present chamber setpoint (for bumpless entries)."""
        if self.state != RUNNING and self.state != END:
            return
        self.elapsed_ms += dt_ms
        self.step_ms += dt_ms
        st = self.step
        kind = self.kind
        dt = dt_ms * 0.001
        if self.state == END:
            return
        if kind == "ramp":
            comp = st.get("compensate")
            if comp is not None and not self._comp_done:
                if not self.comp:
                    if self._exotherm(sample_c, comp.get("detect_rise_c", COMP_DETECT_RISE_C)):
                        self.comp = True
                        self._comp_ms = 0
                        self._hist_i = 0
                        self._peak = sample_c
                        self.nucleation_ms = self.elapsed_ms
                        self._event("nucleation", sample_c)
                        self.mode = MODE_CHAMBER
                        self.probe = "chamber"
                        self.sp = chamber_sp
                        self.sp_chamber = chamber_sp
                        self._comp_target = comp["chamber_c"]
                        self._comp_rate_c_s = cfg["comp_rate_c_min"] / 60.0
                        self._event("compensation", self._comp_target)
                        return
                else:
                    self._comp_ms += dt_ms
                    # Drive the chamber down at the fastest rate it can follow,
                    # so it does not overshoot the excursion temperature.
                    sp = self.sp - cfg["comp_rate_c_min"] / 60.0 * dt
                    self.sp = sp if sp > self._comp_target else self._comp_target
                    self.sp_chamber = self.sp
                    if sample_c is not None and sample_c > self._peak:
                        self._peak = sample_c
                    # Done once the latent heat is out: the sample has left its
                    # peak and cools at the programmed rate again (small samples),
                    # or is comp_release_c below the peak (large ones).
                    slope = self._slope(sample_c, dt_ms)
                    done = sample_c is not None and (
                        sample_c <= self._peak - cfg["comp_release_c"]
                        or (sample_c <= self._peak - 0.5 and slope is not None
                            and slope <= self.rate_c_s))
                    if done or self._comp_ms >= comp.get("max_s", COMP_MAX_S) * 1000:
                        # Resume the ramp from where the sample is now.
                        self.comp = False
                        self._comp_done = True
                        if self.no_sample:
                            self._target = st["target_c"] + self.lead
                        else:
                            self.probe = "sample"
                            self.mode = MODE_SAMPLE
                            self.sp = sample_c if sample_c is not None else self.sp_sample
                            self.sp_sample = self.sp
                        self._event("compensation_end", self._comp_ms // 1000)
                    return
            sp = self.sp + self.rate_c_s * dt
            tgt = self._target
            if (self.rate_c_s < 0.0 and sp <= tgt) or (self.rate_c_s >= 0.0 and sp >= tgt):
                self.sp = tgt
                self._publish()
                self._next(chamber_c, sample_c, chamber_sp)
                return
            self.sp = sp
            self._publish()
        elif kind == "hold":
            dur = st.get("duration_s")
            if self._advance or (dur is not None and self.step_ms >= dur * 1000):
                self._next(chamber_c, sample_c, chamber_sp)
        elif kind == "wait":
            v = sample_c if st.get("probe", PROBE_DEFAULT["wait"]) == "sample" else chamber_c
            b = st.get("below_c")
            a = st.get("above_c")
            crossed = v is not None and ((b is not None and v <= b) or (a is not None and v >= a))
            if crossed:
                self._next(chamber_c, sample_c, chamber_sp)
            elif self.step_ms >= st["timeout_s"] * 1000:
                self._event("timeout", self.index)
                self._next(chamber_c, sample_c, chamber_sp)
        elif kind == "jump":
            if st.get("until") == "nucleation":
                if self._exotherm(sample_c, COMP_DETECT_RISE_C):
                    self.nucleation_ms = self.elapsed_ms
                    self._event("nucleation", sample_c)
                    self._next(chamber_c, sample_c, chamber_sp)
                elif self.step_ms >= st["timeout_s"] * 1000:
                    self._event("timeout", self.index)
                    self._next(chamber_c, sample_c, chamber_sp)
            elif self.step_ms >= st["duration_s"] * 1000:
                self._next(chamber_c, sample_c, chamber_sp)
        elif kind == "end":
            self.state = END

    def rate_sample_c_s(self):
        return self.rate_c_s if self.probe == "sample" else 0.0

    def rate_chamber_c_s(self):
        if self.comp:
            return -self._comp_rate_c_s if self.sp > self._comp_target else 0.0
        return self.rate_c_s if self.probe == "chamber" and self.kind == "ramp" else 0.0

    # -- safety (crf.safety) ---------------------------------------------------
    def chamber_path(self, chamber_sp):
        """Sample probe lost: this and later sample-probe steps follow the
        profile's equivalent chamber path: the same rates, on the chamber, at
        the lead the cascade had (at most 10 C below, never above the sample path)."""
        if self.no_sample:
            return
        self.no_sample = True
        lead = chamber_sp - self.sp_sample if self.probe == "sample" else 0.0
        self.lead = -10.0 if lead < -10.0 else (0.0 if lead > 0.0 else lead)
        if self.probe == "sample":
            self.probe = "chamber"
            self.mode = MODE_CHAMBER
            self.sp = chamber_sp
            self.sp_chamber = chamber_sp
            if self.kind == "ramp":
                self._target += self.lead
            elif self.kind == "hold":
                self._target = chamber_sp
                self.sp = chamber_sp
