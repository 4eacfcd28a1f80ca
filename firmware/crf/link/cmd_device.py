# Link commands about the device, the ones a host uses all the time:
# identity, status, login and subscriptions (the clock, configuration, audit
# log, restart and REPL are in cmd_admin.py, loaded when asked). Each
# c_<command>(s, a)
# takes the server and the request's arguments and returns the reply
# (a dict, or the data length of a transfer chunk in s.chunk); it raises
# Refused for an error reply. Contract: docs/protocol.md.
import os
from crf.link import frame as F
from crf.link import auth
from crf.link.args import Refused, bad, get_int, get_text

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_STATUS_MAX_S = const(3600)


def _r2(v):
    return None if v is None else round(v, 2)


def c_identify(s, a):
    from crf.app import FW_VERSION, MODEL
    b = s.board
    st = os.statvfs(s.root)
    return {"model": MODEL, "serial": b.serial, "fw": FW_VERSION, "protocol": F.VERSION,
            "board": b.name, "flash_bytes": st[0] * st[2], "free_flash_bytes": st[0] * st[3]}


def c_status(s, a):
    # Cheap: attributes only, no flash access (also sent every status_s).
    app = s.app
    e = app.engine
    log = app.log
    st = e.step
    ctl = app.ctl
    rem = None
    if app.running() and app.planned_s:
        rem = app.planned_s - e.elapsed_ms // 1000
        if rem < 0:
            rem = 0
    record = None
    if log is None:
        record = "unavailable"
    elif log.failed:
        record = "failed"
    elif log.run_id is not None:
        record = "writing" if log.f is not None else "closed"
    return {"state": e.state, "profile": app.profile_name,
            "step": e.index + 1 if e.profile else 0,
            "steps": len(e.profile["steps"]) if e.profile else 0,
            "step_note": st.get("note") if st else None, "kind": e.kind or None,
            "probe": e.probe, "chamber_c": _r2(app.chamber_c), "sample_c": _r2(app.sample_c),
            "sp_chamber_c": _r2(ctl.chamber_sp) if e.mode else None,
            "sp_sample_c": _r2(e.sp_sample) if e.mode and e.probe == "sample" else None,
            "ln2_duty": round(ctl.ln2_duty, 3), "heater_duty": round(ctl.heater_duty, 3),
            "valve": app.valve_on, "comp": e.comp, "elapsed_s": e.elapsed_ms // 1000,
            "remaining_s": rem, "run": log.run_id if log else None, "record": record,
            "interrupted": log.interrupted if log else None,
            "alarms": [{"code": r.code, "text": r.text, "since_s": r.since_s, "acked": r.acked,
                        "active": r.active} for r in app.alarms.active()],
            "transfer": app.safety.transfer,
            "rtc_s": s.clock.rtc_s(),
            "role": "engineer" if s.auth.active() else "operator"}


def c_auth_challenge(s, a):
    return s.auth.challenge()


def c_auth_login(s, a):
    user = get_text(a, "user") or "engineer"
    mac = a.get("mac")
    ok, why = s.auth.login(user, mac if isinstance(mac, str) else "")
    if ok:
        s.record(user, "engineer", "login", {"result": "ok"}, "auth", "login")
        return {"role": "engineer", "expires_s": auth.SESSION_MS // 1000}
    # Wrong PINs and the lockout are recorded; refusals while locked are not
    # (each would cost a flash write).
    if why == "locked":
        s.record(user, "engineer", "login", {"result": "locked"}, "auth",
                 "wrong PIN %d times: logins locked" % auth.FAILS_MAX)
        why = "wrong PIN, locked for %d s" % (auth.LOCK_MS // 1000)
    elif why.startswith("wrong PIN"):
        s.record(user, "engineer", "login", {"result": "failed"}, "auth", "wrong PIN")
    raise Refused(F.ERR_DENIED, why)


def c_auth_logout(s, a):
    user = s.auth.logout()
    if user is not None:
        s.record(user, "engineer", "logout", None, "auth", "logout")
    return {}


def c_subscribe(s, a):
    period = get_int(a, "status_s", 0, _STATUS_MAX_S, 0)
    ev = a.get("events", False)
    if not isinstance(ev, bool):
        raise bad("events: true or false is needed")
    s.status_ms = period * 1000
    s.events = ev
    s.status_t = s.clock.ticks_ms()
    return {}
