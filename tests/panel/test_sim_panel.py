"""`crf sim --panel` in a terminal (a pty): the display appears in half
blocks, keys move through the screens, q quits and stops the freezer."""

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

CRF = Path(sys.executable).parent / "crf"


def _pump(fd, out, t):
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


@pytest.mark.skipif(not CRF.exists(), reason="crf not installed in this venv")
def test_sim_panel_in_a_terminal(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:                                    # the child: crf in the pty
        os.execv(str(CRF), ["crf", "sim", "--panel", "--speed", "5",
                            "--flash", str(tmp_path / "f.img"), "--log", str(tmp_path / "vf.log")])
    out = b""
    try:
        out = _pump(fd, out, 4)
        seen = []
        for key in (b"\r", b"\r"):                 # Enter = OK: menu, then the profile list
            os.write(fd, key)
            out = _pump(fd, out, 1.5)
        os.write(fd, b"q")
        out = _pump(fd, out, 3)
        _, status = os.waitpid(pid, 0)
        pid = None
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode("utf-8", "replace")
    for s in ("screen home", "screen menu", "screen profiles"):
        assert s in text, text[-800:]
        seen.append(s)
    assert text.count("█") > 100                    # the display, in half blocks
    assert os.WEXITSTATUS(status) == 0
