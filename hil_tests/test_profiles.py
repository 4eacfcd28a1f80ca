"""Profiles over the link: push and pull in chunks (byte for byte, across
chunk boundaries), validation by the device's own validator, atomic store,
delete, the running profile protected, every change audited."""

import hashlib
import json

import pytest

from crf.link import frame
from crf_host.link import DeviceError, LinkError

VF_SPEED = "200"


def big_profile(name, pad=5000):
    """A valid profile whose text spans three transfer chunks (whitespace is JSON too)."""
    prof = {"format": 1, "name": name, "description": "HIL round trip",
            "steps": [{"kind": "hold", "target_c": 4, "duration_s": 60, "note": "settle"},
                      {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "note": "cool"},
                      {"kind": "ramp", "rate_c_per_min": 2, "target_c": -90},
                      {"kind": "end", "note": "done"}]}
    text = json.dumps(prof, indent=4)
    return text[:-1] + " " * (pad - len(text)) + "\n}"   # padded inside the object


def test_push_and_pull_round_trip_across_chunk_boundaries(engineer):
    text = big_profile("hil_big")
    assert len(text.encode()) > 2 * frame.MAX_CHUNK
    seen = []
    reply = engineer.push_profile("hil_big", text, progress=lambda d, t: seen.append((d, t)))
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert reply["stored"] == "hil_big" and reply["sha256"] == sha
    assert isinstance(reply["warnings"], list)
    assert len(seen) >= 3 and seen[-1] == (len(text), len(text))
    assert engineer.pull_profile("hil_big") == text
    listed = {p["name"]: p for p in engineer.profiles()}
    assert listed["hil_big"]["sha256"] == sha and listed["hil_big"]["bytes"] == len(text)
    # Replacing it is atomic and audited with both hashes.
    text2 = big_profile("hil_big", pad=2100)
    engineer.push_profile("hil_big", text2)
    assert engineer.pull_profile("hil_big") == text2
    entry = [json.loads(x) for x in engineer.audit().decode().splitlines()
             if json.loads(x)["action"] == "profile_put"][-1]
    assert entry["who"] == "hil" and entry["role"] == "engineer"
    assert entry["old_sha256"] == sha and entry["sha256"] == hashlib.sha256(text2.encode()).hexdigest()


def test_an_invalid_profile_is_refused_naming_the_problem_and_nothing_is_stored(engineer):
    bad = json.dumps({"format": 1, "name": "hil_bad", "description": "x",
                      "steps": [{"kind": "ramp", "rate_c_per_min": 500, "target_c": -80}]})
    with pytest.raises(DeviceError) as e:
        engineer.push_profile("hil_bad", bad)
    assert e.value.name == "bad_args" and "rate_c_per_min" in e.value.detail
    assert "hil_bad" not in {p["name"] for p in engineer.profiles()}
    with pytest.raises(DeviceError) as e:           # the name inside must match
        engineer.push_profile("hil_other", big_profile("hil_big", 600))
    assert e.value.name == "bad_args" and "hil_other" in e.value.detail


def test_chunks_must_come_in_order(engineer):
    text = big_profile("hil_order", 3000).encode()
    head = bytes((9,)) + b"hil_order"
    r = engineer.request("profile_put", payload=head + frame.pack_chunk(0, len(text), text[:1000]))
    assert r == {"next": 1000}
    with pytest.raises(DeviceError) as e:           # a gap: the device says where to go on
        engineer.request("profile_put", payload=head + frame.pack_chunk(1500, len(text), text[1500:2000]))
    assert e.value.name == "conflict" and json.loads(e.value.detail) == {"next": 1000}
    r = engineer.request("profile_put", payload=head + frame.pack_chunk(1000, len(text), text[1000:]))
    assert r["stored"] == "hil_order"
    with pytest.raises(DeviceError) as e:           # over 8 KB
        engineer.request("profile_put", payload=head + frame.pack_chunk(0, 9000, b"{"))
    assert e.value.name == "bad_args"
    with pytest.raises(LinkError):                  # the client says so before sending
        engineer.push_profile("hil_order", " " * 9000)


def test_validate_uses_the_device_validator(client):
    good = big_profile("hil_v", 600)
    assert isinstance(client.validate_profile(good)["warnings"], list)
    with pytest.raises(DeviceError) as e:
        client.validate_profile('{"format": 1, "name": "x", "steps": []}')
    assert e.value.name == "bad_args" and "steps" in e.value.detail


def test_delete_and_the_running_profile_is_protected(engineer):
    engineer.push_profile("hil_del", big_profile("hil_del", 600))
    engineer.delete_profile("hil_del")
    assert "hil_del" not in {p["name"] for p in engineer.profiles()}
    with pytest.raises(DeviceError) as e:
        engineer.delete_profile("hil_del")
    assert e.value.name == "not_found"
    with pytest.raises(DeviceError) as e:
        engineer.pull_profile("hil_del")
    assert e.value.name == "not_found"
    engineer.push_profile("hil_run", big_profile("hil_run", 600))
    engineer.run_start("hil_run", operator="ann")
    try:
        for op in (lambda: engineer.delete_profile("hil_run"),
                   lambda: engineer.push_profile("hil_run", big_profile("hil_run", 700))):
            with pytest.raises(DeviceError) as e:
                op()
            assert e.value.name == "busy"
    finally:
        engineer.run_stop("ann")
    engineer.delete_profile("hil_run")
