# The virtual freezer's front panel hardware: a 128x64 monochrome display
# with the API of the SSD1306 driver (crf/drivers/ssd1306.py) and the four
# buttons, pressed by the link's simulation-only `button` command.
import framebuf

_PAGES = 8
_PAGE = 128


class VirtualDisplay:
    """buf: what the firmware draws (framebuf MONO_VLSB); shown: what the
    glass shows, updated one 128-byte page per show_step() like the I2C
    transfer of the real display."""
    width = 128
    height = 64

    def __init__(self):
        self.buf = bytearray(_PAGES * _PAGE)
        self.fb = framebuf.FrameBuffer(self.buf, 128, 64, framebuf.MONO_VLSB)
        self.shown = bytearray(_PAGES * _PAGE)
        self._page = _PAGES         # next page to send; _PAGES = idle
        self.frames = 0             # complete transfers (tests, diagnostics)

    def begin_show(self):
        self._page = 0

    def show_step(self):
        p = self._page
        if p >= _PAGES:
            return True
        a = p * _PAGE
        self.shown[a:a + _PAGE] = self.buf[a:a + _PAGE]
        p += 1
        self._page = p
        if p == _PAGES:
            self.frames += 1
            return True
        return False


class VirtualButtons:
    """Presses queued by the link: each (mask, ms) is held for ms of virtual
    time, then all buttons are up for _GAP_MS before the next one."""
    _GAP_MS = 200
    MAX = 16

    def __init__(self):
        self.queue = []
        self._t = None              # virtual ms the present press started

    def press(self, mask, ms):
        if len(self.queue) >= self.MAX:
            return False
        self.queue.append((mask, ms))
        return True

    def read(self, now_ms):
        q = self.queue
        if not q:
            return 0
        if self._t is None:
            self._t = now_ms
        mask, ms = q[0]
        t = now_ms - self._t
        if t < ms:
            return mask
        if t < ms + self._GAP_MS:
            return 0
        q.pop(0)
        self._t = None
        return 0
