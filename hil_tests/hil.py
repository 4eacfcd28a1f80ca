"""Helpers shared by the HIL tests and their fixtures (conftest.py): the
PIN the virtual freezer is given, timeouts, a virtual freezer, waiting
for a condition, a profile that keeps a run open. A module of its own name, so test modules can
import it whichever test directories pytest collects."""

import json
import time

import pytest

from crf_host import paths

PIN = "1234"
TIMEOUT_S = 5.0         # per attempt; the virtual freezer at speed max is busy


class Target:
    def __init__(self, port, virtual=None, pin=None):
        self.port = port
        self.virtual = virtual  # VirtualFreezer, or None for a real board
        self.pin = pin          # engineer PIN, None if unknown (real board without CRF_PIN)

    def diag(self):
        vf = self.virtual
        if vf is None:
            return f"board on {self.port}"
        state = "running" if vf.running() else f"exited {vf.proc.returncode}"
        return f"virtual freezer {state}; stderr:\n{vf.stderr_text()[-2000:]}"


def virtual(tmp_path_factory, speed="max", extra_args=()):
    """A virtual freezer on a fresh flash image with engineer PIN `PIN`, not
    started: `with virtual(...) as vf:` starts it and stops it after."""
    if not (paths.FIRMWARE / "crf_sim" / "run.py").exists():
        pytest.skip("virtual freezer not available: firmware/crf_sim/run.py missing")
    from crf_host.simlaunch import VirtualFreezer

    flash = tmp_path_factory.mktemp("vf") / "flash.img"
    return VirtualFreezer(speed=speed, flash=flash, extra_args=("--pin", PIN, *extra_args))


def wait_for(what, check, timeout_s=30.0, every_s=0.05):
    """check() until it returns something true; AssertionError naming `what` after timeout_s."""
    end = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(every_s)


def ask(question, yes_no=True):
    """Prompt the engineer at the bench on the terminal (works while pytest
    captures stdin/stdout); True for yes. Skips when there is no terminal."""
    try:
        tty = open("/dev/tty", "r+")
    except OSError:
        pytest.skip("bench check needs a terminal for the engineer's answers")
    with tty:
        tty.write("\n[bench] %s %s" % (question, "[y/n] " if yes_no else "(Enter) "))
        tty.flush()
        answer = tty.readline().strip().lower()
    return answer.startswith("y") if yes_no else True


def open_ended(name, hold_s):
    """Profile text that holds at 4 C for hold_s, then waits for the
    operator: a run that stays open until the test ends it."""
    return json.dumps({
        "format": 1, "name": name, "description": "HIL: hold until the operator continues",
        "steps": [{"kind": "hold", "target_c": 4, "duration_s": hold_s},
                  {"kind": "hold", "until": "operator", "note": "waiting"},
                  {"kind": "end"}]})
