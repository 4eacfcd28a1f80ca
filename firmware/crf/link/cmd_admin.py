# Link commands for an engineer's occasional work: the clock, configuration,
# the audit log, restart and REPL (and sim_fault on the virtual freezer).
# Loaded for the request and dropped after (server.py, crf/lazy.py).
# Handlers as in cmd_device.py; contract: docs/protocol.md.
import os
from crf.link import frame as F
from crf.link.args import Refused, bad, get_int, get_text, operator

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_RTC_MIN = const(946684800)     # 2000-01-01
_RTC_MAX = 4102444800           # 2100-01-01 (beyond a small int on 32-bit ports)


def c_time_set(s, a):
    rtc = get_int(a, "rtc_s", _RTC_MIN, _RTC_MAX)
    user = s.auth.engineer()
    if user is not None:
        who, role = user, "engineer"
    elif s.app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress: only an engineer may set the clock")
    else:
        who, role = operator(a), "operator"
    c = s.clock
    old = c.rtc_s()
    c.set_rtc_s(rtc)
    s.record(who, role, "time_set", {"old_rtc_s": old, "rtc_s": rtc}, "clock_set",
             "clock set from %s to %d" % (old, rtc))
    return {"rtc_s": c.rtc_s(), "old_rtc_s": old}


def c_config_get(s, a):
    return {"config": s.app.cfg}


def c_config_set(s, a):
    values = a.get("values")
    if not isinstance(values, dict) or not values:
        raise bad("values: an object of settings is needed")
    app = s.app
    if app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress: configuration is changed between runs")
    if getattr(app, "tuning", None) is not None:
        raise Refused(F.ERR_BUSY, "an autotune is in progress: configuration is changed after it")
    cur = app.cfg
    merged = dict(cur)
    merged.update(values)
    from crf import config              # (dropped with this module, server.py)
    new = config.check(merged)          # ConfigError names the key
    changed = {}
    for k in new:
        if new[k] != cur.get(k):
            changed[k] = [cur.get(k), new[k]]
    if changed:
        import json
        keep = {}                       # config.json holds what differs from the defaults
        for k in new:
            if new[k] != config.DEFAULTS[k]:
                keep[k] = new[k]
        tmp = app.config_path[:-5] + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(keep))
        os.rename(tmp, app.config_path)
        app.apply_config(new)
        s.record(s.user, "engineer", "config_set", {"changed": changed}, "config_change",
                 "; ".join("%s %s -> %s" % (k, v[0], v[1]) for k, v in changed.items()))
    return {"config": new, "changed": changed}


def c_audit_fetch(s, a):
    au = s.audit
    return s.chunk_reply(au.read, get_int(a, "offset", 0, 0x3FFFFFFF, 0), au.size,
                         get_int(a, "n", 0, F.MAX_CHUNK, F.MAX_CHUNK))


def _leave_later(s, what):
    if s.app.running():
        raise Refused(F.ERR_BUSY, "a run is in progress")
    s.record(s.user, "engineer", what, None, "note", what + " requested")
    s.exit = (what, s.clock.ticks_ms())
    return {}


def c_sim_fault(s, a):
    # Fault injection on the virtual freezer; real boards have no sim_fault.
    fn = getattr(s.board, "sim_fault", None)
    if fn is None:
        raise Refused(F.ERR_UNKNOWN_COMMAND, "sim_fault: simulation only")
    fn(get_text(a, "kind"), a.get("on", True) is not False)
    return {}


def c_restart(s, a):
    return _leave_later(s, "restart")


def c_repl(s, a):
    return _leave_later(s, "repl")
