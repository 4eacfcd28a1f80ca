"""Bench checks on a real board: outputs and inputs an engineer confirms by
eye and ear when prompted (marker `bench`; skipped on the virtual freezer).

Before: LN2 supply hand valve CLOSED (the solenoid is exercised, no nitrogen
flows), chamber empty, door closed, heater within its thermal cut-out.
Run: make hil PORT=/dev/ttyACM0 CRF_PIN=.... (HIL_ARGS="-m 'not bench'" to
leave these out.)"""

import json
import time

import pytest

from hil import wait_for

pytestmark = pytest.mark.bench


def _run_profile(c, name, steps):
    text = json.dumps({"format": 1, "name": name, "description": "HIL bench check",
                       "steps": steps + [{"kind": "end"}]})
    c.push_profile(name, text)
    return c.run_start(name, batch="HIL-bench", operator="bench")


def _stop(c, name):
    if c.status()["state"] in ("running", "held", "end"):
        c.run_stop("bench")
    c.delete_profile(name)


def test_bench_alarm_relay_and_status_led(bench):
    bench.ask("The controller is running and healthy: is the ALARM relay energised "
              "(its LED on, the building alarm contact quiet)?") or pytest.fail(
        "alarm relay not energised while healthy: check GP9, the relay driver, its supply")


def test_bench_valve_clicks(bench):
    c = bench
    st = wait_for("a chamber reading", lambda: c.status()["chamber_c"] is not None, 30)
    assert st
    target = round(c.status()["chamber_c"]) - 30
    _run_profile(c, "hil_valve", [{"kind": "hold", "target_c": target, "duration_s": 60}])
    try:
        wait_for("the controller opening the valve", lambda: c.status()["valve"], 30, 0.2)
        assert c.ask("The LN2 solenoid should click open and closed now: did it click?"), \
            "valve did not switch: check GP6, the MOSFET/SSR, the flyback diode, 24 V"
    finally:
        _stop(c, "hil_valve")
    time.sleep(1.0)
    assert not c.status()["valve"]


def test_bench_heater_switches(bench):
    c = bench
    target = min(35, round(c.status()["chamber_c"] or 20) + 10)
    _run_profile(c, "hil_heat", [{"kind": "hold", "target_c": target, "duration_s": 60}])
    try:
        wait_for("heater demand", lambda: c.status()["heater_duty"] > 0.05, 30, 0.2)
        assert c.ask("The heater SSR's LED should blink (1 s window): does it?"), \
            "heater output not switching: check GP7, the SSR input, its supply"
    finally:
        _stop(c, "hil_heat")


def test_bench_door_switch_seen(bench):
    c = bench
    if "door" not in c.status():
        pytest.skip("this firmware's status has no door field")
    c.ask("Close the chamber door.", yes_no=False)
    wait_for("door closed in status", lambda: c.status()["door"] in ("closed", False), 10)
    c.ask("Open the chamber door now.", yes_no=False)
    wait_for("door open in status", lambda: c.status()["door"] in ("open", True), 10)
    c.ask("Close it again.", yes_no=False)


def test_bench_display_and_buttons(bench):
    c = bench
    assert c.ask("Does the display show the controller's screen (not blank, not noise)?"), \
        "display: check 3.3 V, SDA GP4 / SCL GP5, address 0x3C"
    assert c.ask("Press UP, DOWN and OK in turn: does the screen respond to each?"), \
        "buttons: check GP10-GP12 to GND, no external pull-downs"
