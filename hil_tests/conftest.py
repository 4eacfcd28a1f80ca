"""HIL fixtures: the tests talk to a freezer only through its serial port,
with the host client of protocol v1 (crf_host.link).

CRF_PORT=/dev/ttyACM0 points them at a real board (CRF_PIN=... its engineer
PIN; without it the tests that need an engineer are skipped). Otherwise each
test module gets a virtual freezer behind a pty, with PIN `PIN`; a module
may set VF_SPEED (virtual time factor, default "max") and VF_ARGS (more
run.py options).
"""

import os

import pytest

from crf_host.link import Client
from hil import PIN, TIMEOUT_S, Target, ask, virtual  # noqa: F401  (fixtures use them)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bench: hardware only, an engineer at the bench confirms outputs and "
        "inputs when prompted (skipped on the virtual freezer; deselect with -m 'not bench')")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CRF_PORT"):
        return
    skip = pytest.mark.skip(reason="bench check: real board only (make hil PORT=/dev/ttyACM0)")
    for item in items:
        if item.get_closest_marker("bench") is not None:
            item.add_marker(skip)

@pytest.fixture
def bench(engineer):
    """An engineer client plus the prompt to the person at the bench."""
    engineer.ask = ask
    return engineer


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    env_port = os.environ.get("CRF_PORT")
    if env_port:
        yield Target(env_port, pin=os.environ.get("CRF_PIN"))
        return
    with virtual(tmp_path_factory, getattr(request.module, "VF_SPEED", "max"),
                 getattr(request.module, "VF_ARGS", ())) as vf:
        yield Target(vf.port, vf, PIN)


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
