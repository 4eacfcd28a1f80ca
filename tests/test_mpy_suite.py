"""Runs tests/mpy on the MicroPython unix port with the board's heap size."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tests" / "mpy" / "runner.py"
MICROPYTHON = Path(sys.executable).parent / "micropython"


def micropython():
    try:
        from crf_host.paths import micropython as find
        return find()
    except ImportError:  # host package not installed; use the venv's
        return str(MICROPYTHON)


def run_runner(*args, timeout=300):
    from crf_host.paths import micropython_env
    return subprocess.run(
        [micropython(), "-X", "heapsize=128wK", str(RUNNER), *args],
        cwd=REPO, env=micropython_env(), capture_output=True, text=True, timeout=timeout)


def test_micropython_suite_passes():
    res = run_runner("tests/mpy")
    out = res.stdout + res.stderr
    assert res.returncode == 0, "MicroPython suite failed:\n" + out
    assert " passed, 0 failed" in res.stdout.splitlines()[-1]


def test_runner_reports_failures(tmp_path):
    (tmp_path / "test_demo.py").write_text(
        "def test_good():\n    pass\n\n"
        "def test_broken():\n    assert 1 + 1 == 3, 'arithmetic'\n\n"
        "def helper():\n    raise RuntimeError('not a test')\n")
    res = run_runner(str(tmp_path), timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAIL test_demo.test_broken" in res.stdout
    assert "AssertionError" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_runner_reports_import_errors(tmp_path):
    (tmp_path / "test_noimport.py").write_text("import no_such_module_here\n")
    res = run_runner(str(tmp_path), timeout=60)
    assert res.returncode == 1
    assert "FAIL test_noimport" in res.stdout
