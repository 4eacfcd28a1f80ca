"""make lint: ruff (style) and mypy against micropython-rp2-stubs pass, and the
type check does catch misuse of the rp2 API (it is not vacuous)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not (importlib.util.find_spec("mypy") and importlib.util.find_spec("ruff")),
    reason="mypy/ruff not installed (make install)")


def test_ruff_passes():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "firmware", "tests", "hil_tests"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_firmware_against_rp2_stubs_passes():
    res = subprocess.run([sys.executable, "-m", "crf_host.lint"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_catches_wrong_machine_calls(tmp_path):
    bad = tmp_path / "probe_bad.py"
    bad.write_text("import machine\n"
                   "def f():\n"
                   "    p = machine.Pin(5, machine.Pin.OUTPUT)\n"
                   "    machine.I2C(0).readfrom_mem_into(0x68, 0)\n")
    res = subprocess.run([sys.executable, "-m", "crf_host.lint", str(bad)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "OUTPUT" in res.stdout and "readfrom_mem_into" in res.stdout
