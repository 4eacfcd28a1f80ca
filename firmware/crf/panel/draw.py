# Drawing helpers for the 128x64 panel (framebuf, MONO_VLSB): large
# seven-segment numbers for the temperatures (legible at arm's length:
# 24 px = about a third of the display's height), text lines in the 8x8
# built-in font, inverse bars and a degree sign.
#
# The large glyphs are drawn once with fill_rect into small frame buffers
# and then blitted: a temperature costs one blit per character, which keeps
# a redraw cheap (the control loop's budget, docs/panel.md).
import framebuf

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

W = const(128)
H = const(64)
COLS = const(16)            # 8x8 text: characters per line
DIG_W = const(11)           # large digit: width, height, stroke
DIG_H = const(24)
_T = const(3)
_ADV = const(14)            # advance of a digit
_MINUS_ADV = const(10)
_DOT_ADV = const(5)

# Segments a b c d e f g per glyph, as bits 0..6.
_SEG = (0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F)
_MINUS = const(10)


class Big:
    """Pre-rendered seven-segment glyphs 0-9 and '-' (11 x 24 px)."""

    def __init__(self):
        self.bufs = []
        self.fbs = []
        half = DIG_H // 2
        for i in range(11):
            b = bytearray(DIG_W * (DIG_H // 8))
            f = framebuf.FrameBuffer(b, DIG_W, DIG_H, framebuf.MONO_VLSB)
            s = _SEG[i] if i < 10 else 0x40
            if s & 1:
                f.fill_rect(0, 0, DIG_W, _T, 1)
            if s & 2:
                f.fill_rect(DIG_W - _T, 0, _T, half + 1, 1)
            if s & 4:
                f.fill_rect(DIG_W - _T, half - 1, _T, half + 1, 1)
            if s & 8:
                f.fill_rect(0, DIG_H - _T, DIG_W, _T, 1)
            if s & 16:
                f.fill_rect(0, half - 1, _T, half + 1, 1)
            if s & 32:
                f.fill_rect(0, 0, _T, half + 1, 1)
            if s & 64:
                f.fill_rect(0, half - 1, DIG_W, _T, 1)
            self.bufs.append(b)
            self.fbs.append(f)

    def number(self, fb, text, x, y):
        """Draw text of digits, '-' and '.' at x, y; returns the x after it."""
        fbs = self.fbs
        for ch in text:
            if ch == "-":
                fb.blit(fbs[_MINUS], x - 1, y)
                x += _MINUS_ADV
            elif ch == ".":
                fb.fill_rect(x, y + DIG_H - _T, _T, _T, 1)
                x += _DOT_ADV
            elif "0" <= ch <= "9":
                fb.blit(fbs[ord(ch) - 48], x, y)
                x += _ADV
            else:
                x += _ADV
        return x


def width(text):
    n = 0
    for ch in text:
        n += _MINUS_ADV if ch == "-" else _DOT_ADV if ch == "." else _ADV
    return n


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
    fb.fill_rect(0, y, W, 9, 1)
    fb.text(text, 1, y + 1, 0)


def right(fb, text, y, c=1):
    fb.text(text, W - 8 * len(text), y, c)


def center(fb, text, y, c=1):
    fb.text(text, (W - 8 * len(text)) // 2, y, c)


def hms(s):
    if s is None:
        return "--:--"
    if s < 0:
        s = 0
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def hm(s):
    if s is None:
        return "--:--"
    if s < 0:
        s = 0
    return "%d:%02d" % (s // 3600, s // 60 % 60)

