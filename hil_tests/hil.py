"""Helpers shared by the HIL tests and their fixtures (conftest.py): the
PIN the virtual freezer is given, timeouts, starting a virtual freezer,
waiting for a condition. A module of its own name, so test modules can
import it whichever test directories pytest collects."""

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


def start_virtual(tmp_path_factory, speed="max", extra_args=()):
    """A virtual freezer on a fresh flash image with engineer PIN `PIN`."""
    if not (paths.FIRMWARE / "crf_sim" / "run.py").exists():
        pytest.skip("virtual freezer not available: firmware/crf_sim/run.py missing")
    from crf_host.simlaunch import VirtualFreezer

    flash = tmp_path_factory.mktemp("vf") / "flash.img"
    vf = VirtualFreezer(speed=speed, flash=flash, extra_args=("--pin", PIN, *extra_args))
    vf.start()
    return vf



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
