"""A run started over the link shows on the front panel, and the panel's
long STOP with its confirmation stops it (its own virtual freezer: see
docs/panel.md, "Heap", on run starts in one virtual freezer)."""

import time

from crf_host.link import DeviceError
from test_panel import _home, press, wait_for

VF_SPEED = "20"
VF_ARGS = ("--panel", "on")


def test_run_started_over_the_link_shows_on_the_panel(client):
    _home(client)
    for attempt in range(3):
        # On the 64-bit unix port the heap with the panel fitted can lack the
        # contiguous room for the record header (docs/panel.md, "Heap"): the
        # start is refused cleanly, nothing runs, and a retry may find it.
        try:
            client.run_start("hpc_bag", batch="L1", operator="linkop")
            break
        except DeviceError as e:
            if "out of memory" not in str(e) or attempt == 2:
                raise
            assert client.status()["state"] == "idle"
            time.sleep(1.0)
    r = wait_for("panel shows the run", lambda: (lambda s: s if s["screen"] == "home" and not s["busy"]
                                                  else None)(client.screen()))
    assert r["screen"] == "home"
    # the panel's stop works on it too, recorded as the panel (no operator entered there)
    press(client, "STOP", 2500)
    press(client, "OK")
    assert client.status()["state"] == "stopped"
    assert client.screen()["screen"] == "home"


