# Link commands for runs and their records: start, stop, hold, continue,
# acknowledge; list, fetch (chunked, the open run too) and acknowledge the
# records. Handlers as in cmd_device.py. Start, stop, hold and continue are
# recorded in the run's record by the engine's own events (with the
# operator as who) and here in the audit log.
from crf.link import frame as F
from crf.link.args import Refused, bad, get_int, get_text, operator, profile_name

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_RUN_MAX = const(999999)
_LIST_MAX = const(1800)     # the list reply stops here and says "more"


def _log(s):
    log = s.app.log
    if log is None:
        raise Refused(F.ERR_STORAGE, s.app.log_problem or "run log unavailable")
    return log


def c_run_start(s, a):
    from crf.app import StorageError
    app = s.app
    name = profile_name(a.get("profile"))
    batch = get_text(a, "batch")
    product = get_text(a, "product")
    who = operator(a)
    if app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress")
    try:
        run = app.start_run(name, batch, product, who)
    except StorageError as ex:
        raise Refused(F.ERR_STORAGE, str(ex))
    except ValueError as ex:
        if hasattr(ex, "problems"):         # ProfileError: bad_args, one problem a line
            raise
        raise Refused(F.ERR_BUSY, str(ex))  # e.g. no chamber reading yet
    except OSError:
        raise Refused(F.ERR_NOT_FOUND, "no profile %s" % name)
    s.audit.add(who, "operator", "run_start", {"run": run, "profile": name, "batch": batch,
                                               "product": product})
    return {"run": run}


def _run_op(s, a, action, fn, what):
    who = operator(a)
    run = s.app.record_open()
    if not fn(who):
        raise Refused(F.ERR_BUSY, "nothing to %s" % what)
    s.audit.add(who, "operator", action, {"run": run})
    return {}


def c_run_stop(s, a):
    return _run_op(s, a, "run_stop", s.app.stop, "stop")


def c_run_hold(s, a):
    return _run_op(s, a, "run_hold", s.app.hold, "hold")


def c_run_continue(s, a):
    return _run_op(s, a, "run_continue", s.app.resume, "continue")


def c_run_ack(s, a):
    who = operator(a)
    alarm = a.get("alarm")
    if alarm is not None and not isinstance(alarm, (str, int)):
        raise bad("alarm: an alarm id or null is needed")
    if alarm is not None and alarm not in [r.code for r in s.app.alarms.active()]:
        raise Refused(F.ERR_NOT_FOUND, "no alarm %s is listed" % alarm)
    n = s.app.ack_alarms(who, alarm)    # one alarm_acked event each in the record
    s.record(who, "operator", "run_ack", {"run": s.app.record_open(), "alarm": alarm, "acked": n},
             "ack", "%d alarm(s) acknowledged" % n)
    return {"acked": n}


def c_log_list(s, a):
    log = _log(s)
    after = get_int(a, "after", 0, _RUN_MAX, 0)
    out = []
    size = 20
    more = False
    for run, acked, n in log.runs():
        if run <= after:
            continue
        if size > _LIST_MAX:
            more = True
            break
        is_open = log.is_open(run)
        out.append({"run": run, "acked": acked, "bytes": log.size(run) if is_open else n,
                    "open": is_open})
        size += 60
    r = {"runs": out}  # type: dict
    if more:
        r["more"] = True
    return r


def c_log_fetch(s, a):
    log = _log(s)
    run = get_int(a, "run", 1, _RUN_MAX)
    total = log.size(run)
    if total is None:
        raise Refused(F.ERR_NOT_FOUND, "no run %d" % run)
    return s.chunk_reply(lambda o, n, buf: log.read(run, o, n, buf),
                         get_int(a, "offset", 0, 0x3FFFFFFF, 0), total,
                         get_int(a, "n", 0, F.MAX_CHUNK, F.MAX_CHUNK))


def c_log_ack(s, a):
    log = _log(s)
    run = get_int(a, "run", 1, _RUN_MAX)
    if log.is_open(run):
        raise Refused(F.ERR_BUSY, "run %d is still being recorded" % run)
    if log.file_of(run) is None:
        raise Refused(F.ERR_NOT_FOUND, "no run %d" % run)
    if log.ack(run):
        s.record(s.user, "engineer", "log_ack", {"run": run}, "log_ack",
                 "run %d fetched and acknowledged" % run)
    return {}
