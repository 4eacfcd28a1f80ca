"""The run log under power cuts (firmware/crf_sim/powercut.py), a short
round: 100 cuts on the MicroPython unix port with the board's heap size.
`make powercut` runs the full 1000."""

import subprocess

from crf_host.paths import micropython_env

from test_mpy_suite import REPO, micropython

SCRIPT = REPO / "firmware" / "crf_sim" / "powercut.py"


def test_powercut_loses_and_corrupts_nothing():
    env = micropython_env()
    res = subprocess.run(
        [micropython(), "-X", "heapsize=128wK", str(SCRIPT), "--cuts", "100"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines, "no output:\n" + out
    assert lines[-1] == "powercut: cuts=100 lost=0 corrupt=0", out
    assert res.returncode == 0, out
