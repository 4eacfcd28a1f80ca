"""The front panel end to end on the virtual freezer, operated only through
the link: `button` presses (simulation only) and `screen` reads, like an
operator at the panel. A run started at the panel with a batch id shows in
`status`; a short STOP does nothing; a long STOP plus OK stops it; the run's
record names the panel's operator for each action."""

import base64

import pytest

from crf_host import records
from crf_host.link import DeviceError
from hil import wait_for

VF_SPEED = "20"                 # confirmations time out in virtual seconds
VF_ARGS = ("--panel", "on")
CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_."


def _idle(c):
    """The panel has taken every press and drawn the result."""
    def done():
        r = c.screen()
        return r if r.get("pending_presses") == 0 and not r["busy"] else None
    return wait_for("panel idle", done, timeout_s=20)


def press(c, button, ms=200):
    c.button(button, ms)
    return _idle(c)


def type_text(c, text, cand=0):
    """Text entry: UP/DOWN to each character, OK to add it; returns the candidate index."""
    sent = [0]

    def btn(name):
        if sent[0] >= 12:               # the virtual panel queues at most 16 presses
            _idle(c)
            sent[0] = 0
        c.button(name, 200)
        sent[0] += 1

    for ch in text:
        want = CHARS.index(ch)
        n = len(CHARS)
        up = (want - cand) % n
        down = (cand - want) % n
        for _ in range(min(up, down)):
            btn("UP" if up <= down else "DOWN")
        cand = want
        btn("OK")
    _idle(c)
    return cand


def _home(c):
    for _ in range(6):
        r = _idle(c)
        if r["screen"] == "home":
            return r
        press(c, "STOP")
    raise AssertionError(f"panel not back on the status screen: {r['screen']}")


def start_from_panel(c, batch, operator, profile="hpc_bag"):
    _home(c)
    assert press(c, "OK")["screen"] == "menu"
    r = press(c, "OK")                                       # "Start run"
    assert r["screen"] == "profiles", (r.get("last_fault"), r["screen"])
    names = sorted(p["name"] for p in c.profiles())
    for _ in range(names.index(profile)):
        press(c, "DOWN")
    r = press(c, "OK")
    assert r["screen"] == "preview", r.get("message")
    r = press(c, "OK")
    assert r["screen"] == "entry", (r["screen"], r["hint"], r["last_fault"], r["message"])  # batch id
    type_text(c, batch)
    press(c, "OK", 2500)                                     # hold OK: done
    assert _idle(c)["screen"] == "entry"                     # product (optional)
    press(c, "OK", 2500)
    type_text(c, operator)                                   # operator id
    press(c, "OK", 2500)
    assert _idle(c)["screen"] == "confirm_start"
    r = press(c, "OK")
    assert r["screen"] == "home", (r["message"], r["heap_free"])


def test_screen_returns_the_display(client):
    r = _home(client)
    buf = base64.b64decode(r["fb"])
    assert (r["width"], r["height"], r["format"]) == (128, 64, "MONO_VLSB")
    assert len(buf) == 1024 and any(buf), "the status screen is not blank"


def test_bad_button_names_the_problem(client):
    with pytest.raises(DeviceError) as e:
        client.button("FIRE")
    assert e.value.name == "bad_args" and "FIRE" in e.value.detail


def test_panel_run_short_stop_long_stop_and_record(client):
    start_from_panel(client, "B7", "OP1")
    st = client.status()
    assert st["state"] == "running" and st["profile"] == "hpc_bag"
    run = st["run"]
    assert client.screen()["operator"] == "OP1"
    # a short STOP does nothing (a hint at most)
    r = press(client, "STOP")
    assert r["screen"] == "home" and r["hint"]
    assert client.status()["state"] == "running"
    # all four at once: nothing happens
    press(client, ["UP", "DOWN", "OK", "STOP"], 3000)
    assert client.status()["state"] == "running"
    assert _idle(client)["screen"] == "home"
    # hold from the menu, continue, then the long STOP and its confirmation
    assert press(client, "OK")["screen"] == "menu"
    press(client, "OK")                                      # "Hold"
    assert client.status()["state"] == "held"
    press(client, "OK")
    press(client, "OK")                                      # "Continue"
    assert client.status()["state"] == "running"
    r = press(client, "STOP", 2500)
    assert r["screen"] == "confirm_stop"
    assert client.status()["state"] == "running"             # not before the OK
    press(client, "OK")
    st = wait_for("run stopped", lambda: (lambda s: s if s["state"] == "stopped" else None)(client.status()))
    assert st["record"] == "closed"
    rec = records.read_run(client.fetch_log(run))
    assert rec.verified, rec.problems
    assert rec.header["batch"] == "B7" and rec.header["operator"] == "OP1"
    ev = [(e["event"], e["who"]) for e in rec.events]
    for want in (("start", "OP1"), ("hold", "OP1"), ("continue", "OP1"), ("stop", "OP1")):
        assert want in ev, ev


def _door_alarm(c):
    return [a for a in c.status()["alarms"] if a["code"] == "door_open"]


def test_alarm_acknowledged_at_the_panel(client):
    # During a run the door opens (sim_fault, virtual freezer only; an open
    # door between runs is loading, not an alarm): the alarm comes up, OK on
    # the status screen opens the alarm list, OK there acknowledges it (the
    # buzzer stops); it stays listed while the door is open.
    _home(client)
    run = client.run_start("hpc_bag", batch="B-AL", operator="OP2")
    client.request("sim_fault", {"kind": "door", "on": True})
    try:
        wait_for("door alarm", lambda: [a for a in _door_alarm(client) if not a["acked"]] or None,
                 timeout_s=30)
        wait_for("panel sees the alarm", lambda: (lambda r: r if r["alarms"] else None)(_idle(client)))
        r = press(client, "OK")
        assert r["screen"] == "alarms", r["screen"]
        r = press(client, "OK")                                   # acknowledge
        (a,) = _door_alarm(client)
        assert a["acked"] and a["active"]                         # silenced, still listed
        assert r["alarms"] == 0
    finally:
        client.request("sim_fault", {"kind": "door", "on": False})
    wait_for("door alarm cleared", lambda: not _door_alarm(client) or None, timeout_s=60)
    client.run_stop("OP2")
    ev = [(e["event"], e["detail"]) for e in records.read_run(client.fetch_log(run)).events]
    assert ("alarm_acked", "door_open") in ev, ev
    _home(client)


def test_button_refused_without_simulation(client):
    # The virtual freezer accepts it; the refusal on real hardware is the
    # handler's (covered in tests/panel/test_panel_link.py).
    assert "queued" in client.button("UP", 50)
    _idle(client)
