"""The pty launcher: bytes flow both ways and stop() leaves nothing behind."""

import os
import time

import pytest
import serial

from crf_host import paths
from crf_host.simlaunch import VirtualFreezer

# Stand-in for the firmware: a line echo on the same MicroPython build.
ECHO = """\
import sys
print("EV boot")
while True:
    line = sys.stdin.readline()
    if not line:
        break
    sys.stdout.write("echo " + line)
"""


@pytest.fixture
def echo_cmd(tmp_path):
    script = tmp_path / "echo.py"
    script.write_text(ECHO)
    return [paths.micropython(), *paths.HEAPSIZE_ARGS, str(script)]


def read_line(ser, prefix, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = ser.readline().decode()
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting {prefix!r} within {timeout}s")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_echo_through_pty(echo_cmd):
    with VirtualFreezer(command=echo_cmd) as vf:
        assert vf.port.startswith("/dev/")
        with serial.Serial(vf.port, timeout=1) as ser:
            assert read_line(ser, "EV ") == "EV boot\n"
            ser.write(b"status\n")
            # Raw pty: no echo of our own bytes, no CR/LF rewriting.
            assert read_line(ser, "echo ") == "echo status\n"
            payload = bytes(range(32, 127)) + b"\n"
            ser.write(payload)
            assert read_line(ser, "echo ").encode() == b"echo " + payload


def test_stop_leaves_no_process(echo_cmd):
    vf = VirtualFreezer(command=echo_cmd).start()
    pid, port, thread = vf.proc.pid, vf.port, vf._thread
    assert vf.running() and os.path.exists(port)
    vf.stop()
    assert vf.proc.returncode is not None  # reaped, not a zombie
    assert not alive(pid)
    assert not thread.is_alive()
    assert not os.path.exists(port)  # pty released
    vf.stop()  # idempotent
    vf.close_log()


def test_process_exit_is_seen(tmp_path):
    script = tmp_path / "bye.py"
    script.write_text("import sys\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
    vf = VirtualFreezer(command=[paths.micropython(), *paths.HEAPSIZE_ARGS, str(script)])
    vf.start()
    try:
        assert vf.wait(10) == 3
        assert not vf.running()
        assert "boom" in vf.stderr_text()
    finally:
        vf.stop()
        vf.close_log()


def test_default_argv_runs_the_firmware_runner(tmp_path):
    vf = VirtualFreezer(plant="p.json", seed=7, speed="max",
                        flash=tmp_path / "f.img", extra_args=("--trace", "t.csv"))
    argv = vf.argv()
    assert argv[1:3] == ["-X", "heapsize=128wK"]
    assert argv[3].endswith("firmware/crf_sim/run.py")
    assert argv[argv.index("--speed") + 1] == "max"
    assert argv[argv.index("--seed") + 1] == "7"
    # Paths are absolute: the process runs from the repo root.
    assert os.path.isabs(argv[argv.index("--plant") + 1])
    assert argv[argv.index("--flash") + 1] == str(tmp_path / "f.img")
    assert argv[-2:] == ["--trace", "t.csv"]


def test_stop_with_unread_flood(tmp_path):
    # Nobody opens the port while the device talks non-stop: the relay must
    # not wedge, and stop() must still return promptly.
    script = tmp_path / "flood.py"
    script.write_text("while True:\n    print('T ' + 'x' * 60)\n")
    vf = VirtualFreezer(command=[paths.micropython(), *paths.HEAPSIZE_ARGS, str(script)])
    vf.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    vf.stop()
    vf.close_log()
    assert time.monotonic() - t0 < 5
    assert not vf._thread
