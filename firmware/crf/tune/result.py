# The end of a test temperature (identify the model, compute the gains,
# go on) and of the tune (outputs safe, tune.json, record sealed, unload);
# the tune's run record and tune_status. Functions of the relay Session.
import json
from crf.record import format as recfmt
from crf.tune import identify, rule
from crf.tune.relay import SKIP, MEASURE, RING

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

LOG_MS = const(1000)        # the tune's record: one sample a second


def conclude(self):
    # The relay part of this temperature is over: identify, tune, go on.
    r = {"at_c": self.target, "minutes": round(self.temp_ms / 60000.0, 2),
         "noise_c": round(self.noise, 4), "eps_c": round(self.eps, 4),
         "d_w": round(self.d, 1), "u0_w": round(self.u0, 1)}
    self.results.append(r)
    k = self.nstep
    th_step = identify.dead_time(self.step_t[:k], self.step_v[:k], self.noise, self.eps)
    r["step_dead_time_s"] = th_step
    k = self.nsw
    fig, why = identify.cycles(self.sw_t[:k], self.peak_v[:k - 1], self.peak_t[:k - 1], SKIP)
    if fig is None:
        return finish(self, "refused", "%.1f C: %s" % (self.target, why))
    r["relay"] = {"a_c": round(fig["a_c"], 4), "pu_s": round(fig["pu_s"], 2),
                  "peak_lag_s": round(fig["theta_s"], 2), "cycles": fig["cycles"],
                  "center_c": round(fig["center_c"], 3)}
    if th_step is None:
        return finish(self, "refused", "%.1f C: the chamber did not cool when the LN2 valve opened "
                           "(check the valve and the supply)" % self.target)
    model = identify.model(fig["a_c"], self.eps, self.d, fig["pu_s"], th_step)
    g = rule.simc(model)
    if isinstance(g, str):
        return finish(self, "refused", "%.1f C: %s" % (self.target, g))
    if model[0] == "int":
        r["model"] = {"kind": "integrating", "k_k_per_ws": model[1], "theta_s": round(model[2], 2)}
    else:
        r["model"] = {"kind": "fopdt", "k_k_per_w": model[1], "tau_s": round(model[2], 2),
                      "theta_s": round(model[3], 2)}
    r["gains"] = {"kp": g[0], "ki": g[1], "kd": g[2]}
    self.app.note("note", self.who, "tune: %.1f C: %s, kp %.1f ki %.2f" % (
        self.target, r["model"]["kind"], g[0], g[1]))
    self.index += 1
    if self.index < len(self.at):
        self._begin(self.at[self.index])
        self.ctl_reset = True
        self.phase_note()
        return None
    pts = [(x["at_c"], x["gains"]["kp"], x["gains"]["ki"], x["gains"]["kd"]) for x in self.results]
    prop, spread = rule.proposal(pts)
    self.proposal = prop
    self.spread = spread
    return finish(self, "done", None)

# -- the end -------------------------------------------------------------


def open_record(self, a):
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
    try:
        self.run_id = log.open_run(h, len(self.at) * self.limit_ms // 1000, LOG_MS)
    except (OSError, ValueError) as ex:
        raise ValueError("the tune's record cannot be written: %s" % ex)


def status(self, since):
    n = self.n
    first = since if since > n - RING else n - RING
    if first < 0:
        first = 0
    if n - first > 60:
        first = n - 60
    pts = []
    for k in range(first, n):
        i = k % RING
        pts.append([round(self.ring_c[i], 3), round(self.ring_w[i], 1)])
    return {"state": self.state, "phase": self.phase, "at_c": self.target,
            "index": self.index + 1, "of": len(self.at), "t_s": self.t_ms // 1000,
            "phase_s": self.phase_ms // 1000, "half_cycles": self.nsw - 1 if self.phase == "relay" else 0,
            "half_cycles_needed": SKIP + MEASURE, "eps_c": self.eps, "d_w": self.d,
            "u0_w": self.u0, "sp_c": self.sp, "n": n, "first": first, "samples": pts,
            "run": self.run_id}


def finish(self, state, reason):
    """End the tune: outputs safe, result to the flash, record sealed, unloaded."""
    from crf.tune.session import result_path, unload
    app = self.app
    ctl = app.ctl
    ctl.ln2_duty = 0.0
    ctl.heater_duty = 0.0
    ctl.reset()
    self.state = state
    self.reason = reason
    out = {"state": state, "reason": reason, "at": self.at, "results": self.results,
           "minutes": round(self.t_ms / 60000.0, 2), "run": self.run_id, "who": self.who,
           "rtc_s": app.clock.rtc_s(), "limits": {"band_c": self.band, "min_c": self.lo,
                                                  "max_c": self.hi,
                                                  "minutes": self.limit_ms // 60000}}
    if state == "done":
        out["proposal"] = self.proposal
        out["schedule_spread"] = round(self.spread, 3)
        out["current"] = {k: app.cfg.get(k) for k in self.proposal}
    detail = "tune: %s%s" % (state, "" if reason is None else ": " + reason)
    app.note("note", self.who, detail[:200])
    # Written piece by piece into the file opened at the start: no large
    # string and no open() at the end of the tune on a fragmented heap.
    f = self.rf
    self.rf = None
    try:
        if f is None:
            raise OSError("result file not open")
        sep = "{"
        for k in out:
            f.write(sep + json.dumps(k) + ":")
            sep = ","
            v = out[k]
            if k == "results":
                c = "["
                for x in v:
                    f.write(c)
                    f.write(json.dumps(x))
                    c = ","
                f.write("[]" if c == "[" else "]")
            else:
                f.write(json.dumps(v))
        f.write("}")
        f.close()
        f = None
        path = result_path(app.board.storage_root)
        import os
        os.rename(path[:-5] + ".tmp", path)
    except (OSError, MemoryError) as ex:
        app.note("note", self.who, "tune: result not stored: %r" % ex)
    if f is not None:
        f.close()
    log = app.log
    if log is not None and log.f is not None:
        log.seal(self.t_ms, app.clock.rtc_s(),
                 recfmt.SEAL_COMPLETED if state == "done" else recfmt.SEAL_STOPPED)
    app.run_ms = 0
    unload(app)
    return None
