# What each panel screen shows (crf.panel.ui holds the state), on the
# 128x64 display (framebuf, MONO_VLSB): eight 8-pixel text lines of 16
# characters, or a status screen with the chamber and sample temperatures
# in large seven-segment digits (24 px, about a third of the display's
# height: legible at arm's length), drawn segment by segment with fill_rect.
from crf.panel import ui as U

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_W = const(128)
_DIG_H = const(24)          # large digit: 11 x 24 px, stroke 3
_ADV = const(14)            # advance of a digit, '-' 10, '.' 5

# Seven segments a b c d e f g per digit, as bits 0..6, and each segment's
# rectangle (x, y, w, h) in a 11 x 24 cell, four bytes a segment.
_SEG = b"\x3f\x06\x5b\x4f\x66\x6d\x7d\x07\x7f\x6f"
_RECT = b"\x00\x00\x0b\x03\x08\x00\x03\x0d\x08\x0b\x03\x0d\x00\x15\x0b\x03" \
        b"\x00\x0b\x03\x0d\x00\x00\x03\x0d\x00\x0b\x0b\x03"


def number(fb, text, x, y):
    """Large digits, '-' and '.' at x, y (fill_rect only: no glyph buffers
    on the heap); returns the x after them."""
    r = _RECT
    for ch in text:
        if ch == "-":
            fb.fill_rect(x, y + 11, 8, 3, 1)
            x += 10
        elif ch == ".":
            fb.fill_rect(x, y + 21, 3, 3, 1)
            x += 5
        else:
            seg = _SEG[ord(ch) - 48]
            if seg == 6:            # '1': narrow, no gap before it
                x -= 6
            i = 0
            while seg:
                if seg & 1:
                    fb.fill_rect(x + r[i], y + r[i + 1], r[i + 2], r[i + 3], 1)
                seg >>= 1
                i += 4
            x += _ADV
    return x


def temp_text(v):
    """A temperature for the large digits: one decimal below 100 degrees,
    whole degrees from 100 up (fits 64 px); None (no reading) -> '---'."""
    if v is None:
        return "---"
    if -99.95 < v < 99.95:
        return "%.1f" % v
    return "%d" % round(v)


def degree(fb, x, y):
    fb.rect(x, y, 4, 4, 1)


def bar(fb, text, y):
    """An inverse line across the display (titles, banners)."""
    fb.fill_rect(0, y, _W, 9, 1)
    fb.text(text, 1, y + 1, 0)


def right(fb, text, y):
    fb.text(text, _W - 8 * len(text), y, 1)


def hm(s):
    if s is None:
        return "--:--"
    if s < 0:
        s = 0
    return "%dh%02d" % (s // 3600, s // 60 % 60)


_END_SAMPLE_C = -80.0       # transfer threshold when the profile names none


def same(p):
    """True if the status screen would show what it shows (cheap)."""
    a = p.app
    e = a.engine
    c = a.chamber_c
    s = a.sample_c
    k = (e.state, e.index, e.elapsed_ms // 60000, None if c is None else int(c * 10),
         None if s is None else int(s * 10), p.alarms, p.hint, p.stuck)
    if k == p.key:
        return True
    p.key = k
    return False


def draw(p):
    import sys
    fb = p.disp.fb
    fb.fill(0)
    sc = p.screen
    if sc == U.HOME:
        if p.app.engine.state == "end":
            _end(p, fb)
        else:
            _home(p, fb)
    elif sc == U.CONFIRM_STOP:
        end = p.app.engine.state == "end"
        bar(fb, "FINISH RUN?" if end else "STOP THE RUN?", 0)
        fb.text("product removed" if end else "cooling ends,", 0, 12, 1)
        fb.text("record closed", 0, 21, 1)
        fb.text(("as " + p.who())[:16], 0, 32, 1)
        bar(fb, "OK: finish" if end else "OK: STOP NOW", 45)
        fb.text("STOP: go back", 0, 56, 1)
    else:
        m = sys.modules.get("crf.panel." + ("menu" if sc == U.MENU or sc == U.ALARMS else "forms"))
        if sc == U.MESSAGE or m is None:
            y = 0
            for line in p.msg:
                fb.text(line, 0, y, 1)
                y += 9
        else:
            m.draw(p, fb)
    # the first unacknowledged alarm on top; a stuck button or hint below
    n = p.unacked() if sc != U.ALARMS else 0
    if n:
        text = "ALARM"
        for r in p.app.alarms.active():
            if not r.acked:
                text = "!" + r.text
                break
        if n > 1:
            text = text[:13] + " +%d" % (n - 1)
        bar(fb, text[:16], 0)
    note = p.hint if p.stuck is None else p.stuck + " KEY STUCK"
    if note is not None:
        bar(fb, note[:16], 55)


def _temps(fb, y, chamber, sample):
    fb.text("CHAMBER", 0, y, 1)
    fb.text("SAMPLE", 68, y, 1)
    y += 10
    x = number(fb, temp_text(chamber), 0, y)
    if chamber is not None:
        degree(fb, x - 1, y)
    x = number(fb, temp_text(sample), 68, y)
    if sample is not None:
        degree(fb, x - 1, y)
    fb.vline(64, y - 10, 34, 1)


def _home(p, fb):
    app = p.app
    e = app.engine
    st = e.state
    run = st == "running" or st == "held"
    name = app.profile_name or ""
    if run:
        head = "%s %d/%d %s" % ("RUN" if st == "running" else "HELD", e.index + 1,
                                len(e.profile["steps"]), name)
    else:
        head = st.upper() + "  " + (name if st == "stopped" else "")
    fb.text(head[:16], 0, 0, 1)
    _temps(fb, 10, app.chamber_c, app.sample_c)
    if run:
        if e.probe == "sample":
            fb.text("SP S%.1f" % e.sp_sample, 0, 46, 1)
        else:
            fb.text("SP %.1f" % app.ctl.chamber_sp, 0, 46, 1)
        if st == "running":
            right(fb, "%+.1f/m" % (e.rate_c_s * 60.0), 46)
        el = e.elapsed_ms // 1000
        fb.text(hm(el), 0, 56, 1)
        right(fb, "rem " + hm(app.planned_s - el if app.planned_s else None), 56)
    else:
        fb.text("ready", 0, 46, 1)
        fb.text("OK: menu", 0, 56, 1)


def _end(p, fb):
    # The run reached its end: may the product go to LN2 storage?
    app = p.app
    s = app.sample_c
    limit = _END_SAMPLE_C
    prof = app.engine.profile
    acc = prof.get("acceptance") if prof else None
    if acc and acc.get("end_sample_max_c") is not None:
        limit = acc["end_sample_max_c"]
    fb.text("END  %s" % (app.profile_name or ""), 0, 0, 1)
    fb.text("SAMPLE", 0, 10, 1)
    x = number(fb, temp_text(s), 0, 20)
    if s is not None:
        degree(fb, x - 1, 20)
    fb.text("need", 88, 20, 1)
    fb.text("<=%d" % limit, 80, 30, 1)
    if s is not None and s <= limit:
        bar(fb, "TRANSFER TO LN2", 46)
        bar(fb, "STORAGE NOW", 55)
    else:
        fb.text("WAIT: sample", 0, 46, 1)
        fb.text("above %d C" % limit, 0, 56, 1)
