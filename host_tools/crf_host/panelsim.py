"""`crf sim --panel`: the virtual freezer's front panel in a terminal.

The display is fetched with the link's `screen` command a few times a
second and drawn with half blocks (two pixel rows a line); keys press the
panel's buttons with the simulation-only `button` command:

    Up / k       UP        (held: auto-repeat; press again to repeat)
    Down / j     DOWN
    Enter / o    OK        O  = hold OK (2.5 s: "done" in text entry)
    s            STOP      S  = hold STOP (2.5 s: asks to stop the run)
    a            all four at once (a glove on the panel: nothing happens)
    q            quit (stops the virtual freezer)
"""

import os
import select
import sys
import termios
import time
import tty

from crf_host import panelimg

LONG_MS = 2500
SHORT_MS = 200

KEYS = {
    b"\x1b[A": ("UP", SHORT_MS), b"k": ("UP", SHORT_MS),
    b"\x1b[B": ("DOWN", SHORT_MS), b"j": ("DOWN", SHORT_MS),
    b"\r": ("OK", SHORT_MS), b"\n": ("OK", SHORT_MS), b"o": ("OK", SHORT_MS),
    b"O": ("OK", LONG_MS),
    b"s": ("STOP", SHORT_MS), b"S": ("STOP", LONG_MS),
    b"a": (["UP", "DOWN", "OK", "STOP"], SHORT_MS),
    b"q": (None, 0),
}


def decode_keys(data):
    """Terminal bytes -> [(buttons, ms)], (None, 0) for quit; unknown keys are skipped."""
    out = []
    i = 0
    while i < len(data):
        for n in (3, 1):
            k = data[i:i + n]
            if k in KEYS:
                out.append(KEYS[k])
                i += n
                break
        else:
            i += 1
    return out


def frame_text(reply, status=None, last=""):
    """The screen reply as terminal lines, with a frame and a help line."""
    buf, w, h = panelimg.from_reply(reply)
    lines = ["┌" + "─" * w + "┐"]
    lines += ["│" + ln + "│" for ln in panelimg.terminal_lines(buf, w, h)]
    lines.append("└" + "─" * w + "┘")
    info = f"screen {reply.get('screen', '?')}"
    if status:
        info += f" | {status.get('state')} | run {status.get('run')}"
    if last:
        info += f" | pressed {last}"
    lines.append(info)
    lines.append("↑/k UP  ↓/j DOWN  Enter OK  O hold OK  s STOP  S hold STOP  a all  q quit")
    return lines


def run(client, out=None, fps=4.0):
    """Show the panel and pass keys until q or Ctrl-C (the terminal is restored)."""
    out = out or sys.stdout
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    out.write("\x1b[2J\x1b[?25l")
    last = ""
    try:
        while True:
            t0 = time.monotonic()
            reply = client.screen()
            status = client.status()
            out.write("\x1b[H" + "\x1b[K\n".join(frame_text(reply, status, last)) + "\x1b[K")
            out.flush()
            while True:
                wait = 1.0 / fps - (time.monotonic() - t0)
                if wait <= 0:
                    break
                r, _, _ = select.select([fd], [], [], wait)
                if not r:
                    continue
                for buttons, ms in decode_keys(os.read(fd, 64)):
                    if buttons is None:
                        return
                    client.button(buttons, ms)
                    last = (buttons if isinstance(buttons, str) else "ALL") + \
                        (" (held)" if ms >= LONG_MS else "")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        out.write("\x1b[?25h\n")
        out.flush()
