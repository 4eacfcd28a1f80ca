# Boot-time safety (imported once by crf.safety.guard, then dropped): the
# reset cause, a run cut off by an outage or a watchdog reset, and the
# hardware watchdog switched on.
from crf.safety.guard import WATCHDOG_MS


def start(g):
    app = g.app
    al = g.alarms
    b = app.board
    cause = b.reset_cause() if hasattr(b, "reset_cause") else None
    log = app.log
    facts = log.interrupted if log is not None and log.f is not None else None
    if cause == "watchdog":
        al.raise_(12, "controller restarted by the watchdog")      # watchdog
    if facts is not None:
        g.recover = facts        # decided at the first tick with a chamber reading
        al.raise_(11, "outage_s=%s" % facts.get("outage_s"))        # power_fail
    if hasattr(b, "enable_watchdog"):
        b.enable_watchdog(WATCHDOG_MS)
    g._outputs()
