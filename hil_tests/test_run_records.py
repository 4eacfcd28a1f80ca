"""Runs and their records over the link: operator actions with who, the open
run's record fetched while it grows, a finished record fetched byte for byte
as it lies on the flash, acknowledgement, events after subscribe, and a run
that line noise and Ctrl-C bytes cannot stop."""

import json
import os
import time

import pytest

from crf_host import records
from crf_host.link import Client, DeviceError
from hil import TIMEOUT_S, open_ended, virtual, wait_for

VF_SPEED = "200"

# Waits for the operator after a short hold: a run that stays open.
OPEN_ENDED = open_ended("hil_wait", 30)


@pytest.fixture
def open_ended(engineer):
    if "hil_wait" not in {p["name"] for p in engineer.profiles()}:
        engineer.push_profile("hil_wait", OPEN_ENDED)
    return "hil_wait"


def _events(data):
    return [(e["event"], e["who"], e["detail"]) for e in records.read_run(data).events]


def test_run_with_operator_actions_is_recorded_and_listed(client, open_ended):
    run = client.run_start(open_ended, batch="B-77", product="HPC", operator="ann")
    st = client.status()
    assert st["state"] == "running" and st["run"] == run and st["record"] == "writing"
    assert st["profile"] == open_ended and st["steps"] == 3 and st["step"] >= 1
    with pytest.raises(DeviceError) as e:
        client.run_start(open_ended, operator="bob")
    assert e.value.name == "busy"
    client.run_hold("bob")
    assert client.status()["state"] == "held"
    with pytest.raises(DeviceError) as e:
        client.run_hold("bob")                    # nothing to hold
    assert e.value.name == "busy"
    client.run_continue("bob")
    client.run_ack("carol")
    client.run_stop("dave")
    st = client.status()
    assert st["state"] == "stopped" and st["record"] == "closed"
    listed = {r["run"]: r for r in client.logs()}
    assert listed[run]["acked"] is False and listed[run]["open"] is False
    data = client.fetch_log(run)
    assert len(data) == listed[run]["bytes"]
    rec = records.read_run(data)
    assert rec.verified, rec.problems
    assert rec.header["batch"] == "B-77" and rec.header["operator"] == "ann"
    ev = _events(data)
    for item in (("start", "ann"), ("hold", "bob"), ("continue", "bob"), ("ack", "carol"),
                 ("stop", "dave")):
        assert item in [(e[0], e[1]) for e in ev], (item, ev)
    audit = [json.loads(x) for x in client.audit().decode().splitlines()]
    mine = [(a["action"], a["who"]) for a in audit if a.get("run") == run]
    assert mine == [("run_start", "ann"), ("run_hold", "bob"), ("run_continue", "bob"),
                    ("run_ack", "carol"), ("run_stop", "dave")], mine


def test_open_run_is_fetched_as_it_grows(client, open_ended):
    run = client.run_start(open_ended, batch="B-open", operator="ann")
    try:
        wait_for("the run waits for the operator",
                 lambda: client.status()["step_note"] == "waiting", timeout_s=60)
        time.sleep(0.5)
        listed = {r["run"]: r for r in client.logs()}
        assert listed[run]["open"] is True
        early = client.fetch_log(run)
        assert len(early) >= listed[run]["bytes"]
        rec = records.read_run(early)
        kinds = {p["kind"] for p in rec.problems}
        assert rec.header["batch"] == "B-open" and kinds <= {"seal"}, rec.problems   # only: not sealed yet
        assert rec.samples and ("step", "controller") in [(e[0], e[1]) for e in _events(early)]
        time.sleep(0.3)
        later = client.fetch_log(run)
        assert len(later) > len(early) and later[:len(early)] == early
    finally:
        client.run_stop("ann")
    final = client.fetch_log(run)
    assert final[:len(later)] == later
    assert records.read_run(final).verified


def test_log_ack_needs_an_engineer_and_a_closed_run(engineer, open_ended):
    run = engineer.run_start(open_ended, operator="ann")
    with pytest.raises(DeviceError) as e:
        engineer.ack_log(run)
    assert e.value.name == "busy"
    engineer.run_stop("ann")
    engineer.ack_log(run)
    engineer.ack_log(run)                          # again: nothing more to do
    assert {r["run"]: r for r in engineer.logs()}[run]["acked"] is True
    with pytest.raises(DeviceError) as e:
        engineer.ack_log(99999)
    assert e.value.name == "not_found"
    assert engineer.fetch_log(run)                 # still there until room is needed
    audit = [json.loads(x) for x in engineer.audit().decode().splitlines()]
    assert {"action": "log_ack", "who": "hil", "run": run}.items() <= audit[-1].items()


def test_events_and_status_arrive_after_subscribe(client, open_ended):
    client.subscribe(status_s=10, events=True)
    run = client.run_start(open_ended, operator="ann")
    try:
        got = []
        wait_for("start and step events and a status frame",
                 lambda: got.extend(client.poll_unsolicited(0.2)) or (
                     {"event", "status"} <= {n for n, _ in got}
                     and "start" in [b.get("event") for n, b in got if n == "event"]))
        ev = [b for n, b in got if n == "event"]
        start = [b for b in ev if b["event"] == "start"][0]
        assert start == {"run": run, "t_s": 0, "event": "start", "who": "ann", "detail": open_ended}
        st = [b for n, b in got if n == "status"][-1]
        assert st["run"] == run and st["state"] in ("running", "held")
    finally:
        client.subscribe(0, False)
        client.run_stop("ann")
    client.poll_unsolicited(0.3)
    time.sleep(0.3)
    assert [n for n, _ in client.poll_unsolicited(0.2)] == []     # unsubscribed: quiet


def test_ctrl_c_and_garbage_during_a_run_do_not_stop_it(client, open_ended):
    run = client.run_start(open_ended, operator="ann")
    try:
        t0 = client.status()["elapsed_s"]
        for _ in range(20):
            client.write_raw(b"\x03" * 8 + os.urandom(500) + b"\x03\r\n\x04\x03")
            time.sleep(0.02)
        client.write_raw(b"\x00")
        wait_for("the run goes on", lambda: client.status()["elapsed_s"] > t0 + 5)
        st = client.status()
        assert st["state"] == "running" and st["run"] == run and st["record"] == "writing"
    finally:
        client.run_stop("ann")


def test_finished_record_fetched_is_the_file_on_the_flash(tmp_path_factory):
    """Against the virtual freezer's own copy (--export-runs) of its flash."""
    if os.environ.get("CRF_PORT"):
        pytest.skip("compares with the virtual freezer's export of its flash")
    out = tmp_path_factory.mktemp("export")
    with virtual(tmp_path_factory, "200", ("--export-runs", str(out))) as vf:
        with Client(vf.port, timeout_s=TIMEOUT_S) as c:
            run = c.run_start("selftest", batch="B-exp", operator="ann")
            time.sleep(1.5)                        # 5 virtual minutes: several journal moves
            c.run_stop("ann")
            c.run_start("selftest", operator="bob")   # another run open meanwhile
            time.sleep(0.3)
            data = c.fetch_log(run)
            c.run_stop("bob")
            second = c.fetch_log(run + 1)
        vf.proc.stdin.close()                      # end of the link: the runner exports and exits
        assert vf.wait(30) == 0, vf.stderr_text()
    assert data == (out / ("%06d.run" % run)).read_bytes()
    assert second == (out / ("%06d.run" % (run + 1))).read_bytes()
    assert len(data) > 2040 and records.read_run(data).verified     # more than one chunk
