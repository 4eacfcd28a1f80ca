"""The `crf` command line: help everywhere, validators' exit codes and output."""

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from crf_host import __version__, paths
from crf_host.cli import crf

GOOD_PROFILE = {
    "format": 1, "name": "tiny", "description": "two ramps",
    "steps": [
        {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40},
        {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90},
        {"kind": "end", "target_c": -90},
    ],
}


def run(*args):
    return CliRunner().invoke(crf, list(args), catch_exceptions=False)


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


@pytest.mark.parametrize("args", [
    [], ["sim"], ["demo"], ["bench"], ["profile"], ["profile", "validate"],
    ["plant"], ["plant", "validate"],
])
def test_help_everywhere(args):
    res = run(*args, "--help")
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_version():
    res = run("--version")
    assert res.exit_code == 0 and __version__ in res.output


def test_profile_validate_accepts_good_profile(tmp_path):
    res = run("profile", "validate", write(tmp_path, "good.json", GOOD_PROFILE))
    assert res.exit_code == 0, res.output
    assert "ok" in res.output and "error" not in res.output


def test_profile_validate_warns_but_passes(tmp_path):
    warm_end = dict(GOOD_PROFILE, steps=[
        {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40},
        {"kind": "end", "target_c": -50},
    ])
    res = run("profile", "validate", write(tmp_path, "warm.json", warm_end))
    assert res.exit_code == 0, res.output
    assert "warning" in res.output


def test_profile_validate_rejects_and_lists_every_problem(tmp_path):
    good = write(tmp_path, "good.json", GOOD_PROFILE)
    bad = write(tmp_path, "bad.json", {"format": 1, "name": "Bad Name",
                                       "steps": [{"kind": "fly"}]})
    res = run("profile", "validate", good, bad)
    assert res.exit_code == 1, res.output
    assert "bad.json: error" in res.output
    assert "description" in res.output and "fly" in res.output
    assert "good.json: ok" in res.output  # one bad file does not hide others


def test_profile_validate_rejects_broken_json(tmp_path):
    res = run("profile", "validate", write(tmp_path, "broken.json", '{"format": 1,'))
    assert res.exit_code == 1
    assert "error" in res.output


def test_shipped_profiles_validate():
    files = sorted(str(p) for p in paths.PROFILES_DIR.glob("*.json"))
    if not files:
        pytest.skip("no shipped profiles yet")
    res = run("profile", "validate", *files)
    assert res.exit_code == 0, res.output


def _plant_module():
    return pytest.importorskip("crf_sim.plant", reason="plant model not written yet")


def test_plant_validate_rejects_bad_plant(tmp_path):
    _plant_module()
    res = run("plant", "validate", write(tmp_path, "bad.json", {"nonsense": True}))
    assert res.exit_code == 1, res.output
    assert "bad.json: error" in res.output


def test_plant_validate_rejects_broken_json(tmp_path):
    _plant_module()
    res = run("plant", "validate", write(tmp_path, "broken.json", "{"))
    assert res.exit_code == 1, res.output


def test_shipped_plants_validate():
    _plant_module()
    files = sorted(str(p) for p in paths.PLANTS_DIR.glob("*.json"))
    if not files:
        pytest.skip("no shipped plants yet")
    res = run("plant", "validate", *files)
    assert res.exit_code == 0, res.output


def test_bench_splits_space_separated_plants(tmp_path, monkeypatch):
    seen = {}

    def fake_main(plants=None, out="bench/results.json", runs=3):
        seen.update(plants=plants, out=out, runs=runs)
        return 0

    import crf_host.bench
    monkeypatch.setattr(crf_host.bench, "main", fake_main)
    a, b, c = (write(tmp_path, n, "{}") for n in ("a.json", "b.json", "c.json"))
    res = run("bench", "--plants", f"{a} {b}", "--plants", c, "--runs", "1",
              "--out", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    assert seen == {"plants": [a, b, c], "out": str(tmp_path / "r.json"), "runs": 1}


def test_bench_rejects_missing_plant_file(tmp_path):
    res = run("bench", "--plants", str(tmp_path / "nope.json"))
    assert res.exit_code == 2
    assert "nope.json" in res.output


def test_sim_serves_a_port_until_interrupted(tmp_path, monkeypatch):
    # Stand-in firmware: echoes lines; Ctrl-C arrives on the first wait.
    script = tmp_path / "echo.py"
    script.write_text("import sys\nwhile True:\n    l = sys.stdin.readline()\n"
                      "    if not l:\n        break\n    sys.stdout.write(l)\n")
    from crf_host import simlaunch
    started = []

    def argv(self):
        started.append(self)
        return [paths.micropython(), *paths.HEAPSIZE_ARGS, str(script)]

    def interrupt(_s):
        raise KeyboardInterrupt

    monkeypatch.setattr(simlaunch.VirtualFreezer, "argv", argv)
    import crf_host.cli
    monkeypatch.setattr(crf_host.cli.local, "time", SimpleNamespace(sleep=interrupt))
    res = run("sim", "--flash", str(tmp_path / "f.img"), "--log", str(tmp_path / "log"))
    assert res.exit_code == 0, res.output
    assert "virtual freezer on /dev/" in res.output
    vf = started[0]
    assert vf.proc.returncode is not None  # stopped and reaped
