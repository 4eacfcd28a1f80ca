# Link commands for the chamber-loop autotune (docs/commissioning.md):
# tune_start (engineer), tune_status (progress + live oscillation samples),
# tune_stop (anyone: stopping is always safe), tune_result, tune_apply
# (engineer: the proposed gains into the audited configuration, through
# config_set). Handlers as in cmd_device.py. The tune itself (crf.tune) is
# imported only by tune_start and unloaded when the tune ends; this module
# stays small. The result lives in <root>/tune.json until the next tune.
import json
from crf.link import frame as F
from crf.link.args import Refused, get_int, operator


def _path(s):
    return (s.root if s.root != "/" else "") + "/tune.json"


def start(app, a, who):
    """Start a tune (link and the virtual freezer's --autotune); the session,
    or ValueError / session.NotNow saying why not."""
    import gc
    # One module at a time, with a collection before each: the compiler's
    # scratch needs the heap in large pieces (docs/architecture.md).
    for m in ("crf.tune.identify", "crf.tune.rule", "crf.tune.settle", "crf.tune.relay", "crf.tune.result",
              "crf.tune.session"):
        gc.collect()
        __import__(m)
    gc.collect()
    from crf.tune import session
    try:
        return session.start(app, a, who)
    except Exception:
        if app.tuning is None:
            session.unload(app)
        raise


def c_tune_start(s, a):
    who = s.engineer()
    app = s.app
    if app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress: tune between runs")
    if app.tuning is not None:
        raise Refused(F.ERR_BUSY, "an autotune is already in progress")
    try:
        t = start(app, a, who)
    except ValueError as ex:
        busy = type(ex).__name__ == "NotNow"
        raise Refused(F.ERR_BUSY if busy else F.ERR_BAD_ARGS, str(ex))
    s.audit.add(who, "engineer", "tune_start", {"at": t.at, "run": t.run_id, "band_c": t.band,
                                                "min_c": t.lo, "max_c": t.hi,
                                                "minutes": t.limit_ms // 60000})
    return {"run": t.run_id, "at": t.at}


def c_tune_status(s, a):
    t = s.app.tuning
    if t is not None:
        r = t.status(get_int(a, "since", 0, 0x3FFFFFFF, 0))
        r["active"] = True
        return r
    r = _read(s)
    return {"active": False, "state": r.get("state") if r else None,
            "reason": r.get("reason") if r else None}


def c_tune_stop(s, a):
    t = s.app.tuning
    if t is None:
        raise Refused(F.ERR_BUSY, "no autotune in progress")
    user = s.auth.engineer()
    who = user or operator(a)
    t.finish("stopped", "stopped by %s" % who)
    s.audit.add(who, "engineer" if user else "operator", "tune_stop", {"run": t.run_id})
    return {}


def _read(s):
    try:
        with open(_path(s)) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def c_tune_result(s, a):
    if s.app.tuning is not None:
        raise Refused(F.ERR_BUSY, "the autotune is still running (tune_status shows its progress)")
    r = _read(s)
    if r is None:
        raise Refused(F.ERR_NOT_FOUND, "no autotune result on this freezer")
    return r


def c_tune_apply(s, a):
    who = s.engineer()
    app = s.app
    if app.tuning is not None:
        raise Refused(F.ERR_BUSY, "the autotune is still running")
    r = _read(s)
    if r is None:
        raise Refused(F.ERR_NOT_FOUND, "no autotune result on this freezer")
    if r.get("state") != "done" or not r.get("proposal"):
        raise Refused(F.ERR_CONFLICT, "the last autotune proposed no gains (%s: %s)"
                      % (r.get("state"), r.get("reason")))
    from crf.link.cmd_device import c_config_set
    reply = c_config_set(s, {"values": r["proposal"]})      # checked, written, audited
    s.audit.add(who, "engineer", "tune_apply", {"run": r.get("run"), "changed": reply["changed"]})
    return {"changed": reply["changed"], "run": r.get("run")}
