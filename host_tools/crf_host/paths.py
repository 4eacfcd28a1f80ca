"""Where things live in the source tree (the host tools run from a checkout)."""

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
PROFILES_DIR = FIRMWARE / "profiles"
PLANTS_DIR = FIRMWARE / "crf_sim" / "plants"

# MicroPython heap of the reference board; every unix-port run uses it so
# memory problems show up on the host first.
HEAPSIZE_ARGS = ("-X", "heapsize=128wK")


def micropython():
    """Path of the MicroPython unix-port executable."""
    # Prefer the one installed next to this interpreter (the venv's pinned
    # build), then anything on PATH.
    venv_bin = Path(sys.executable).parent / "micropython"
    if venv_bin.exists() and os.access(venv_bin, os.X_OK):
        return str(venv_bin)
    found = shutil.which("micropython")
    return found if found else str(venv_bin)


MICROPYTHON = micropython()

