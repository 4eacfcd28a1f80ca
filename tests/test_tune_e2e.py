"""Autotune end to end on the virtual freezer over the serial link: `crf tune`
completes and proposes gains, `crf tune apply` changes the configuration
(audited), the raw data is a run record fetched like any other, and the
refusals (no login, bad temperature, during a run, a second tune) say why.
The virtual freezer runs at 200x real time (the login nonce lives 60 s of
device time) and is always stopped."""

import json
import os

import pytest
from click.testing import CliRunner

from crf_host import paths
from crf_host.cli import crf
from crf_host.cli.tune import fetch_result
from crf_host.link import Client, DeviceError
from crf_host.records import read_run

PIN = "2580"
SPEED = "200"


@pytest.fixture(scope="module")
def vf(tmp_path_factory):
    if not os.path.exists(paths.micropython()):
        pytest.skip("MicroPython unix port not installed")
    from crf_host.simlaunch import VirtualFreezer

    d = tmp_path_factory.mktemp("tune")
    with VirtualFreezer(speed=SPEED, flash=d / "flash.img", extra_args=("--pin", PIN)) as v:
        yield v


@pytest.fixture
def client(vf):
    c = Client(vf.port, timeout_s=2.0)
    try:
        c.identify()
        yield c
    finally:
        try:
            c.logout()
        except Exception:  # noqa: BLE001
            pass
        c.close()


def cli(vf, *args):
    res = CliRunner().invoke(crf, ["--port", vf.port, *args], catch_exceptions=False,
                             env={"CRF_PIN": None, "CRF_PORT": None})
    return res


def _refused(exc, name, words):
    assert exc.value.name == name, exc.value
    text = str(exc.value.detail if getattr(exc.value, "detail", None) else exc.value)
    for w in words:
        assert w in text, text


def test_tune_needs_an_engineer(client):
    with pytest.raises(DeviceError) as e:
        client.request("tune_start", {"at": [-20]})
    _refused(e, "denied", ["engineer login"])
    with pytest.raises(DeviceError) as e:
        client.request("tune_apply", {})
    _refused(e, "denied", ["engineer login"])


def test_tune_refuses_bad_temperatures(client):
    client.login("eng", PIN)
    with pytest.raises(DeviceError) as e:
        client.request("tune_start", {"at": [-250]})
    _refused(e, "bad_args", ["-250", "outside the freezer's tuning range"])
    with pytest.raises(DeviceError) as e:
        client.request("tune_start", {"at": "cold"})
    _refused(e, "bad_args", ["at:"])
    with pytest.raises(DeviceError) as e:
        client.request("tune_start", {"at": [-20], "band_c": 100})
    _refused(e, "bad_args", ["band_c"])
    assert client.request("tune_status", {})["active"] is False


def test_tune_refused_during_a_run(client):
    client.run_start("selftest", operator="olga")
    try:
        client.login("eng", PIN)
        with pytest.raises(DeviceError) as e:
            client.request("tune_start", {"at": [-20]})
        _refused(e, "busy", ["run is in progress", "between runs"])
    finally:
        client.run_stop(operator="olga")


def test_tune_stop_keeps_gains_and_refuses_apply(client):
    before = client.config_get()["config"]
    client.login("eng", PIN)
    client.request("tune_start", {"at": [-30]})
    with pytest.raises(DeviceError) as e:       # one at a time
        client.request("tune_start", {"at": [-30]})
    _refused(e, "busy", ["autotune is in progress"])
    with pytest.raises(DeviceError) as e:       # no run while tuning
        client.run_start("selftest", operator="olga")
    _refused(e, "busy", ["autotune"])
    with pytest.raises(DeviceError) as e:       # no configuration change while tuning
        client.config_set({"chamber_kp": 120})
    _refused(e, "busy", ["autotune"])
    st = client.request("tune_status", {})
    assert st["active"] and st["phase"] in ("approach", "settle", "relay")
    client.request("tune_stop", {})
    assert client.request("tune_status", {}) == {"active": False}
    r = fetch_result(client)
    assert r["state"] == "stopped" and "proposal" not in r
    assert "stopped by eng" in r["reason"]
    with pytest.raises(DeviceError) as e:
        client.request("tune_apply", {})
    _refused(e, "conflict", ["proposed no gains", "stopped"])
    assert client.config_get()["config"] == before


@pytest.fixture
def fresh(tmp_path):
    """A virtual freezer of its own: the tune starts from the plant's initial state."""
    from crf_host.simlaunch import VirtualFreezer

    with VirtualFreezer(speed=SPEED, flash=tmp_path / "flash.img", extra_args=("--pin", PIN)) as v:
        c = Client(v.port, timeout_s=2.0)
        c.identify()
        yield v, c
        c.close()


def test_crf_tune_and_apply_end_to_end(fresh):
    vf, client = fresh
    res = cli(vf, "tune", "--at=-20,-60", "--pin", PIN, "--user", "erin", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["state"] == "done", r
    assert [x["at_c"] for x in r["results"]] == [-20.0, -60.0]
    for x in r["results"]:
        assert x["minutes"] <= 45
        assert x["gains"]["kp"] > 0 and x["gains"]["ki"] > 0
        assert x["relay"]["pu_s"] > 0 and x["relay"]["a_c"] > 2 * x["eps_c"]
    prop = r["proposal"]
    assert r["current"]["chamber_kp"] == 150.0
    # Nothing changed yet: gains change only with `tune apply`.
    assert client.config_get()["config"]["chamber_kp"] == 150.0

    # The human-readable result shows proposed gains beside those in force.
    out = cli(vf, "tune", "result").output
    assert "proposed" in out and "in force" in out and "chamber_kp" in out

    res = cli(vf, "tune", "apply", "--yes", "--pin", PIN, "--user", "erin")
    assert res.exit_code == 0, res.output
    assert "chamber_kp" in res.output or "chamber_gain_schedule" in res.output
    cfg = client.config_get()["config"]
    for k, v in prop.items():
        assert cfg[k] == v, k
    audit = client.audit().decode()
    lines = [json.loads(line) for line in audit.splitlines() if line.strip()]
    actions = [(a.get("who"), a.get("action")) for a in lines]
    assert ("erin", "tune_start") in actions
    assert ("erin", "config_set") in actions and ("erin", "tune_apply") in actions

    # The raw data: a run record marked as a tune, fetched like any other.
    rec = read_run(client.fetch_log(r["run"]))
    assert rec.verified, rec.problems
    assert rec.header["kind"] == "tune" and rec.header["profile_name"] == "autotune"
    assert rec.seal and rec.seal["status"] == "completed"
    notes = [e for e in rec.events if "tune:" in str(e)]
    assert any("relay at -20.0" in str(e) for e in notes)
    assert any("done" in str(e) for e in notes)
    assert len(rec.samples) > 60 * 10


def test_power_cut_mid_tune_leaves_the_old_gains(tmp_path):
    """The power fails during the relay test (run.py --cut-at: no stop, no
    seal): the next boot has the gains of before, no tune result, and the
    tune's record kept as an interrupted run."""
    from crf_host.simlaunch import VirtualFreezer

    flash = tmp_path / "flash.img"
    v = VirtualFreezer(speed=SPEED, flash=flash, extra_args=("--pin", PIN))
    v.start()
    try:
        c = Client(v.port, timeout_s=2.0)
        c.identify()
        c.login("eng", PIN)
        c.config_set({"chamber_kp": 140})
        c.logout()
        c.close()
    finally:
        v.stop()
    from crf_host.runner import run_sim

    # -20 C is reached and the relay runs by ~330 s of freezer time.
    proc, _ = run_sim(["--speed", "max", "--flash", flash, "--autotune", "-20,-60", "--cut-at", "400"],
                      "autotune", timeout_s=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    v = VirtualFreezer(speed=SPEED, flash=flash, extra_args=("--pin", PIN))
    v.start()
    try:
        c = Client(v.port, timeout_s=2.0)
        c.identify()
        cfg = c.config_get()["config"]
        assert cfg["chamber_kp"] == 140.0 and cfg["chamber_gain_schedule"] == []
        assert c.request("tune_status", {}) == {"active": False}
        with pytest.raises(DeviceError) as e:
            fetch_result(c)
        assert e.value.name == "not_found"
        runs = c.logs()
        rec = read_run(c.fetch_log(runs[-1]["run"]))
        # The next boot closes the cut-off tune's record as interrupted; no
        # product, so no outage hold, only the power alarm.
        assert rec.header["kind"] == "tune" and rec.seal["status"] == "interrupted"
        st = c.status()
        assert st["state"] == "idle" and [a["code"] for a in st["alarms"]] == ["power_fail"]
        assert len(rec.samples) > 300
        c.close()
    finally:
        v.stop()
