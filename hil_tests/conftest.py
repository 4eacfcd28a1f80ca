"""HIL fixtures: the tests talk to a freezer only through its serial port,
with the host client of protocol v1 (crf_host.link).

CRF_PORT=/dev/ttyACM0 points them at a real board (CRF_PIN=... its engineer
PIN; without it the tests that need an engineer are skipped). Otherwise each
test module gets a virtual freezer behind a pty, with PIN `PIN`; a module
may set VF_SPEED (virtual time factor, default "max") and VF_ARGS (more
run.py options).
"""

import os
import time

import pytest

from crf_host import paths
from crf_host.link import Client

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


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    env_port = os.environ.get("CRF_PORT")
    if env_port:
        yield Target(env_port, pin=os.environ.get("CRF_PIN"))
        return
    vf = start_virtual(tmp_path_factory, getattr(request.module, "VF_SPEED", "max"),
                       getattr(request.module, "VF_ARGS", ()))
    try:
        yield Target(vf.port, vf, PIN)
    finally:
        vf.stop()
        vf.close_log()


@pytest.fixture
def port(target):
    """Serial device of the freezer under test."""
    return target.port


@pytest.fixture
def client(target):
    """A protocol v1 client on the freezer; logged out and closed after the test."""
    with Client(target.port, timeout_s=TIMEOUT_S) as c:
        c.target = target
        try:
            yield c
        finally:
            if target.virtual is None or target.virtual.running():
                try:
                    c.subscribe(0, False)
                    c.logout()
                except Exception:  # noqa: BLE001  the test may have restarted the device
                    pass


@pytest.fixture
def engineer(client, target):
    """The client with an engineer session (skipped on a real board without CRF_PIN)."""
    if not target.pin:
        pytest.skip("CRF_PIN not set: the board's engineer PIN is needed")
    client.login("hil", target.pin)
    return client


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
