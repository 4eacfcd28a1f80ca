# The virtual freezer's front panel hardware: a 128x64 monochrome display
# with the API of the SSD1306 driver (crf/drivers/ssd1306.py), and the four
# buttons, pressed by the link's simulation-only `button` command.
import framebuf


class VirtualDisplay:
    """buf: what the firmware draws (framebuf MONO_VLSB); shown: what the
    glass shows, copied one 128-byte page per show_step() like the I2C
    transfer of the real display."""
    width = 128
    height = 64

    def __init__(self):
        self.buf = bytearray(1024)
        self.fb = framebuf.FrameBuffer(self.buf, 128, 64, framebuf.MONO_VLSB)
        self.shown = bytearray(1024)
        self.page = 8               # next page to send; idle at end
        self.end = 8
        self._src = memoryview(self.buf)    # a page copy makes one small view

    def begin_show(self, first=0, last=7):
        self.page = first
        self.end = last + 1

    def show_step(self):
        p = self.page
        if p < self.end:
            a = p << 7
            self.shown[a:a + 128] = self._src[a:a + 128]
            self.page = p = p + 1
        return p >= self.end


class VirtualButtons:
    """Queued presses: each (mask, ms) is held for ms of virtual time, then
    all buttons are up for 200 ms before the next."""

    def __init__(self):
        self.queue = []
        self.t = None               # virtual ms the present press started

    def press(self, mask, ms):
        if len(self.queue) >= 16:
            return False
        self.queue.append((mask, ms))
        return True

    def read(self, now_ms):
        q = self.queue
        if not q:
            return 0
        if self.t is None:
            self.t = now_ms
        mask, ms = q[0]
        t = now_ms - self.t
        if t < ms:
            return mask
        if t >= ms + 200:
            q.pop(0)
            self.t = None
        return 0
