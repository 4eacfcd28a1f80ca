"""SSD1306 128x64 OLED over I2C (address 0x3C, or 0x3D with SA0 high).

Takes an I2C bus object (machine.I2C or anything with writeto/writevto);
never creates pins.  The frame buffer `buf` (1024 bytes) is in the
controller's own layout, MONO_VLSB: byte = page * 128 + column, bit n =
row page * 8 + n; `fb` is a framebuf.FrameBuffer over it (None where the
framebuf module is missing, e.g. CPython).

Sending the frame never blocks the loop for long: begin_show() schedules it
(the whole frame, or only the pages a partial redraw touched) and each
show_step() sends at most one 128-byte page (set the column and
page address window, then one data transfer of 0x40 + 128 bytes, ~3 ms at
400 kHz), from preallocated buffers, without allocating.  show_step()
returns True once the scheduled pages are sent (or the transfer was abandoned
after a bus error, counted in `errors`; the next begin_show() tries again).

I2C framing (datasheet 8.1.5): after the address, a control byte 0x00
introduces command bytes, 0x40 introduces GDDRAM data.
"""

try:
    from micropython import const
except ImportError:  # CPython tests

    def const(x):
        return x


try:
    from framebuf import MONO_VLSB, FrameBuffer
except ImportError:  # CPython: drawing through buf only
    FrameBuffer = None  # type: ignore[assignment,misc]
    MONO_VLSB = 0

WIDTH = const(128)
HEIGHT = const(64)
_PAGES = const(8)

_CTRL_CMD = const(0x00)
_CTRL_DATA = const(0x40)
_SET_CONTRAST = const(0x81)
_DISPLAY_RAM = const(0xA4)
_NORMAL = const(0xA6)
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)
_ADDR_MODE = const(0x20)
_COL_ADDR = const(0x21)
_PAGE_ADDR = const(0x22)
_START_LINE = const(0x40)
_SEG_REMAP = const(0xA1)  # column 127 on SEG0: the usual module orientation
_MUX_RATIO = const(0xA8)
_COM_SCAN_DEC = const(0xC8)
_DISPLAY_OFFSET = const(0xD3)
_COM_PINS = const(0xDA)
_CLOCK_DIV = const(0xD5)
_PRECHARGE = const(0xD9)
_VCOMH = const(0xDB)
_CHARGE_PUMP = const(0x8D)

# Datasheet application note sequence for a 128x64 module with the
# internal charge pump (display off while configuring).
_INIT = bytes((
    _CTRL_CMD,
    _DISPLAY_OFF,
    _CLOCK_DIV, 0x80,
    _MUX_RATIO, HEIGHT - 1,
    _DISPLAY_OFFSET, 0x00,
    _START_LINE | 0,
    _CHARGE_PUMP, 0x14,
    _ADDR_MODE, 0x00,  # horizontal addressing
    _SEG_REMAP,
    _COM_SCAN_DEC,
    _COM_PINS, 0x12,
    _SET_CONTRAST, 0xCF,
    _PRECHARGE, 0xF1,
    _VCOMH, 0x40,
    _DISPLAY_RAM,
    _NORMAL,
    _DISPLAY_ON,
))


class SSD1306:
    def __init__(self, i2c, addr=0x3C):
        self.i2c = i2c
        self.addr = addr
        self.width = WIDTH
        self.height = HEIGHT
        self.buf = bytearray(WIDTH * HEIGHT // 8)
        self.fb = FrameBuffer(self.buf, WIDTH, HEIGHT, MONO_VLSB) if FrameBuffer is not None else None
        self.errors = 0
        self._page = _PAGES  # next page to send; idle at _end
        self._end = _PAGES   # one past the last page of this transfer
        self._cmd2 = bytearray(2)  # control byte + one command
        self._cmd3 = bytearray(3)  # control byte + command + parameter
        self._win = bytearray((_CTRL_CMD, _COL_ADDR, 0, WIDTH - 1, _PAGE_ADDR, 0, 0))
        mv = memoryview(self.buf)
        data = b"\x40"
        # one (control byte, page slice) pair per page, made once: writevto
        # sends them as one transfer without copying or allocating
        self._vec = tuple((data, mv[p * WIDTH:(p + 1) * WIDTH]) for p in range(_PAGES))

    def _cmd(self, c):
        b = self._cmd2
        b[1] = c
        self.i2c.writeto(self.addr, b)

    def init(self):
        """Send the initialisation sequence (raises OSError if nothing answers)."""
        self.i2c.writeto(self.addr, _INIT)
        self._page = _PAGES

    def contrast(self, v):
        b = self._cmd3
        b[1] = _SET_CONTRAST
        b[2] = 0 if v < 0 else (255 if v > 255 else int(v))
        self.i2c.writeto(self.addr, b)

    def power(self, on):
        self._cmd(_DISPLAY_ON if on else _DISPLAY_OFF)

    def begin_show(self, first=0, last=_PAGES - 1):
        """Schedule sending pages first..last of the buffer, all by default
        (restarts a transfer in progress)."""
        self._page = first
        self._end = last + 1

    def show_step(self):
        """Send at most one page; True when the frame transfer is over."""
        p = self._page
        if p >= self._end:
            return True
        w = self._win
        w[5] = p
        w[6] = p
        try:
            self.i2c.writeto(self.addr, w)
            self.i2c.writevto(self.addr, self._vec[p])
        except OSError:
            self.errors += 1
            self._page = _PAGES
            return True
        p += 1
        self._page = p
        return p >= self._end

    def show(self):
        """Whole frame at once (~25 ms at 400 kHz): for use outside the loop."""
        self.begin_show()
        while not self.show_step():
            pass
