"""Type-check the firmware against MicroPython's stubs (make lint).

micropython-rp2-stubs installs loose .pyi modules (machine, micropython,
framebuf, rp2, ...) into site-packages and micropython-stdlib-stubs a
MicroPython typeshed (stdlib/); mypy refuses site-packages on its path, so
they are linked into build/stubs and build/typeshed and mypy runs with
custom_typeshed_dir (the device's standard library, not CPython's) and
mypy_path pointing there.  Settings otherwise from [tool.mypy] in
pyproject.toml."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STUBS = REPO / "build" / "stubs"
TYPESHED = REPO / "build" / "typeshed"


def _link(dist, dest, keep):
    d = metadata.distribution(dist)
    n = 0
    for f in d.files or ():
        parts = f.parts
        if not keep(parts):
            continue
        src = Path(d.locate_file(f))
        out = dest.joinpath(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_symlink() or out.exists():
            out.unlink()
        out.symlink_to(src)
        n += 1
    return n


def prepare():
    import shutil
    for p in (STUBS, TYPESHED):
        if p.exists():
            shutil.rmtree(p)
    n = _link("micropython-rp2-stubs", STUBS,
              lambda p: p[-1].endswith(".pyi") and not p[0].endswith(".dist-info"))
    n += _link("micropython-stdlib-stubs", STUBS, lambda p: p[0] == "_mpy_shed")
    n += _link("micropython-stdlib-stubs", TYPESHED, lambda p: p[0] in ("stdlib", "stubs"))
    return n


def main(argv=None):
    prepare()
    cmd = [sys.executable, "-m", "mypy", "--custom-typeshed-dir", str(TYPESHED)]
    env_path = str(STUBS)
    import os
    env = dict(os.environ, MYPYPATH=env_path + os.pathsep + str(REPO / "firmware"))
    return subprocess.run(cmd + list(argv or sys.argv[1:]), cwd=REPO, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
