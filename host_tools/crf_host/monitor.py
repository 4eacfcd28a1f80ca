"""`crf monitor`: the live terminal view of a freezer.

`MonitorState` collects the device's status and event frames (after
`subscribe`) and `render()` turns them into one rich renderable: what the
freezer is doing, its temperatures and outputs, alarms, recent events and a
scrolling braille chart of chamber and sample temperature. The loop that
feeds it lives in cli.py; everything here is pure (no I/O), so it is tested
without a device.
"""

import math
import time
from collections import deque

# A status older than this is shown as stale: the view must not look live
# when the freezer has stopped talking.
STALE_S = 5.0
# Consecutive chart points further apart than this are not joined.
GAP_S = 10.0
MIN_SPAN_C = 10.0

STATE_STYLE = {"running": "bold green", "held": "bold yellow", "end": "bold cyan",
               "stopped": "bold red", "idle": "dim"}
# (status key, chart style, legend) in drawing order: later ones win a shared cell.
SERIES = (("sp_chamber_c", "bright_black", "chamber setpoint"),
          ("chamber_c", "cyan", "chamber"),
          ("sample_c", "yellow", "sample"))

# Braille cell: 2 dots wide, 4 high; bit of the dot at (row, column).
_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


# -- formatting ---------------------------------------------------------------

def temp(v):
    return "—" if v is None else f"{v:.1f} °C"


def duty(v):
    return "—" if v is None else f"{v * 100:.0f} %"


def hms(s):
    """Seconds -> h:mm:ss ("—" for None)."""
    if s is None:
        return "—"
    s = int(round(s))
    sign, s = ("-", -s) if s < 0 else ("", s)
    return f"{sign}{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def utc(rtc_s):
    """Device RTC seconds -> 'YYYY-MM-DD HH:MM:SS UTC', or 'not set'."""
    from datetime import datetime, timezone

    if not isinstance(rtc_s, (int, float)) or isinstance(rtc_s, bool) or rtc_s <= 0:
        return "not set"
    try:
        return datetime.fromtimestamp(rtc_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "not set"


def alarm_text(a):
    """'Door open [door_open, since 12:03:04, not acknowledged]' from a status alarm."""
    if isinstance(a, dict):
        for key in ("text", "detail", "name", "alarm"):
            if a.get(key):
                text = str(a[key])
                notes = [str(a["code"])] if a.get("code") and a.get("code") != a[key] else []
                if a.get("since_s"):
                    notes.append("since " + utc(a["since_s"]))
                if "acked" in a:
                    notes.append("acknowledged" if a["acked"] else "not acknowledged")
                if a.get("active") is False:
                    notes.append("condition gone")
                return text + (" [" + ", ".join(notes) + "]" if notes else "")
    return str(a)


def step_text(st):
    """'3/5 ramp (sample probe): freeze, compensating nucleation' or '—'."""
    step, steps = st.get("step"), st.get("steps")
    if not step or not steps:
        return "—"
    text = f"{step}/{steps}"
    if st.get("kind"):
        text += f" {st['kind']}"
    if st.get("probe"):
        text += f" ({st['probe']} probe)"
    if st.get("step_note"):
        text += f": {st['step_note']}"
    return text


# -- chart ----------------------------------------------------------------------

def _nice_range(lo, hi):
    if hi - lo < MIN_SPAN_C:
        mid = (hi + lo) / 2
        lo, hi = mid - MIN_SPAN_C / 2, mid + MIN_SPAN_C / 2
    return math.floor(lo / 5) * 5, math.ceil(hi / 5) * 5


def chart(series, t0, t1, width, height):
    """Braille line chart -> list of rich Text lines (labels, plot, time axis).

    series: [(style, [(t, value or None), ...])] in drawing order; the value
    axis fits every visible value, the time axis runs from t0 to t1.
    """
    from rich.text import Text

    label_w = 8
    width = max(10, width - label_w - 1)
    height = max(2, height)
    visible = [(style, [(t, v) for t, v in pts if t0 <= t <= t1]) for style, pts in series]
    values = [v for _, pts in visible for _, v in pts if v is not None]
    if not values:
        return [Text("  (no temperature readings yet)", style="dim")]
    lo, hi = _nice_range(min(values), max(values))
    pw, ph = width * 2, height * 4
    bits = [[0] * width for _ in range(height)]
    owner = [[None] * width for _ in range(height)]

    def dot(x, y, style):
        if 0 <= x < pw and 0 <= y < ph:
            r, c = y // 4, x // 2
            bits[r][c] |= _DOT[y % 4][x % 2]
            owner[r][c] = style

    span_t = max(t1 - t0, 1e-9)
    for style, pts in visible:
        prev = None
        for t, v in pts:
            if v is None:
                prev = None
                continue
            x = round((t - t0) / span_t * (pw - 1))
            y = round((hi - v) / (hi - lo) * (ph - 1))
            if prev is not None and t - prev[0] <= GAP_S:
                n = max(abs(x - prev[1]), abs(y - prev[2]), 1)
                for i in range(n + 1):
                    dot(round(prev[1] + (x - prev[1]) * i / n),
                        round(prev[2] + (y - prev[2]) * i / n), style)
            else:
                dot(x, y, style)
            prev = (t, x, y)

    labelled = {0: hi, height // 2: None, height - 1: lo}
    lines = []
    for r in range(height):
        line = Text()
        if r in labelled:
            v = labelled[r]
            if v is None:
                v = hi - (r * 4 + 1.5) / (ph - 1) * (hi - lo)
            line.append(f"{v:7.1f} ┤", style="dim")
        else:
            line.append(" " * label_w + "│", style="dim")
        for c in range(width):
            b = bits[r][c]
            line.append(chr(0x2800 + b) if b else " ", style=owner[r][c])
        lines.append(line)
    lines.append(Text(" " * label_w + "└" + "─" * width, style="dim"))
    minutes = (t1 - t0) / 60
    left, mid = f"-{minutes:g} min", f"-{minutes / 2:g} min"
    axis = " " * (label_w + 1) + left
    pad = (label_w + 1 + width // 2 - len(mid) // 2) - len(axis)
    axis += " " * max(1, pad) + mid
    axis += " " * max(1, label_w + 1 + width - 3 - len(axis)) + "now"
    lines.append(Text(axis, style="dim"))
    return lines


# -- state and view ---------------------------------------------------------------

def _row(table, *cells):
    """Add a row of plain-text cells: device strings may hold brackets, not markup."""
    from rich.text import Text

    table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))


class MonitorState:
    """What the monitor knows: the latest status, a window of readings, recent events."""

    def __init__(self, window_s=1800, max_events=6, clock=time.monotonic):
        self.window_s = window_s
        self.clock = clock
        self.status = None
        self.status_at = None
        self.history = deque()          # (t, {series key: value})
        self.events = deque(maxlen=max_events)

    def add_status(self, st, t=None):
        t = self.clock() if t is None else t
        self.status, self.status_at = st, t
        self.history.append((t, {key: st.get(key) for key, _, _ in SERIES}))
        while self.history and self.history[0][0] < t - self.window_s:
            self.history.popleft()

    def add_event(self, ev):
        self.events.append(ev)

    def feed(self, frames):
        """Take [(command name, dict)] from Client.poll_unsolicited()."""
        for name, body in frames:
            if not isinstance(body, dict):
                continue
            if name == "status":
                self.add_status(body)
            elif name == "event":
                self.add_event(body)

    def render(self, width=80, chart_height=10, title="", now=None):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = self.clock() if now is None else now
        st = self.status or {}
        parts = []
        head = Text()
        head.append("crf monitor", style="bold")
        if title:
            head.append(f"  {title}", style="dim")
        parts.append(head)
        if self.status is None:
            parts.append(Text("waiting for the first status from the freezer …", style="yellow"))
            return Group(*parts)
        if self.status_at is not None and now - self.status_at > STALE_S:
            parts.append(Text(f"NO STATUS from the freezer for {now - self.status_at:.0f} s — "
                              f"the values below are old", style="bold red"))

        grid = Table.grid(padding=(0, 2))
        for _ in range(4):
            grid.add_column()

        state = str(st.get("state") or "?")
        run = st.get("run")
        _row(grid, "state", Text(state.upper(), style=STATE_STYLE.get(state, "bold")),
                     "run", "—" if run in (None, "") else str(run))
        _row(grid, "profile", str(st.get("profile") or "—"), "step", step_text(st))
        _row(grid, "chamber", Text(temp(st.get("chamber_c")), style="cyan"),
                     "setpoint", temp(st.get("sp_chamber_c")))
        _row(grid, "sample", Text(temp(st.get("sample_c")), style="yellow"),
                     "setpoint", temp(st.get("sp_sample_c")))
        valve = st.get("valve")
        _row(grid, "LN2", f"{duty(st.get('ln2_duty'))}"
                     + ("" if valve is None else f", valve {'open' if valve else 'closed'}"),
                     "heater", duty(st.get("heater_duty")))
        _row(grid, "elapsed", hms(st.get("elapsed_s")), "remaining", hms(st.get("remaining_s")))
        _row(grid, "clock", utc(st.get("rtc_s")), "compensation",
                     "active" if st.get("comp") else "off")
        parts.append(grid)

        alarms = st.get("alarms") or []
        if alarms:
            parts.append(Text("ALARM: " + "; ".join(alarm_text(a) for a in alarms),
                              style="bold white on red"))
        else:
            parts.append(Text("alarms: none", style="green"))
        intr = st.get("interrupted")
        if intr:
            what = intr.get("run", "?") if isinstance(intr, dict) else intr
            parts.append(Text(f"interrupted run {what} found at boot (power cut or restart)",
                              style="yellow"))

        t1 = now
        t0 = t1 - self.window_s
        series = [(style, [(t, vals[key]) for t, vals in self.history])
                  for key, style, _ in SERIES]
        legend = Text(" " * 9)
        for _, style, name in reversed(SERIES):
            legend.append("⣿ ", style=style)
            legend.append(name + "   ")
        parts.append(Text(""))
        parts.append(legend)
        parts.extend(chart(series, t0, t1, width, chart_height))

        if self.events:
            parts.append(Text("recent events", style="bold"))
            for ev in self.events:
                line = Text(f"  {hms(ev.get('t_s')):>9}  ", style="dim")
                line.append(str(ev.get("event", "?")), style="bold")
                if ev.get("who"):
                    line.append(f"  {ev['who']}")
                if ev.get("detail"):
                    line.append(f"  {ev['detail']}", style="dim")
                parts.append(line)
        return Group(*parts)
