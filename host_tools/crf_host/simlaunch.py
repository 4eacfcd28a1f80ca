"""Run the virtual freezer behind a pseudo-terminal.

The firmware on the MicroPython unix port speaks its serial link over
stdin/stdout. Host tools (and the HIL tests) want a serial device instead, so
this module starts the process with pipes, opens a pty pair and relays bytes
between the pty master and the pipes. Anything that can open /dev/ttyACM0 can
then open `VirtualFreezer.port` the same way.
"""

import errno
import os
import select
import time
import subprocess
import tempfile
import threading
import tty
from pathlib import Path

from crf_host import paths

# Bytes held for a slow or absent reader before the oldest are dropped, like
# a serial line nobody listens to.
MAX_PENDING = 1 << 20
CHUNK = 4096


class VirtualFreezer:
    """A virtual freezer process reachable through a pty (`.port`)."""

    def __init__(self, plant=None, seed=None, speed="1", flash=None,
                 extra_args=(), command=None, log=None, baud=None):
        self.plant = plant
        self.seed = seed
        self.speed = str(speed)
        self.flash = flash
        self.extra_args = tuple(extra_args)
        self.command = list(command) if command else None
        self.log = log
        # Emulate a UART: at most baud/10 bytes per second toward the host
        # (8N1). None: as fast as the pty goes.
        self.baud = baud
        self.port = None
        self.proc = None
        self._master = self._slave = None
        self._wake_r = self._wake_w = None
        self._thread = None
        self._stopping = threading.Event()
        self._log_file = None

    def argv(self):
        if self.command:
            return list(self.command)
        argv = [paths.MICROPYTHON, *paths.HEAPSIZE_ARGS,
                str(paths.FIRMWARE / "crf_sim" / "run.py")]
        # The process runs from the repo root; user paths are made absolute
        # so they mean what they meant in the caller's cwd.
        if self.plant:
            argv += ["--plant", str(Path(self.plant).resolve())]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        argv += ["--speed", self.speed]
        if self.flash:
            argv += ["--flash", str(Path(self.flash).resolve())]
        argv += [str(a) for a in self.extra_args]
        return argv

    # -- lifecycle -------------------------------------------------------

    def start(self):
        if self.proc is not None:
            raise RuntimeError("already started")
        if self.flash:
            Path(self.flash).resolve().parent.mkdir(parents=True, exist_ok=True)
        if self.log:
            Path(self.log).parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log, "ab")
        else:
            self._log_file = tempfile.TemporaryFile()
        self._master, self._slave = os.openpty()
        # Raw: no echo, no line editing, no CR/LF translation - a plain
        # byte pipe like a USB CDC port.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self.proc = subprocess.Popen(
            self.argv(), cwd=str(paths.REPO), env=paths.micropython_env(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log_file, bufsize=0,
            # Own session: a Ctrl-C at the terminal reaches the launcher,
            # which then stops the process in order.
            start_new_session=True)
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._thread = threading.Thread(target=self._relay, daemon=True,
                                        name="crf-sim-relay")
        self._thread.start()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=None):
        """Wait for the process to exit; returns its exit code."""
        return self.proc.wait(timeout)

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        self._stopping.set()
        self._wake()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        for name in ("_master", "_slave", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)

    def stderr_text(self):
        """What the process wrote to stderr so far (for diagnostics)."""
        f = self._log_file
        if f is None or f.closed:
            return ""
        f.flush()
        f.seek(0)
        data = f.read()
        f.seek(0, os.SEEK_END)
        return data.decode("utf-8", "replace")

    def close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.close_log()
        return False

    # -- relay -----------------------------------------------------------

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _relay(self):
        master = self._master
        p_in = self.proc.stdin.fileno()
        p_out = self.proc.stdout.fileno()
        to_proc = bytearray()
        to_host = bytearray()
        out_open = True
        rate = self.baud / 10.0 if self.baud else None
        credit_t = time.monotonic()     # line time up to which bytes were sent
        while not self._stopping.is_set():
            rlist = [self._wake_r, master]
            if out_open:
                rlist.append(p_out)
            wlist = []
            wait = 0.5
            if to_proc:
                wlist.append(p_in)
            if to_host:
                ahead = credit_t - time.monotonic() if rate else 0.0
                if ahead > 0.002:
                    wait = min(wait, ahead)     # the line is still busy
                else:
                    wlist.append(master)
            if not out_open and not to_host:
                return  # process gone and everything delivered
            try:
                r, w, _ = select.select(rlist, wlist, [], wait)
            except (OSError, ValueError):
                return
            if self._wake_r in r:
                return
            if p_out in r:
                data = _read(p_out)
                if data is None:
                    out_open = False
                else:
                    to_host += data
                    if len(to_host) > MAX_PENDING:
                        del to_host[:len(to_host) - MAX_PENDING]
            if master in r:
                data = _read(master)
                if data:
                    to_proc += data
                    if len(to_proc) > MAX_PENDING:
                        del to_proc[:len(to_proc) - MAX_PENDING]
            if p_in in w and not _write(p_in, to_proc):
                to_proc.clear()  # process closed its stdin
            if master in w:
                if rate:
                    # A slice of what the line carries in 20 ms, timed back to back.
                    now = time.monotonic()
                    credit_t = max(credit_t, now)
                    n = max(1, int(rate * 0.02))
                    part = to_host[:n]
                    sent = len(part)
                    _write(master, part)
                    sent -= len(part)
                    del to_host[:sent]
                    credit_t += sent / rate
                else:
                    _write(master, to_host)


def _read(fd):
    """Read what is available; b"" if nothing now, None at end of file."""
    try:
        data = os.read(fd, CHUNK)
    except BlockingIOError:
        return b""
    except OSError as e:
        # A pty master reports EIO while no slave is open: no data, not EOF.
        if e.errno == errno.EIO:
            return b""
        return None
    return data if data else None


def _write(fd, buf):
    """Write as much of buf as fits and drop it from buf; False if broken."""
    try:
        n = os.write(fd, buf)
    except BlockingIOError:
        return True
    except OSError:
        return False
    del buf[:n]
    return True
