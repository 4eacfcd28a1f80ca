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


_PARTS = ("crf.tune.identify", "crf.tune.rule", "crf.tune.settle", "crf.tune.cycle",
          "crf.tune.relay", "crf.tune.conclude", "crf.tune.record", "crf.tune.result",
          "crf.tune.session")


def _drop():
    import sys
    import crf
    for m in _PARTS + ("crf.tune",):
        sys.modules.pop(m, None)
    if hasattr(crf, "tune"):
        delattr(crf, "tune")


def start(app, a, who):
    """Start a tune (link and the virtual freezer's --autotune); the session,
    or ValueError / session.NotNow saying why not."""
    import gc
    # One module at a time, with a collection before each: the compiler's
    # scratch needs the heap in large pieces (docs/architecture.md).
    for m in _PARTS:
        gc.collect()
        try:
            __import__(m)
        except MemoryError as ex:
            _drop()
            gc.collect()
            raise MemoryError("not enough free memory to load the autotune (%s: %s; %d bytes free)"
                              % (m, ex, gc.mem_free()))
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
    except MemoryError as ex:
        raise Refused(F.ERR_BUSY, str(ex))
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
    import gc
    gc.collect()                # the file's text in one piece
    try:
        with open(_path(s)) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def c_tune_result(s, a):
    """The last tune's result (tune.json) as a chunked transfer, read straight
    into the link's chunk buffer: no copy of the text on the heap."""
    if s.app.tuning is not None:
        raise Refused(F.ERR_BUSY, "the autotune is still running (tune_status shows its progress)")
    import os
    from crf.record.reader import read_at
    path = _path(s)
    try:
        total = os.stat(path)[6]
    except OSError:
        raise Refused(F.ERR_NOT_FOUND, "no autotune result on this freezer")
    with open(path, "rb") as f:
        return s.chunk_reply(lambda o, n, buf: read_at(f, buf, o, n),
                             get_int(a, "offset", 0, 0x3FFFFFFF, 0), total,
                             get_int(a, "n", 0, F.MAX_CHUNK, F.MAX_CHUNK))


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
