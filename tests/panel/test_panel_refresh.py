"""The status screen's partial refresh (crf.panel.screens.refresh) against a
whole redraw, with the real framebuf on the MicroPython unix port
(tests/panel/refresh_mpy.py): a random walk through what the screen shows;
after every refresh the buffer equals the screen drawn afresh and every
page that changed is among the pages sent."""

import os
import subprocess
from pathlib import Path

import pytest

from crf_host.paths import micropython

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_partial_refresh_equals_whole_redraw(seed):
    env = dict(os.environ, MICROPYPATH="%s:%s" % (REPO / "firmware", REPO / "tests" / "panel"))
    res = subprocess.run([micropython(), "-X", "heapsize=128wK", str(REPO / "tests/panel/refresh_mpy.py"),
                          str(seed), "3000"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    words = res.stdout.split()
    assert words[0] == "ok", res.stdout
    steps, partial, sent, whole = (int(w) for w in words[1:])
    assert steps == 3000
    # the walk exercises both paths, and partial refreshes send fewer pages
    assert partial > 300 and whole > 300
    assert sent < 5 * partial
