"""Protocol v1 basics over the serial link only: identify, status, errors,
noise on the line, profiles listed, retries answered without running twice."""

import hashlib
import os

import pytest

from crf.link import frame
from crf_host import paths
from crf_host.link import Client, DeviceError, LinkError

STATUS_KEYS = {"state", "profile", "step", "steps", "step_note", "kind", "probe", "chamber_c",
               "sample_c", "sp_chamber_c", "sp_sample_c", "ln2_duty", "heater_duty", "valve",
               "comp", "elapsed_s", "remaining_s", "run", "record", "interrupted", "alarms",
               "rtc_s", "role"}


def test_identify_names_the_freezer_and_protocol_1(client):
    info = client.identify()
    assert info["protocol"] == 1
    for key in ("model", "serial", "fw", "board"):
        assert info[key], f"identify lacks {key}: {info}"
    assert 0 < info["free_flash_bytes"] <= info["flash_bytes"]


def test_status_has_every_field_of_the_contract(client):
    st = client.status()
    assert set(st) >= STATUS_KEYS, STATUS_KEYS - set(st)
    assert st["role"] == "operator" and st["alarms"] == []
    if client.target.virtual is not None:
        assert st["state"] == "idle" and st["chamber_c"] is not None


def test_unknown_commands_are_errors(client):
    # A hand-made request with a code that is no command at all:
    client.write_raw(frame.encode(frame.KIND_REQUEST, 4242, 0x7E))
    with pytest.raises(DeviceError) as e:
        for _ in client._wait_all({4242: (0x7E, b"")}, "0x7e", 5.0):
            pass
    assert e.value.code == frame.ERR_UNKNOWN_COMMAND
    assert client.identify()["protocol"] == 1


def test_malformed_arguments_are_bad_args_naming_the_field(client):
    with pytest.raises(DeviceError) as e:
        client.request("log_fetch", payload=b"{not json")
    assert e.value.name == "bad_args"
    with pytest.raises(DeviceError) as e:
        client.request("log_fetch", {"run": "seven"})
    assert e.value.name == "bad_args" and "run" in e.value.detail
    with pytest.raises(DeviceError) as e:
        client.run_start("no_such_profile", operator="ann")
    assert e.value.name == "not_found"


def test_noise_and_ctrl_c_on_the_line_are_survived(client):
    rnd = bytes(os.urandom(3000))
    client.write_raw(b"\x03\x03\x03" + rnd + b"\x03" + b"\x55" * 5000 + b"\x03")
    # The next request after a 0x00 is understood again (the client sends one first on a retry).
    client.write_raw(b"\x00")
    assert client.identify()["protocol"] == 1
    assert client.status()["state"]


def test_standard_profiles_are_listed_with_their_hash(client):
    listed = {p["name"]: p for p in client.profiles()}
    assert {"hpc_bag", "selftest", "vial"} <= set(listed), listed
    if client.target.virtual is not None:    # the virtual flash holds the shipped files
        for name in ("hpc_bag", "selftest", "vial"):
            data = (paths.PROFILES_DIR / f"{name}.json").read_bytes()
            assert listed[name]["bytes"] == len(data)
            assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_retried_request_is_answered_again_not_run_twice(client, target):
    """A lost reply: the host resends the same frame (same id); the device
    answers from its reply cache and starts one run, not two."""
    before = {r["run"] for r in client.logs()}
    args = frame.pack_json({"profile": "selftest", "batch": "B-retry", "operator": "ann"})
    rid, code, wire = client._send("run_start", args)
    first = next(client._wait_all({rid: (code, wire)}, "run_start", 10.0))[1]
    client.write_raw(b"\x00" + wire)             # the retry: byte for byte the same frame
    second = next(client._wait_all({rid: (code, wire)}, "run_start", 10.0))[1]
    try:
        assert first == second and isinstance(first["run"], int)
        new = {r["run"] for r in client.logs()} - before
        assert new == {first["run"]}, new
    finally:
        client.run_stop("ann")
    # The same id with another command is a new request, not a retry.
    status = frame.encode(frame.KIND_REQUEST, rid, frame.COMMANDS["status"])
    client.write_raw(b"\x00" + status)
    st = next(client._wait_all({rid: (frame.COMMANDS["status"], status)}, "status", 10.0))[1]
    assert st["run"] == first["run"] and st["state"] == "stopped"


def test_port_that_cannot_be_opened_is_one_clear_sentence():
    with pytest.raises(LinkError) as e:
        Client("/dev/does-not-exist-crf")
    assert str(e.value).startswith("cannot open /dev/does-not-exist-crf")
