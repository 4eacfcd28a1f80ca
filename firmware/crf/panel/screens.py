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


_NONE = const(-1 << 24)      # a key for "nothing shown"


def tenths(v):
    """A reading in tenths (an int: a key compared without formatting), or
    _NONE for no reading."""
    return _NONE if v is None else int(round(v * 10))


def dec(t, plus=False):
    """Tenths as text: '-12.5' ('+1.0' with plus)."""
    sign = "-" if t < 0 else "+" if plus else ""
    if t < 0:
        t = -t
    return "%s%d.%d" % (sign, t // 10, t % 10)


def temp_text(t):
    """A temperature in tenths for the large digits: one decimal below 100
    degrees, whole degrees from 100 up (fits 64 px); _NONE -> '---'."""
    if t == _NONE:
        return "---"
    if -1000 < t < 1000:
        return dec(t)
    return "%d" % ((t + 5) // 10 if t > 0 else -((5 - t) // 10))


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


# The status screen's values that change during a run, as integer keys in
# p.keys: the two temperatures, setpoint and rate (the line at y 46), the
# elapsed and remaining minutes (y 56). A refresh compares keys (nothing
# formatted, little garbage), redraws only the parts whose key changed and
# sends only their display pages (refresh()); anything else changed redraws
# the screen whole.
_CH = const(0)
_SA = const(1)
_SP = const(2)
_RATE = const(3)
_EL = const(4)
_REM = const(5)


def _keys(app, k):
    e = app.engine
    st = e.state
    k[_CH] = tenths(app.chamber_c) if st != "end" else _NONE     # (not on the end screen)
    k[_SA] = tenths(app.sample_c)
    if st == "running" or st == "held":
        if e.probe == "sample":     # (odd: the sample's setpoint, "SP S")
            k[_SP] = tenths(e.sp_sample) * 2 + 1
        else:
            k[_SP] = tenths(app.ctl.chamber_sp) * 2
        k[_RATE] = int(round(e.rate_c_s * 600.0)) if st == "running" else _NONE
        el = e.elapsed_ms // 1000
        k[_EL] = el // 60
        k[_REM] = (app.planned_s - el) // 60 if app.planned_s else _NONE
    else:
        k[_SP] = k[_RATE] = k[_EL] = k[_REM] = _NONE


def _minutes(m):
    if m == _NONE:
        return "--:--"
    if m < 0:
        m = 0
    return "%dh%02d" % (m // 60, m % 60)


def _line46(fb, k):
    sp = k[_SP]
    if sp == _NONE:
        fb.text("ready", 0, 46, 1)
        return
    fb.text(("SP S" if sp & 1 else "SP ") + dec(sp >> 1), 0, 46, 1)
    if k[_RATE] != _NONE:
        right(fb, dec(k[_RATE], True) + "/m", 46)


def _line56(fb, k):
    if k[_EL] == _NONE:
        fb.text("OK: menu", 0, 56, 1)
        return
    fb.text(_minutes(k[_EL]), 0, 56, 1)
    right(fb, "rem " + _minutes(k[_REM]), 56)


def _layout(p):
    # what, changed, needs the status screen drawn whole
    e = p.app.engine
    return (e.state, e.index, p.app.profile_name, p.alarms, p.hint, p.stuck)


def refresh(p):
    """The status screen, redrawn where what it shows changed (cheap when
    nothing did). -> (first, last) display pages to send, or None."""
    k = p.keys_new
    _keys(p.app, k)
    old = p.keys
    lay = _layout(p)
    if lay != p.layout:
        draw(p)
        return 0, 7
    st = lay[0]
    if not (st == "running" or st == "held") or lay[4] is not None or lay[5] is not None:
        # (the end and idle screens, or a bar over the times line: whole)
        for i in range(6):
            if k[i] != old[i]:
                draw(p)
                return 0, 7
        return None
    fb = p.disp.fb
    first = 8
    last = -1
    if k[_CH] != old[_CH]:
        fb.fill_rect(0, 20, 64, 24, 0)
        _big(fb, k[_CH], 0, 20)
        first, last = 2, 5
    if k[_SA] != old[_SA]:
        fb.fill_rect(65, 20, 63, 24, 0)
        _big(fb, k[_SA], 68, 20)
        first, last = 2, 5
    if k[_SP] != old[_SP] or k[_RATE] != old[_RATE]:
        fb.fill_rect(0, 46, _W, 8, 0)
        _line46(fb, k)
        if first > 5:
            first = 5
        last = 6
    if k[_EL] != old[_EL] or k[_REM] != old[_REM]:
        fb.fill_rect(0, 56, _W, 8, 0)
        _line56(fb, k)
        if first > 7:
            first = 7
        last = 7
    p.keys = k
    p.keys_new = old
    return None if last < 0 else (first, last)


def draw(p):
    import sys
    fb = p.disp.fb
    fb.fill(0)
    sc = p.screen
    p.layout = None
    if sc == U.HOME:
        if p.app.engine.state == "end":
            _keys(p.app, p.keys)
            _end(p, fb)
        else:
            _home(p, fb)
        p.layout = _layout(p)
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


def _big(fb, t, x, y):
    # a temperature (tenths) in large digits, with the degree sign after a reading
    x = number(fb, temp_text(t), x, y)
    if t != _NONE:
        degree(fb, x - 1, y)


def _home(p, fb):
    app = p.app
    e = app.engine
    st = e.state
    name = app.profile_name or ""
    if st == "running" or st == "held":
        head = "%s %d/%d %s" % ("RUN" if st == "running" else "HELD", e.index + 1,
                                len(e.profile["steps"]), name)
    else:
        head = st.upper() + "  " + (name if st == "stopped" else "")
    fb.text(head[:16], 0, 0, 1)
    k = p.keys
    _keys(app, k)
    fb.text("CHAMBER", 0, 10, 1)
    fb.text("SAMPLE", 68, 10, 1)
    _big(fb, k[_CH], 0, 20)
    _big(fb, k[_SA], 68, 20)
    fb.vline(64, 10, 34, 1)
    _line46(fb, k)
    _line56(fb, k)


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
    _big(fb, tenths(s), 0, 20)
    fb.text("need", 88, 20, 1)
    fb.text("<=%d" % limit, 80, 30, 1)
    if s is not None and s <= limit:
        bar(fb, "TRANSFER TO LN2", 46)
        bar(fb, "STORAGE NOW", 55)
    else:
        fb.text("WAIT: sample", 0, 46, 1)
        fb.text("above %d C" % limit, 0, 56, 1)
