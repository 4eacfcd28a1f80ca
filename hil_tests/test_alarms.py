"""Alarms over the link: a fault injected into the virtual freezer (sim_fault,
simulation only) shows in status with its code and text, the door interlock
closes the valve, run_ack acknowledges it with the operator's name, the
alarm goes when its condition does, and raise / acknowledge / clear are in
the run's record (docs/safety.md)."""


import pytest

from crf_host import records
from crf_host.link import DeviceError
from hil import open_ended, wait_for

VF_SPEED = "200"

OPEN_ENDED = open_ended("hil_alarm", 20)


def _alarms(client):
    return {a["code"]: a for a in client.status()["alarms"]}


def test_door_alarm_raised_acknowledged_cleared_and_recorded(client, engineer, target):
    if target.virtual is None:
        pytest.skip("sim_fault exists on the virtual freezer only")
    if "hil_alarm" not in {p["name"] for p in engineer.profiles()}:
        engineer.push_profile("hil_alarm", OPEN_ENDED)
    run = client.run_start("hil_alarm", batch="B-al", operator="ann")
    try:
        assert client.status()["alarms"] == []
        with pytest.raises(DeviceError) as e:
            client.run_ack("ann", alarm="door_open")          # nothing of that name listed
        assert e.value.name == "not_found"
        client.request("sim_fault", {"kind": "door", "on": True})
        a = wait_for("door alarm listed", lambda: _alarms(client).get("door_open"))
        assert a["text"] == "Door open" and a["active"] and not a["acked"] and a["since_s"] > 0
        assert client.status()["valve"] is False
        assert client.run_ack("bob") == {"acked": 1}
        a = _alarms(client)["door_open"]
        assert a["acked"] and a["active"]                    # acknowledged, still present
        client.request("sim_fault", {"kind": "door", "on": False})
        wait_for("door alarm gone", lambda: "door_open" not in _alarms(client))
    finally:
        client.run_stop("ann")
    ev = [(e["event"], e["who"], e["detail"]) for e in records.read_run(client.fetch_log(run)).events]
    names = [x[0] for x in ev]
    for item in ("door_open", "alarm_raised", "alarm_acked", "door_closed", "alarm_cleared"):
        assert item in names, (item, ev)
    assert ("alarm_acked", "bob", "door_open") in ev
    assert names.index("alarm_raised") < names.index("alarm_acked") < names.index("alarm_cleared")


def test_sim_fault_refuses_an_unknown_fault(client, target):
    if target.virtual is None:
        pytest.skip("virtual freezer only")
    with pytest.raises(DeviceError) as e:
        client.request("sim_fault", {"kind": "meteor"})
    assert e.value.name == "bad_args"


def test_clock_not_set_is_an_alarm_until_the_clock_is_set(client):
    # An RTC before 2024 was never set (a flat battery): alarm, not latching.
    old = client.status()["rtc_s"]
    try:
        client.set_time(rtc_s=1577836800, operator="ann")          # 2020-01-01
        a = wait_for("clock alarm", lambda: _alarms(client).get("clock_unset"))
        assert a["text"] == "Clock not set" and a["active"]
    finally:
        client.set_time(rtc_s=old, operator="ann")
    wait_for("clock alarm gone", lambda: "clock_unset" not in _alarms(client))
