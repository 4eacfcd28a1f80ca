# CPython stand-in for MicroPython's framebuf (MONO_VLSB only), for the
# panel's state-machine tests: rectangles set pixels; text is recorded in
# `texts` (this stand-in has no font), so tests can read what a screen says.
# The pixel-exact images come from the real framebuf (test_panel_snapshots).
MONO_VLSB = 0


class FrameBuffer:
    def __init__(self, buf, w, h, fmt):
        self.buf = buf
        self.w = w
        self.h = h
        self.texts = []

    def pixel(self, x, y, c=None):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y >> 3) * self.w + x
            if c is None:
                return (self.buf[i] >> (y & 7)) & 1
            if c:
                self.buf[i] |= 1 << (y & 7)
            else:
                self.buf[i] &= ~(1 << (y & 7)) & 0xFF
        return None

    def fill_rect(self, x, y, w, h, c):
        for yy in range(max(0, y), min(self.h, y + h)):
            for xx in range(max(0, x), min(self.w, x + w)):
                self.pixel(xx, yy, c)

    def fill(self, c):
        for i in range(len(self.buf)):
            self.buf[i] = 0xFF if c else 0
        self.texts = []

    def rect(self, x, y, w, h, c):
        self.hline(x, y, w, c)
        self.hline(x, y + h - 1, w, c)
        self.vline(x, y, h, c)
        self.vline(x + w - 1, y, h, c)

    def hline(self, x, y, w, c):
        self.fill_rect(x, y, w, 1, c)

    def vline(self, x, y, h, c):
        self.fill_rect(x, y, 1, h, c)

    def text(self, s, x, y, c=1):
        if not isinstance(s, str):
            raise TypeError("text: str needed")
        self.texts.append((s, x, y, c))

    def blit(self, *a):
        raise NotImplementedError
