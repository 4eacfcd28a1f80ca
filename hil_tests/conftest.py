"""HIL fixtures: the tests talk to a freezer only through its serial port.

CRF_PORT=/dev/ttyACM0 points them at a real board; otherwise each test
module gets a virtual freezer behind a pty.
"""

import os
import time

import pytest
import serial

from crf_host import paths

REPLY_TIMEOUT_S = 10.0


class Target:
    def __init__(self, port, virtual=None):
        self.port = port
        self.virtual = virtual  # VirtualFreezer, or None for a real board

    def diag(self):
        vf = self.virtual
        if vf is None:
            return f"board on {self.port}"
        state = "running" if vf.running() else f"exited {vf.proc.returncode}"
        return f"virtual freezer {state}; stderr:\n{vf.stderr_text()[-2000:]}"


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    env_port = os.environ.get("CRF_PORT")
    if env_port:
        yield Target(env_port)
        return
    if not (paths.FIRMWARE / "crf_sim" / "run.py").exists():
        pytest.skip("virtual freezer not available: firmware/crf_sim/run.py missing")
    from crf_host.simlaunch import VirtualFreezer

    flash = tmp_path_factory.mktemp("vf") / "flash.img"
    vf = VirtualFreezer(speed="max", flash=flash)
    vf.start()
    try:
        yield Target(vf.port, vf)
    finally:
        vf.stop()
        vf.close_log()


@pytest.fixture
def port(target):
    """Serial device of the freezer under test."""
    return target.port


class Link:
    """Line protocol v0 client: one command, one OK/ERR reply."""

    def __init__(self, ser, target):
        self.ser = ser
        self.target = target

    def ask(self, command, timeout=REPLY_TIMEOUT_S):
        self.ser.write(command.encode() + b"\n")
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            raw = self.ser.readline()
            if not raw:
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            # Events ("EV ...") and telemetry ("T ...") interleave freely.
            if line.split(" ", 1)[0] in ("OK", "ERR"):
                return line
            seen.append(line)
        raise AssertionError(
            f"no OK/ERR reply to {command!r} within {timeout}s; "
            f"last lines: {seen[-5:]}\n{self.target.diag()}")


@pytest.fixture
def link(target):
    with serial.Serial(target.port, timeout=0.5) as ser:
        ser.reset_input_buffer()  # drop output from before this test
        yield Link(ser, target)
