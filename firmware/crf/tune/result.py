# The end of the tune, whatever ended it: outputs safe, the result to
# the record sealed, the package unloaded, then the result to
# <root>/tune.json (written piece by piece). A function of the relay Session.
import json
from crf.record import format as recfmt


def finish(self, state, reason):
    """End the tune: outputs safe, result to the flash, record sealed, unloaded."""
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
    log = app.log
    if log is not None and log.f is not None:
        log.seal(self.t_ms, app.clock.rtc_s(),
                 recfmt.SEAL_COMPLETED if state == "done" else recfmt.SEAL_STOPPED)
    app.run_ms = 0
    # The package goes first: the code it frees leaves room for open()
    # (~1 KB in one piece) on a heap the tune has fragmented.
    root = app.board.storage_root
    unload(app)
    self.ring_c = self.ring_w = self.step_t = self.step_v = None
    import gc
    gc.collect()
    path = result_path(root)
    try:
        with open(path[:-5] + ".tmp", "w") as f:
            sep = "{"
            for k in out:
                f.write(sep + json.dumps(k) + ":")
                sep = ","
                v = out[k]
                if k == "results":      # one temperature at a time: no long string
                    c = "["
                    for x in v:
                        f.write(c)
                        f.write(json.dumps(x))
                        c = ","
                    f.write("[]" if c == "[" else "]")
                else:
                    f.write(json.dumps(v))
            f.write("}")
        import os
        os.rename(path[:-5] + ".tmp", path)
    except (OSError, MemoryError) as ex:
        app.note("note", self.who, "tune: result not stored: %r" % ex)
    return None


RESULT = "/tune.json"


def result_path(root):
    return (root if root != "/" else "") + RESULT


def unload(app):
    """Drop the session and the crf.tune package: no heap kept between tunes."""
    from crf import lazy
    app.tuning = None
    lazy.forget_package("crf.tune")
    import gc
    gc.collect()
    app.keep_reserve()          # the tune's code is gone: room for the next record's start
