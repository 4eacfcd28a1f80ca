# The end of the tune, whatever ended it: outputs safe, the result to
# <root>/tune.json (written piece by piece into the file opened at the start),
# the record sealed, the package unloaded. A function of the relay Session.
import json
from crf.record import format as recfmt


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
