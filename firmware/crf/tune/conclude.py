# The end of the relay test at one temperature: the model (identify.py),
# the gains (rule.py) and their sanity checks; then the next temperature, or
# the proposal over all of them and the end of the tune. Refusals end the
# tune saying why. A function of the relay Session (relay.py).
from crf.tune import identify, rule
from crf.tune.relay import SKIP


def conclude(self):
    # The relay part of this temperature is over: identify, tune, go on.
    dt = self.app.cfg["control_period_ms"] * 0.001
    r = {"at_c": self.target, "minutes": round(self.temp_ms / 60000.0, 2),
         "noise_c": round(self.noise, 4), "eps_c": round(self.eps, 4),
         "d_w": round(self.d, 1), "u0_w": round(self.u0, 1)}
    self.results.append(r)
    k = self.nstep
    th = identify.dead_time(self.step_t[:k], self.step_v[:k], self.noise, self.eps, dt)
    r["step_dead_time_s"] = th
    k = self.nsw
    fig, why = identify.cycles(self.sw_t[:k], self.peak_v[:k - 1], SKIP, self.noise)
    if fig is None:
        return self.finish("refused", "%.1f C: %s" % (self.target, why))
    r["relay"] = fig
    if th is None:
        return self.finish("refused", "%.1f C: the chamber did not cool when the LN2 valve opened "
                           "(check the valve and the supply)" % self.target)
    m = identify.model(fig["a_c"], self.eps, self.d, fig["pu_s"], th, dt)
    g = rule.simc(m)
    if isinstance(g, str):
        return self.finish("refused", "%.1f C: %s" % (self.target, g))
    if m[0] == "int":
        r["model"] = {"kind": "integrating", "k_k_per_ws": m[1], "theta_s": round(m[2], 2)}
    else:
        r["model"] = {"kind": "fopdt", "k_k_per_w": m[1], "tau_s": round(m[2], 2),
                      "theta_s": round(m[3], 2)}
    r["gains"] = {"kp": g[0], "ki": g[1], "kd": g[2]}
    self.app.note("note", self.who, "tune: %.1f C: %s, kp %.1f ki %.2f" % (
        self.target, r["model"]["kind"], g[0], g[1]))
    self.index += 1
    if self.index < len(self.at):
        self._begin(self.at[self.index])
        self.ctl_reset = True
        self.phase_note()
        return None
    self.proposal, self.spread = rule.proposal(
        [(x["at_c"], x["gains"]["kp"], x["gains"]["ki"], x["gains"]["kd"]) for x in self.results])
    return self.finish("done", None)
