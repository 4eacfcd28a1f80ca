"""restart and repl over the link: engineer only, refused during a run, and
the firmware really leaves (the virtual freezer exits with a status that says
which; a board resets or shows its REPL, which these tests do not follow)."""

import os

import pytest

from crf_host.link import Client, DeviceError
from hil import PIN, TIMEOUT_S, virtual

pytestmark = pytest.mark.skipif(bool(os.environ.get("CRF_PORT")),
                                reason="would reset the board or leave it at the REPL")

EXIT_RESTART = 75      # crf_sim/board_virtual.py
EXIT_REPL = 76


@pytest.mark.parametrize("command,status", [("restart", EXIT_RESTART), ("repl", EXIT_REPL)])
def test_engineer_leaves_the_firmware_when_no_run_is_open(tmp_path_factory, command, status):
    with virtual(tmp_path_factory, "200") as vf:
        with Client(vf.port, timeout_s=TIMEOUT_S) as c:
            with pytest.raises(DeviceError) as e:
                c.request(command)
            assert e.value.name == "denied"
            c.login("eng", PIN)
            c.run_start("selftest", operator="ann")
            with pytest.raises(DeviceError) as e:
                c.request(command)
            assert e.value.name == "busy"
            c.run_stop("ann")
            assert c.request(command) == {}         # the reply leaves first
            assert vf.wait(10) == status, vf.stderr_text()
