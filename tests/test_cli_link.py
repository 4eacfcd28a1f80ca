"""The `crf` device commands against a fake link client.

The fake `crf_host.link` module implements the client contract
(/work/scratch/client_api.md, docs/protocol.md "What each command takes and
returns") over an in-memory freezer, so every command's output, --json,
prompts, progress and error handling are tested without a device and
whether or not the real link module is there yet. End-to-end tests against
the virtual freezer are in test_cli_e2e.py.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import types

import click
import pytest
from click.testing import CliRunner

import crf.profile.validate as validator
from crf.record import format as fmt
from crf.record.runlog import RunLog
from crf_host import paths
from crf_host.cli import crf
from crf_host.monitor import MonitorState, chart

PIN = "2468"
RUNNING = ("running", "held")
START_RTC = 1798761600          # 2027-01-01T00:00:00Z
TINY = {"format": 1, "name": "tiny", "description": "two ramps",
        "steps": [{"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "note": "slow"},
                  {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90},
                  {"kind": "end", "target_c": -90, "note": "to storage"}]}
WARM_END = {"format": 1, "name": "warm", "description": "ends warm",
            "steps": [{"kind": "ramp", "rate_c_per_min": 1, "target_c": -40},
                      {"kind": "end", "target_c": -50}]}


def text_of(profile):
    return json.dumps(profile, indent=1) + "\n"


def make_record(run, n=300, seal=True):
    """Run `run`'s record written by the firmware's own RunLog (several 2040-byte chunks)."""
    pt = text_of(TINY)
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "runs"))
        with open(os.path.join(d, "runs", "next"), "w") as f:
            f.write(str(run))
        log = RunLog(d)
        header = {"serial": "E6614103", "model": "crf-1", "fw": "0.1.0", "board": "test",
                  "profile_name": "tiny", "profile_text": pt,
                  "profile_sha256": hashlib.sha256(pt.encode()).hexdigest(),
                  "batch": "B-17", "product": "HPC bag", "operator": "alice",
                  "calibration": {}, "config": {}, "start_rtc_s": START_RTC}
        rid = log.open_run(header, n * 5, 5000)
        assert rid == run
        log.event(0, START_RTC, "start", "alice", "tiny")
        for i in range(n):
            log.sample(i * 5000, 0, 4.0 - i * 0.3, 4.0 - i * 0.25, 4.0 - i * 0.3, None,
                       0.5, 0.0, 1)
        if seal:
            log.seal(n * 5000, START_RTC + n * 5, fmt.SEAL_COMPLETED)
        with open(log.file_of(rid), "rb") as f:
            return f.read()


RECORD = make_record(3)
OPEN_RECORD = make_record(4, n=120, seal=False)


# -- the fake link module ------------------------------------------------------------

class LinkError(Exception):
    pass


class DeviceError(LinkError):
    CODES = {"bad_args": 7, "busy": 8, "denied": 9, "not_found": 10, "conflict": 11}

    def __init__(self, name, detail=""):
        self.name, self.detail = name, detail
        self.code = self.CODES.get(name, 13)
        super().__init__(f"{name}: {detail}" if detail else name)


class Device:
    """The freezer behind the fake link; outlives each CLI invocation's Client."""

    def __init__(self):
        self.profiles = {"tiny": text_of(TINY)}
        self.runs = {3: {"data": RECORD, "acked": False, "open": False}}
        self.config = {"log_interval_ms": 5000, "kp_w_per_c": 12.5, "fan": True}
        self.state = "idle"
        self.run = None
        self.rtc = START_RTC
        self.calls = []         # (method, args) as the CLI called them
        self.opened = []        # (port, timeout_s)
        self.progress = []      # (done, total) reported during transfers
        self.frames = []        # unsolicited frames for poll_unsolicited
        self.fail = {}          # method -> exception to raise
        self.no_port = None     # LinkError text for find_port


DEV = None


def find_port(explicit=None):
    if DEV.no_port:
        raise LinkError(DEV.no_port)
    return explicit or os.environ.get("CRF_PORT") or "/dev/ttyACM7"


class Client:
    def __init__(self, port, baud=115200, timeout_s=2.0, retries=3):
        self.dev = DEV
        self.role = None
        self.dev.opened.append((port, timeout_s))
        self._check("open")

    def _check(self, method, *args):
        self.dev.calls.append((method, args))
        err = self.dev.fail.get(method)
        if err is not None:
            raise err

    def _engineer(self):
        if self.role != "engineer":
            raise DeviceError("denied", "engineer login needed")

    def close(self):
        self.dev.calls.append(("close", ()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def identify(self):
        self._check("identify")
        return {"model": "crf-1", "serial": "E6614103", "fw": "0.2.0", "protocol": 1,
                "board": "pico2", "flash_bytes": 1048576, "free_flash_bytes": 786432}

    def status(self):
        self._check("status")
        d = self.dev
        running = d.state in RUNNING
        return {"state": d.state, "profile": "tiny" if running else None,
                "step": 2 if running else None, "steps": 3 if running else None,
                "step_note": "slow" if running else "", "kind": "ramp" if running else None,
                "probe": "chamber", "chamber_c": -12.3, "sample_c": -9.8,
                "sp_chamber_c": -12.0 if running else None, "sp_sample_c": None,
                "ln2_duty": 0.42, "heater_duty": 0.0, "valve": 1, "comp": 0,
                "elapsed_s": 1234 if running else 0, "remaining_s": 3600 if running else None,
                "run": d.run, "record": "writing" if running else None, "interrupted": None,
                "alarms": [], "rtc_s": d.rtc, "role": self.role or "operator"}

    def set_time(self, rtc_s=None, operator=""):
        self._check("set_time", rtc_s, operator)
        if self.dev.state in RUNNING and self.role != "engineer":
            raise DeviceError("busy", "a run is open: engineer rights needed")
        old, self.dev.rtc = self.dev.rtc, rtc_s
        return {"rtc_s": rtc_s, "old_rtc_s": old}

    def profiles(self):
        self._check("profiles")
        return [{"name": n, "bytes": len(t.encode()), "sha256": hashlib.sha256(t.encode()).hexdigest()}
                for n, t in sorted(self.dev.profiles.items())]

    def pull_profile(self, name):
        self._check("pull_profile", name)
        if name not in self.dev.profiles:
            raise DeviceError("not_found", f"no profile {name}")
        return self.dev.profiles[name]

    def push_profile(self, name, text, progress=None):
        self._check("push_profile", name)
        self._engineer()
        data = text.encode()
        for off in range(0, len(data), 100):
            if progress:
                progress(min(off + 100, len(data)), len(data))
                self.dev.progress.append((min(off + 100, len(data)), len(data)))
        warnings = validator.validate(validator.loads(text))
        self.dev.profiles[name] = text
        return {"stored": name, "sha256": hashlib.sha256(data).hexdigest(), "warnings": list(warnings)}

    def delete_profile(self, name):
        self._check("delete_profile", name)
        self._engineer()
        if name not in self.dev.profiles:
            raise DeviceError("not_found", f"no profile {name}")
        del self.dev.profiles[name]
        return {}

    def run_start(self, profile, batch="", product="", operator=""):
        self._check("run_start", profile, batch, product, operator)
        if profile not in self.dev.profiles:
            raise DeviceError("not_found", f"no profile {profile}")
        if self.dev.state in RUNNING:
            raise DeviceError("busy", "a run is in progress")
        self.dev.state, self.dev.run = "running", 4
        return 4

    def _op(self, method, operator, allowed, new_state):
        self._check(method, operator)
        if self.dev.state not in allowed:
            raise DeviceError("busy", "nothing to " + method.split("_")[1])
        self.dev.state = new_state
        return {}

    def run_stop(self, operator=""):
        return self._op("run_stop", operator, RUNNING, "stopped")

    def run_hold(self, operator=""):
        return self._op("run_hold", operator, ("running",), "held")

    def run_continue(self, operator=""):
        return self._op("run_continue", operator, ("held",), "running")

    def run_ack(self, operator="", alarm=None):
        self._check("run_ack", operator, alarm)
        return {}

    def logs(self):
        self._check("logs")
        return [{"run": r, "acked": v["acked"], "bytes": len(v["data"]), "open": v["open"]}
                for r, v in sorted(self.dev.runs.items())]

    def fetch_log(self, run, progress=None, offset=0):
        self._check("fetch_log", run)
        if run not in self.dev.runs:
            raise DeviceError("not_found", f"no run {run}")
        data = self.dev.runs[run]["data"]
        out = bytearray()
        while offset < len(data):
            chunk = data[offset:offset + 2040]
            out += chunk
            offset += len(chunk)
            self.dev.progress.append((offset, len(data)))
            if progress:
                progress(offset, len(data))
        return bytes(out)

    def ack_log(self, run):
        self._check("ack_log", run)
        self._engineer()
        self.dev.runs[run]["acked"] = True
        return {}

    def config_get(self):
        self._check("config_get")
        return {"config": dict(self.dev.config)}

    def config_set(self, values):
        self._check("config_set", values)
        self._engineer()
        for k in values:
            if k not in self.dev.config:
                raise DeviceError("bad_args", f"unknown key {k}")
        changed = {k: [self.dev.config[k], v] for k, v in values.items() if self.dev.config[k] != v}
        self.dev.config.update(values)
        return {"config": dict(self.dev.config), "changed": changed}

    def login(self, user, pin):
        self._check("login", user)
        if pin != PIN:
            raise DeviceError("denied", "wrong PIN, 4 attempts left")
        self.role = "engineer"
        return {"role": "engineer", "expires_s": 900}

    def logout(self):
        self._check("logout")
        self.role = None
        return {}

    def subscribe(self, status_s=1, events=True):
        self._check("subscribe", status_s, events)
        return {}

    def poll_unsolicited(self, timeout_s=0.0):
        self._check("poll_unsolicited")
        if not self.dev.frames:
            raise KeyboardInterrupt   # the user's Ctrl-C ends the loop
        return [self.dev.frames.pop(0)]


@pytest.fixture
def dev(monkeypatch):
    global DEV
    DEV = Device()
    mod = types.ModuleType("crf_host.link")
    mod.LinkError, mod.DeviceError, mod.Client, mod.find_port = LinkError, DeviceError, Client, find_port
    monkeypatch.setitem(sys.modules, "crf_host.link", mod)
    for var in ("CRF_PORT", "CRF_PIN", "CRF_USER", "CRF_OPERATOR", "CRF_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    yield DEV
    DEV = None


def cli(*args, input=None, env=None):
    return CliRunner().invoke(crf, list(args), input=input, env=env, catch_exceptions=False)


def called(dev, method):
    return [a for m, a in dev.calls if m == method]


def one_error_line(res, *parts):
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("crf: "), lines
    for p in parts:
        assert p in lines[0], lines[0]
    assert "Traceback" not in res.output
    return lines[0]


# -- help, discovery ---------------------------------------------------------------------

def _paths(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _paths(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [()] + sorted(_paths(crf)), ids=lambda p: " ".join(p) or "crf")
def test_help_everywhere(path):
    res = cli(*path, "--help")
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_every_issue_command_exists():
    have = {" ".join(p) for p in _paths(crf)}
    want = {"info", "status", "time sync", "profile list", "profile show", "profile push",
            "profile pull", "profile rm", "profile validate", "run start", "run stop", "run hold",
            "run continue", "run ack", "monitor", "logs list", "logs fetch", "logs verify",
            "report", "sim", "config get", "config set", "login"}
    assert want <= have, want - have


def test_help_works_without_the_link_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "crf_host.link", None)   # import fails
    res = cli("--help")
    assert res.exit_code == 0 and "status" in res.output
    assert cli("status", "--help").exit_code == 0
    one_error_line(cli("status"), "crf_host.link")


# -- connection, port, errors ---------------------------------------------------------------

def test_port_option_env_and_autodetect(dev):
    assert cli("info").exit_code == 0
    assert cli("--port", "/dev/ttyUSB3", "--timeout", "5", "info").exit_code == 0
    assert cli("info", env={"CRF_PORT": "/dev/ttyACM9"}).exit_code == 0
    assert dev.opened == [("/dev/ttyACM7", 2.0), ("/dev/ttyUSB3", 5.0), ("/dev/ttyACM9", 2.0)]
    assert called(dev, "close") == [(), (), ()]


@pytest.mark.parametrize("where,error,text", [
    ("find_port", None, "no freezer found: no serial device with a Raspberry Pi USB id"),
    ("open", LinkError("cannot open /dev/ttyACM7: [Errno 2] No such file or directory"),
     "cannot open /dev/ttyACM7"),
    ("identify", LinkError("/dev/ttyACM7 answers but is not a freezer controller"), "not a freezer"),
    ("identify", LinkError("the freezer speaks protocol 2, this crf speaks 1"), "protocol 2"),
    ("status", LinkError("no reply from /dev/ttyACM7 within 2.0 s (3 tries)"), "no reply"),
])
def test_link_failures_are_one_line(dev, where, error, text):
    if where == "find_port":
        dev.no_port = text
    else:
        dev.fail[where] = error
    one_error_line(cli("status"), text)


def test_link_failure_is_one_line_in_json_mode_too(dev):
    dev.fail["status"] = LinkError("no reply from /dev/ttyACM7 within 2.0 s")
    res = cli("--json", "status")
    one_error_line(res, "no reply")
    assert res.stdout == ""


def test_multiline_device_detail_stays_on_one_line(dev):
    dev.fail["status"] = DeviceError("bad_args", "step 1: target_c: missing\nstep 2: kind: 'fly'")
    one_error_line(cli("status"), "rejected", "step 1: target_c: missing; step 2")


def test_denied_mentions_login(dev):
    dev.fail["status"] = DeviceError("denied", "engineer login needed")
    line = one_error_line(cli("status"), "not permitted")
    assert "login" in line and "--pin" in line and "CRF_PIN" in line


def test_busy_is_one_line(dev):
    dev.state, dev.run = "running", 4
    one_error_line(cli("run", "start", "tiny", "-O", "al"), "busy", "a run is in progress")


def test_a_bug_is_not_hidden(dev):
    dev.fail["status"] = ZeroDivisionError("bug")
    with pytest.raises(ZeroDivisionError):
        cli("status")


def test_usage_error_exit_2(dev):
    res = cli("config", "set", "no-equals-sign")
    assert res.exit_code == 2
    assert not dev.opened


# -- info, status ---------------------------------------------------------------------------

def test_info(dev):
    res = cli("info")
    assert res.exit_code == 0, res.output
    for text in ("/dev/ttyACM7", "crf-1", "E6614103", "0.2.0", "pico2", "786,432 of 1,048,576"):
        assert text in res.stdout
    res = cli("info", "--json")
    data = json.loads(res.stdout)
    assert data["serial"] == "E6614103" and data["protocol"] == 1 and data["port"] == "/dev/ttyACM7"


def test_status_human_and_json(dev):
    dev.state, dev.run = "running", 4
    res = cli("status")
    assert res.exit_code == 0, res.output
    for text in ("running", "tiny", "2/3 ramp", "slow", "-12.3 °C", "setpoint -12.0 °C",
                 "42 %", "0:20:34", "1:00:00", "2027-01-01 00:00:00 UTC", "none"):
        assert text in res.stdout, text
    for args in (("status", "--json"), ("--json", "status")):
        data = json.loads(cli(*args).stdout)
        assert data["state"] == "running" and data["run"] == 4


# -- time sync ------------------------------------------------------------------------------

def test_time_sync_idle_as_operator(dev):
    before = time.time()
    dev.rtc = int(before) - 3723
    res = cli("time", "sync", "--operator", "alice")
    assert res.exit_code == 0, res.output
    (rtc, who), = called(dev, "set_time")
    assert who == "alice" and abs(rtc - before) < 5
    assert "freezer clock set to" in res.stdout
    assert "1 h 2 min 3 s (3,723 s) behind" in res.stdout or "1 h 2 min 4 s" in res.stdout
    assert not called(dev, "login")


def test_time_sync_during_a_run_logs_in(dev):
    dev.state, dev.run = "running", 4
    res = cli("time", "sync", "-O", "alice", "--user", "eve", input=PIN + "\n")
    assert res.exit_code == 0, res.output
    assert "engineer rights are needed" in res.stderr and "Engineer PIN for eve" in res.stderr
    assert PIN not in res.output                    # hidden
    assert len(called(dev, "set_time")) == 2 and called(dev, "login") == [("eve",)]
    assert called(dev, "logout") == [()]


def test_time_sync_json(dev):
    res = cli("time", "sync", "--json", env={"CRF_OPERATOR": "alice"})
    data = json.loads(res.stdout)
    assert data["old_rtc_s"] == START_RTC and data["difference_s"] == data["rtc_s"] - START_RTC


def test_operator_is_asked_for(dev):
    res = cli("time", "sync", input="\n  bob \n")
    assert res.exit_code == 0, res.output
    assert called(dev, "set_time")[0][1] == "bob"


# -- profiles --------------------------------------------------------------------------------

def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else text_of(obj))
    return str(p)


def test_profile_list(dev):
    res = cli("profile", "list")
    assert res.exit_code == 0 and "tiny" in res.stdout
    assert hashlib.sha256(dev.profiles["tiny"].encode()).hexdigest()[:12] in res.stdout
    assert json.loads(cli("profile", "list", "--json").stdout)[0]["name"] == "tiny"


def test_profile_show(dev):
    res = cli("profile", "show", "tiny")
    assert res.exit_code == 0, res.output
    for text in ("two ramps", "ramp", "1 °C/min", "-40 °C", "to storage", "0 h 49 min"):
        assert text in res.stdout, text
    assert json.loads(cli("profile", "show", "tiny", "--json").stdout) == TINY
    one_error_line(cli("profile", "show", "nope"), "not found", "no profile nope")


def test_profile_pull(dev, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("profile", "pull", "tiny")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "tiny.json").read_text() == dev.profiles["tiny"]
    one_error_line(cli("profile", "pull", "tiny"), "exists", "--force")
    assert cli("profile", "pull", "tiny", "--force").exit_code == 0
    res = cli("profile", "pull", "tiny", "-o", "-")
    assert json.loads(res.stdout) == TINY
    assert cli("profile", "pull", "tiny", "-o", str(tmp_path / "x.json")).exit_code == 0


def test_profile_push_validates_first_and_pushes_nothing_if_any_is_bad(dev, tmp_path):
    good = write(tmp_path, "good.json", WARM_END)
    bad = write(tmp_path, "bad.json", {"format": 1, "name": "Bad Name", "steps": [{"kind": "fly"}]})
    res = cli("profile", "push", good, bad, "--pin", PIN)
    assert res.exit_code == 1
    assert "bad.json: error" in res.stderr and "fly" in res.stderr
    assert "nothing pushed" in res.stderr
    assert not dev.opened and "warm" not in dev.profiles


def test_profile_push_with_progress_and_warnings(dev, tmp_path):
    f = write(tmp_path, "warm.json", WARM_END)
    res = cli("profile", "push", f, "--user", "eve", input=PIN + "\n")
    assert res.exit_code == 0, res.output
    assert dev.profiles["warm"] == text_of(WARM_END)
    assert called(dev, "login") == [("eve",)] and called(dev, "logout") == [()]
    assert "warm: stored on the freezer" in res.stdout
    assert "warm: warning:" in res.stdout and "-50" in res.stdout
    assert "push warm" in res.stderr and "100%" in res.stderr      # the progress bar
    assert len(dev.progress) > 1


def test_profile_push_skips_identical_unless_forced(dev, tmp_path):
    f = write(tmp_path, "tiny.json", TINY)
    res = cli("profile", "push", f, env={"CRF_PIN": PIN})
    assert res.exit_code == 0 and "unchanged" in res.stdout
    assert not called(dev, "push_profile") and not called(dev, "login")
    res = cli("profile", "push", f, "--force", "--json", env={"CRF_PIN": PIN})
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data[0]["stored"] == "tiny" and called(dev, "push_profile") == [("tiny",)]
    assert res.stderr == ""                                            # no bar with --json


def test_profile_push_wrong_pin(dev, tmp_path):
    f = write(tmp_path, "warm.json", WARM_END)
    one_error_line(cli("profile", "push", f, "--pin", "0000", "--user", "eve"),
                   "login as eve refused", "wrong PIN, 4 attempts left")
    assert "warm" not in dev.profiles


def test_profile_push_too_big(dev, tmp_path):
    big = dict(TINY, description="x" * 40)
    text = text_of(big).replace("\n", "\n" + " " * 9000, 1)
    res = cli("profile", "push", write(tmp_path, "big.json", text), "--pin", PIN)
    assert res.exit_code == 1 and "at most 8,192" in res.stderr


def test_profile_rm_confirms(dev):
    res = cli("profile", "rm", "tiny", "--pin", PIN, input="n\n")
    assert res.exit_code == 1 and "tiny" in dev.profiles and not dev.opened
    assert "tiny: not deleted" in res.stderr
    res = cli("profile", "rm", "tiny", "--pin", PIN, input="y\n")
    assert res.exit_code == 0 and "tiny" not in dev.profiles
    assert "deleted" in res.stdout


def test_profile_rm_yes_and_not_found(dev):
    assert cli("profile", "rm", "tiny", "-y", "--pin", PIN).exit_code == 0
    one_error_line(cli("profile", "rm", "tiny", "-y", "--pin", PIN), "no profile tiny")


def test_profile_validate_json(dev, tmp_path):
    res = cli("profile", "validate", "--json", write(tmp_path, "w.json", WARM_END))
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data[0]["ok"] and data[0]["warnings"]
    assert not dev.opened


# -- runs --------------------------------------------------------------------------------------

def test_run_start_asks_for_operator(dev):
    res = cli("run", "start", "tiny", "--batch", "B-17", "--product", "HPC bag", input="alice\n")
    assert res.exit_code == 0, res.output
    assert called(dev, "run_start") == [("tiny", "B-17", "HPC bag", "alice")]
    assert "run 4 started: profile tiny, batch B-17, product HPC bag, operator alice" in res.stdout


def test_run_start_json(dev):
    res = cli("run", "start", "tiny", "-O", "alice", "--json")
    assert json.loads(res.stdout) == {"run": 4}
    one_error_line(cli("run", "start", "nope", "-O", "alice"), "no profile nope")


def test_run_stop_asks_first(dev):
    dev.state, dev.run = "running", 4
    res = cli("run", "stop", "-O", "alice", input="n\n")
    assert res.exit_code == 1 and dev.state == "running"
    assert "Run 4 is running" in res.stderr and "not stopped" in res.stderr
    assert not called(dev, "run_stop")
    res = cli("run", "stop", "-O", "alice", input="y\n")
    assert res.exit_code == 0 and dev.state == "stopped"
    assert "run 4 stopped (operator alice)" in res.stdout


def test_run_stop_yes(dev):
    dev.state, dev.run = "held", 4
    res = cli("run", "stop", "--yes", "-O", "alice")
    assert res.exit_code == 0 and dev.state == "stopped"
    one_error_line(cli("run", "stop", "--yes", "-O", "alice"), "busy", "nothing to stop")


def test_run_hold_continue_ack(dev):
    dev.state, dev.run = "running", 4
    assert "run held" in cli("run", "hold", "-O", "bob").stdout and dev.state == "held"
    assert "run continued" in cli("run", "continue", "-O", "bob").stdout and dev.state == "running"
    res = cli("run", "ack", "-O", "bob", "--alarm", "deviation", "--json")
    assert json.loads(res.stdout) == {}
    assert called(dev, "run_ack") == [("bob", "deviation")]


# -- run records -------------------------------------------------------------------------------

def test_logs_list(dev):
    dev.runs[4] = {"data": OPEN_RECORD, "acked": False, "open": True}
    res = cli("logs", "list")
    assert res.exit_code == 0
    assert f"{len(RECORD):,}" in res.stdout and "open (run in progress)" in res.stdout
    data = json.loads(cli("logs", "list", "--json").stdout)
    assert [r["run"] for r in data] == [3, 4]


def test_logs_fetch_chunked_with_progress_and_verification(dev, tmp_path):
    res = cli("logs", "fetch", "3", "-o", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "000003.run").read_bytes() == RECORD
    assert not list(tmp_path.glob("*.part"))
    assert len(dev.progress) == -(-len(RECORD) // 2040) > 2
    assert "run 3" in res.stderr and "100%" in res.stderr                  # the bar
    assert "OK: run 3, batch B-17, sealed completed" in res.stdout
    assert not called(dev, "ack_log") and not called(dev, "login")


def test_logs_fetch_ack_only_after_verification(dev, tmp_path):
    res = cli("logs", "fetch", "3", "-o", str(tmp_path), "--ack", input=PIN + "\n")
    assert res.exit_code == 0, res.output
    assert dev.runs[3]["acked"] and "acknowledged" in res.stdout
    assert called(dev, "logout") == [()]


def test_logs_fetch_damaged_is_not_acked(dev, tmp_path):
    bad = bytearray(RECORD)
    bad[len(bad) // 2] ^= 0xFF
    dev.runs[3]["data"] = bytes(bad)
    res = cli("logs", "fetch", "3", "-o", str(tmp_path), "--ack", "--pin", PIN)
    assert res.exit_code == 1
    assert "FAILED" in res.stdout and "NOT acknowledged" in res.stderr
    assert not dev.runs[3]["acked"] and not called(dev, "ack_log")


def test_logs_fetch_open_run(dev, tmp_path):
    dev.runs[4] = {"data": OPEN_RECORD, "acked": False, "open": True}
    res = cli("logs", "fetch", "4", "-o", str(tmp_path), "--ack", "--pin", PIN)
    assert res.exit_code == 0, res.output
    assert "still open" in res.stdout and "not sealed yet" in res.stdout
    assert not dev.runs[4]["acked"]


def test_logs_fetch_json(dev, tmp_path):
    res = cli("logs", "fetch", "3", "-o", str(tmp_path), "--json")
    data = json.loads(res.stdout)
    assert data["verified"] and data["outcome"] == "ok" and data["bytes"] == len(RECORD)
    assert res.stderr == ""


def test_logs_fetch_unknown_run(dev, tmp_path):
    one_error_line(cli("logs", "fetch", "9", "-o", str(tmp_path)), "run 9 is not on the freezer",
                   "runs there: 3")


def test_logs_ack_needs_a_verified_local_copy(dev, tmp_path):
    one_error_line(cli("logs", "ack", "3", "-d", str(tmp_path), "--pin", PIN), "fetch it first")
    (tmp_path / "000003.run").write_bytes(RECORD[:-10])
    one_error_line(cli("logs", "ack", "3", "-d", str(tmp_path), "--pin", PIN), "does not verify")
    (tmp_path / "000003.run").write_bytes(RECORD)
    res = cli("logs", "ack", "3", "-d", str(tmp_path), "--pin", PIN)
    assert res.exit_code == 0 and dev.runs[3]["acked"]


def test_logs_verify_still_works_on_fetched_files(dev, tmp_path):
    cli("logs", "fetch", "3", "-o", str(tmp_path))
    res = cli("logs", "verify", str(tmp_path / "000003.run"))
    assert res.exit_code == 0 and "OK: run 3" in res.stdout
    assert json.loads(cli("--json", "logs", "verify", str(tmp_path / "000003.run")).stdout)[0]["verified"]


# -- report ------------------------------------------------------------------------------------

@pytest.fixture
def fake_report(monkeypatch):
    made = []

    def make_report(record_path, out_dir=None):
        made.append((record_path, out_dir))
        base = os.path.join(out_dir or os.path.dirname(record_path), "report")
        return base + ".pdf", base + ".png", types.SimpleNamespace(
            result="REVIEW", reasons=("end temperature -79.9 °C is warmer than -80 °C",),
            seal_digest="ab" * 32)

    mod = types.ModuleType("crf_host.report")
    mod.make_report = make_report
    monkeypatch.setitem(sys.modules, "crf_host.report", mod)
    return made


def test_report_from_a_file(dev, fake_report, tmp_path):
    f = tmp_path / "000003.run"
    f.write_bytes(RECORD)
    res = cli("report", str(f))
    assert res.exit_code == 0, res.output
    assert fake_report == [(str(f), None)] and not dev.opened
    assert "verdict: REVIEW" in res.stdout and "  - end temperature -79.9" in res.stdout
    assert "seal digest: " + "ab" * 32 in res.stdout
    assert "report.pdf" in res.stdout and "report.png" in res.stdout


def test_report_from_a_run_number_fetches_first(dev, fake_report, tmp_path):
    res = cli("report", "3", "-o", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "000003.run").read_bytes() == RECORD
    assert fake_report == [(str(tmp_path / "000003.run"), str(tmp_path))]
    assert "OK: run 3" in res.stdout and "verdict: REVIEW" in res.stdout
    data = json.loads(cli("report", "3", "-o", str(tmp_path), "--json").stdout)
    assert data["fetched"]["verified"] and data["pdf"].endswith(".pdf")
    assert data["verdict"]["result"] == "REVIEW" and len(data["verdict"]["reasons"]) == 1


def test_report_of_nonsense(dev, fake_report):
    one_error_line(cli("report", "no-such-file.run"), "no such file, and not a run number")


def test_report_module_missing(dev, monkeypatch):
    monkeypatch.setitem(sys.modules, "crf_host.report", None)
    one_error_line(cli("report", "3"), "crf_host.report")


# -- configuration, login ------------------------------------------------------------------------

def test_config_get(dev):
    res = cli("config", "get")
    assert res.exit_code == 0 and "kp_w_per_c" in res.stdout and "12.5" in res.stdout
    assert cli("config", "get", "log_interval_ms").stdout.strip() == "5000"
    assert json.loads(cli("config", "get", "--json").stdout)["fan"] is True
    one_error_line(cli("config", "get", "nope"), "no configuration key 'nope'", "kp_w_per_c")


def test_config_set_parses_values_and_logs_in(dev):
    res = cli("config", "set", "log_interval_ms=1000", "kp_w_per_c=13", "fan=false", input=PIN + "\n")
    assert res.exit_code == 0, res.output
    assert called(dev, "config_set") == [({"log_interval_ms": 1000, "kp_w_per_c": 13, "fan": False},)]
    assert "log_interval_ms: 5000 -> 1000" in res.stdout and "fan: true -> false" in res.stdout
    assert called(dev, "login") and called(dev, "logout")
    res = cli("config", "set", "fan=false", "--pin", PIN)
    assert "nothing changed" in res.stdout
    one_error_line(cli("config", "set", "bogus=1", "--pin", PIN), "rejected", "unknown key bogus")


def test_login_checks_the_pin(dev):
    res = cli("login", "--user", "eve", input=PIN + "\n")
    assert res.exit_code == 0, res.output
    assert "PIN accepted: eve has engineer rights" in res.stdout and "CRF_PIN" in res.stdout
    assert called(dev, "logout") == [()]
    one_error_line(cli("login", "--user", "eve", "--pin", "1"), "wrong PIN")


# -- monitor ---------------------------------------------------------------------------------------

def test_monitor_once(dev):
    dev.state, dev.run = "running", 4
    res = cli("monitor", "--once")
    assert res.exit_code == 0, res.output
    for text in ("RUNNING", "tiny", "2/3 ramp", "-12.3 °C", "42 %", "0:20:34", "alarms: none",
                 "/dev/ttyACM7"):
        assert text in res.stdout, text
    assert not called(dev, "subscribe")
    assert json.loads(cli("monitor", "--once", "--json").stdout)["run"] == 4


def status_frame(i, **kw):
    st = {"state": "running", "profile": "tiny", "step": 2, "steps": 3, "kind": "ramp",
          "chamber_c": -10.0 - i, "sample_c": -8.0 - i, "sp_chamber_c": -10.0 - i,
          "ln2_duty": 0.5, "heater_duty": 0.0, "elapsed_s": 100 + i, "remaining_s": 900 - i,
          "run": 4, "alarms": []}
    st.update(kw)
    return ("status", st)


def test_monitor_live_until_ctrl_c(dev):
    dev.frames = [status_frame(i) for i in range(5)]
    dev.frames.append(("event", {"run": 4, "t_s": 104, "event": "nucleation", "who": "controller",
                                 "detail": "-12.40"}))
    dev.frames.append(status_frame(5, alarms=["chamber deviation 3.2 °C"]))
    res = cli("monitor")
    assert res.exit_code == 0, res.output
    assert "nucleation" in res.stdout and "ALARM: chamber deviation 3.2 °C" in res.stdout
    assert "-15.0 °C" in res.stdout and "monitor stopped" in res.stdout
    assert called(dev, "subscribe") == [(1, True), (0, False)]       # unsubscribed on exit


def test_monitor_json_stream(dev):
    dev.frames = [status_frame(0), ("event", {"event": "hold", "who": "bob"})]
    res = cli("monitor", "--json")
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["frame"] for line in lines] == ["status", "event"]


def test_chart_draws_both_probes():
    from rich.console import Console

    st = MonitorState(window_s=600, clock=lambda: 600.0)
    for t in range(0, 600, 2):
        st.add_status({"chamber_c": 4 - t * 0.1, "sample_c": 4 - t * 0.08, "sp_chamber_c": 4 - t * 0.1},
                      t=float(t))
    lines = chart([("cyan", [(t, v["chamber_c"]) for t, v in st.history])], 0, 600, 60, 8)
    assert len(lines) == 10 and "now" in lines[-1].plain and "-10 min" in lines[-1].plain
    assert any(ch != " " and ord(ch) >= 0x2800 for ch in lines[0].plain[9:])
    console = Console(width=90, record=True)
    console.print(st.render(width=90))
    text = console.export_text()
    assert "chamber" in text and "sample" in text and "5.0" in text


def test_chart_without_readings_and_stale_status():
    assert "no temperature readings" in chart([("cyan", [(0, None)])], 0, 60, 40, 5)[0].plain
    st = MonitorState(clock=lambda: 100.0)
    st.add_status({"state": "idle"}, t=80.0)
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(st.render())
    assert "NO STATUS from the freezer for 20 s" in console.export_text()


# -- crf sim prints its port first, through a pipe --------------------------------------------

def test_sim_prints_port_first_through_a_pipe(tmp_path):
    if not os.path.exists(paths.micropython()):
        pytest.skip("MicroPython unix port not installed")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crf_host.cli", "sim", "--speed", "max",
         "--flash", str(tmp_path / "f.img"), "--log", str(tmp_path / "vf.log")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("virtual freezer on /dev/"), first
        assert os.path.exists(first.split()[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopping" in out


def test_fetched_record_must_be_the_run_asked_for(dev, tmp_path):
    dev.runs[5] = {"data": RECORD, "acked": False, "open": False}     # the device mixed them up
    res = cli("logs", "fetch", "5", "-o", str(tmp_path), "--ack", "--pin", PIN)
    assert res.exit_code == 1
    assert "FAILED" in res.stdout and "asked for run 5, the record says run 3" in res.stdout
    assert not called(dev, "ack_log")


def test_poll_never_spins():
    from crf_host.cli import _poll

    class Quiet:
        def poll_unsolicited(self, timeout_s=0.0):
            return []

    t0 = time.monotonic()
    assert _poll(Quiet(), 0.5) == []
    assert time.monotonic() - t0 >= 0.19


def test_sim_passes_the_pin_to_the_virtual_freezer(monkeypatch):
    from crf_host import simlaunch

    made = []

    class Stub:
        def __init__(self, **kw):
            made.append(kw)
            self.port = "/dev/pts/99"

        def start(self):
            return self

        def running(self):
            raise KeyboardInterrupt

        def stop(self):
            made.append("stopped")

        def close_log(self):
            pass

    monkeypatch.setattr(simlaunch, "VirtualFreezer", Stub)
    res = cli("sim", "--pin", "1234")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == "virtual freezer on /dev/pts/99"
    assert made[0]["extra_args"] == ("--pin", "1234") and made[-1] == "stopped"


def test_report_with_the_real_report_module(tmp_path):
    report = pytest.importorskip("crf_host.report")
    if not hasattr(report, "make_report"):
        pytest.skip("crf_host.report has no make_report yet")
    f = tmp_path / "000003.run"
    f.write_bytes(RECORD)
    res = cli("report", str(f), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["verdict"]["result"] in ("PASS", "REVIEW")
    assert os.path.exists(data["pdf"]) and os.path.exists(data["png"])
    res = cli("report", str(f), "-o", str(tmp_path / "out"))
    assert res.exit_code == 0 and "verdict: " in res.stdout


def test_device_strings_are_not_markup(dev):
    comp = {"format": 1, "name": "comp", "description": "[bold]bag[/bold] 50 mL",
            "steps": [{"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample",
                       "compensate": {"chamber_c": -50, "max_s": 600}, "note": "freeze [a]"},
                      {"kind": "end", "target_c": -90}]}
    dev.profiles["comp"] = text_of(comp)
    res = cli("profile", "show", "comp")
    assert res.exit_code == 0, res.output
    assert "[bold]bag[/bold] 50 mL" in res.stdout and "freeze [a]" in res.stdout
    assert "compensate: chamber_c -50, max_s 600" in " ".join(res.stdout.split())
    st = MonitorState(clock=lambda: 10.0)
    st.add_status({"state": "running", "profile": "[red]x", "alarms": ["[b]door open"]}, t=10.0)
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(st.render(width=100))
    text = console.export_text()
    assert "[red]x" in text and "[b]door open" in text


def test_profile_pull_json(dev, tmp_path):
    out = tmp_path / "t.json"
    data = json.loads(cli("profile", "pull", "tiny", "-o", str(out), "--json").stdout)
    assert data["file"] == str(out) and data["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
