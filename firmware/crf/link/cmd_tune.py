# Link commands for the chamber-loop autotune (docs/commissioning.md):
# tune_start (engineer), tune_status (progress + live oscillation samples),
# tune_stop (anyone: stopping is always safe), tune_result (chunked
# transfer of <root>/tune.json), tune_apply (engineer: the proposal into the
# audited configuration through config_set). Handlers as in cmd_device.py.
# This module stays small: the tune (crf.tune) is loaded by tune_start and
# unloaded when the tune ends; tune_result and tune_apply load their code
# (crf.tune.apply) for the command only.
from crf.link import frame as F
from crf.link.args import Refused, get_int, operator

_PARTS = ("crf.tune.identify", "crf.tune.rule", "crf.tune.settle", "crf.tune.cycle",
          "crf.tune.relay", "crf.tune.conclude", "crf.tune.result",
          "crf.tune.session")


def _drop():
    from crf import lazy
    lazy.forget_package("crf.tune")


def _load(names):
    # One module at a time, a collection before each: the compiler needs
    # the heap in large pieces (docs/architecture.md).
    import gc
    import sys
    for m in names:
        gc.collect()
        try:
            __import__(m)
        except MemoryError as ex:
            _drop()
            gc.collect()
            raise MemoryError("not enough free memory to load the autotune (%s: %s; %d bytes free)"
                              % (m, ex, gc.mem_free()))
    return sys.modules[names[-1]]


def start(app, a, who):
    """Start a tune (tune_start and the virtual freezer's --autotune): the
    session, or ValueError (NotNow: the freezer's state) / MemoryError."""
    return _load(_PARTS).begin(app, a, who)


def _busy(s):
    # Refused before any of the tune's code is loaded: nothing is compiled
    # on the heap of a running freezer.
    if s.app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress: the autotune works between runs")
    if s.app.tuning is not None:
        raise Refused(F.ERR_BUSY, "an autotune is in progress (tune_status shows it)")


def c_tune_start(s, a):
    who = s.engineer()
    _busy(s)
    try:
        t = start(s.app, a, who)
    except ValueError as ex:
        raise Refused(F.ERR_BUSY if type(ex).__name__ == "NotNow" else F.ERR_BAD_ARGS, str(ex))
    except MemoryError as ex:
        raise Refused(F.ERR_BUSY, str(ex))
    s.audit.add(who, "engineer", "tune_start", t.facts())
    return {"run": t.run_id, "at": t.at}


def c_tune_status(s, a):
    t = s.app.tuning
    if t is None:
        return {"active": False}
    r = t.status(get_int(a, "since", 0, 0x3FFFFFFF, 0))
    r["active"] = True
    return r


def c_tune_stop(s, a):
    t = s.app.tuning
    if t is None:
        raise Refused(F.ERR_BUSY, "no autotune in progress")
    user = s.auth.engineer()
    who = user or operator(a)
    t.finish("stopped", "stopped by %s" % who)
    s.audit.add(who, "engineer" if user else "operator", "tune_stop", {"run": t.run_id})
    return {}


def _other(s, a, name):
    _busy(s)
    try:
        return getattr(_load(("crf.tune.apply",)), name)(s, a)
    except MemoryError as ex:
        raise Refused(F.ERR_BUSY, str(ex))
    finally:
        _drop()


def c_tune_result(s, a):
    return _other(s, a, "result")


def c_tune_apply(s, a):
    s.engineer()
    return _other(s, a, "apply")
