"""Configuration and clock over the link: checked as a whole (errors name the
key), stored and applied between runs only, old and new values audited and
written into the open run's record; the clock set by an operator when idle,
by an engineer only during a run."""

import json

import pytest

from crf_host import records
from crf_host.link import DeviceError
from hil import open_ended

VF_SPEED = "200"

OPEN_ENDED = open_ended("hil_wait", 30)


def test_config_set_changes_one_value_and_reports_old_and_new(engineer):
    cfg = engineer.config_get()["config"]
    old = cfg["log_interval_ms"]
    new = 1000 if old != 1000 else 2000
    reply = engineer.config_set({"log_interval_ms": new})
    assert reply["changed"] == {"log_interval_ms": [old, new]}
    assert reply["config"]["log_interval_ms"] == new
    assert engineer.config_get()["config"] == reply["config"]
    entry = [json.loads(x) for x in engineer.audit().decode().splitlines()][-1]
    assert entry["action"] == "config_set" and entry["who"] == "hil"
    assert entry["changed"] == {"log_interval_ms": [old, new]}
    engineer.config_set({"log_interval_ms": old})
    assert engineer.config_get()["config"] == cfg


def test_config_out_of_range_or_unknown_is_refused_naming_the_key(engineer):
    cfg = engineer.config_get()["config"]
    for values, key in (({"chamber_kp": -5}, "chamber_kp"), ({"pass_ms": 5}, "pass_ms"),
                        ({"no_such_setting": 1}, "no_such_setting"),
                        ({"chamber_kp": 120.0, "valve_min_on_ms": "fast"}, "valve_min_on_ms")):
        with pytest.raises(DeviceError) as e:
            engineer.config_set(values)
        assert e.value.name == "bad_args" and key in e.value.detail, e.value.detail
    assert engineer.config_get()["config"] == cfg         # nothing of it was applied


def test_config_is_not_changed_during_a_run(engineer):
    if "hil_wait" not in {p["name"] for p in engineer.profiles()}:
        engineer.push_profile("hil_wait", OPEN_ENDED)
    engineer.run_start("hil_wait", operator="ann")
    try:
        with pytest.raises(DeviceError) as e:
            engineer.config_set({"chamber_kp": 120.0})
        assert e.value.name == "busy"
    finally:
        engineer.run_stop("ann")


def test_time_set_by_operator_when_idle_and_by_engineer_during_a_run(client, target):
    reply = client.set_time(1_900_000_000, operator="ann")
    assert reply["rtc_s"] == 1_900_000_000 and isinstance(reply["old_rtc_s"], (int, type(None)))
    assert abs(client.status()["rtc_s"] - 1_900_000_000) < 60
    if not target.pin:
        pytest.skip("CRF_PIN not set")
    client.login("eng", target.pin)
    if "hil_wait" not in {p["name"] for p in client.profiles()}:
        client.push_profile("hil_wait", OPEN_ENDED)
    client.logout()
    run = client.run_start("hil_wait", operator="ann")
    try:
        with pytest.raises(DeviceError) as e:
            client.set_time(1_900_100_000, operator="ann")
        assert e.value.name == "busy"
        client.login("eng", target.pin)
        assert client.set_time(1_900_100_000)["rtc_s"] == 1_900_100_000
    finally:
        client.run_stop("ann")
        client.set_time()                                   # back to the host's clock
    ev = [(e["event"], e["who"]) for e in records.read_run(client.fetch_log(run)).events]
    assert ("clock_set", "eng") in ev, ev
    audit = [json.loads(x) for x in client.audit().decode().splitlines()]
    sets = [(a["who"], a["role"], a["rtc_s"]) for a in audit if a["action"] == "time_set"]
    assert sets[-3:-1] == [("ann", "operator", 1_900_000_000), ("eng", "engineer", 1_900_100_000)]
