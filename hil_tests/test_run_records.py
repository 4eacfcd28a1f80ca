"""Run records over the serial link: a run started with batch and operator
ids gets a run number, its record is written while it runs, and it is listed
after the operator stops it; acknowledging marks it as fetched."""

import time

from test_link_basics import fields


def _status(link):
    return fields(link.ask("status"), "OK status")


def test_run_is_recorded_and_listed(link):
    reply = link.ask("run selftest batch=B-77 operator=ann")
    assert reply.startswith("OK run selftest id="), reply
    run_id = int(reply.rsplit("id=", 1)[1])
    st = _status(link)
    assert st["state"] == "running" and st["run"] == str(run_id)
    assert st["record"] == "writing"
    time.sleep(0.5)                       # at speed max: minutes of virtual time
    assert link.ask("stop operator=ann") == "OK stop"
    st = _status(link)
    assert st["state"] == "stopped" and st["record"] == "closed"
    listed = link.ask("log list")
    assert listed.startswith("OK log "), listed
    runs = {int(t.split(":")[0]): t.split(":") for t in listed[len("OK log "):].split()}
    assert runs[run_id][1] == "new" and int(runs[run_id][2]) > 1000


def test_second_run_refused_while_one_runs(link):
    assert link.ask("run selftest operator=ann").startswith("OK run")
    assert link.ask("run selftest").startswith("ERR run: a run is in progress")
    assert link.ask("stop") == "OK stop"


def test_ack_marks_a_run_fetched_and_unknown_runs_are_errors(link):
    listed = link.ask("log list")[len("OK log "):].split()
    run_id = int(listed[0].split(":")[0])
    assert link.ask("log ack %d" % run_id) == "OK log ack %d" % run_id
    assert "%d:ack:" % run_id in link.ask("log list")
    assert link.ask("log ack 99999").startswith("ERR log: no run 99999")
    assert link.ask("log ack x").startswith("ERR ")
