# The reference board's drivers on the MicroPython unix port (128 KiW heap):
# rtd_celsius in 32-bit float arithmetic against the IEC 60751 table points,
# SSD1306 frames drawn with the real framebuf arriving in a fake GDDRAM,
# reads that allocate nothing (heap locked) and how long a read plus
# conversion takes against the register-level fakes (median of many calls).
import sys

if sys.implementation.name != "micropython":
    import pytest
    pytest.skip("runs on the MicroPython unix port (tests/mpy/runner.py, make test-mpy)",
                allow_module_level=True)

import time

import micropython

from crf.drivers import max31856, max31865, pt100
from crf.drivers.ssd1306 import SSD1306
from f32 import cvd as _cvd, worst_f32

# IEC 60751:2008 Table 1 temperatures, every 10 C (tests/test_rtd_iec60751.py)
_T = list(range(-200, 101, 10))


def test_rtd_celsius_iec_table_float32_max_0_01():
    worst = worst_f32(max31865.rtd_celsius, _T)
    print("rtd_celsius float32 worst error at IEC table points: %.5f C" % worst)
    assert worst <= 0.01, worst
    worst = max(abs(max31865.rtd_celsius(_cvd(t)) - t) for t in _T)
    assert worst <= 0.01, worst


# -- allocation-free fakes (the fake itself must not allocate either) -----------

class Pin:
    OUT = 1

    def __init__(self):
        self.v = 1

    def init(self, mode=None, value=None):
        if value is not None:
            self.v = value

    def __call__(self, v=None):
        if v is None:
            return self.v
        self.v = v


class RegSPI:
    """A chip's register file behind SPI: address byte, auto-increment."""

    def __init__(self, regs):
        self.regs = regs
        self.addr = 0
        self.first = True
        self.cs = None

    def write(self, buf):
        for i in range(len(buf)):
            b = buf[i]
            if self.cs.v == 0 and self.first:
                self.addr = b
                self.first = False
            elif self.addr & 0x80:
                r = self.addr & 0x7F
                if r == 0:
                    b &= 0x9D  # one-shot and fault-clear bits self-clear
                self.regs[r] = b
                self.addr = 0x80 | ((r + 1) & 0x7F)

    def readinto(self, buf):
        a = self.addr & 0x7F
        for i in range(len(buf)):
            buf[i] = self.regs[(a + i) & 0x0F]


class CSPin(Pin):
    def __init__(self, spi):
        super().__init__()
        self.spi = spi

    def __call__(self, v=None):
        if v is None:
            return self.v
        if v == 0:
            self.spi.first = True
        self.v = v


def _max31865():
    regs = bytearray(16)
    spi = RegSPI(regs)
    cs = CSPin(spi)
    spi.cs = cs
    drv = max31865.MAX31865(spi, cs)
    drv.bias_on()
    code = drv.code_for(pt100.resistance(-196.0))
    regs[1] = (code << 1) >> 8
    regs[2] = (code << 1) & 0xFF
    return drv


def _max31856():
    regs = bytearray(16)
    spi = RegSPI(regs)
    cs = CSPin(spi)
    spi.cs = cs
    drv = max31856.MAX31856(spi, cs)
    v = (int(-180.5 * 128) & 0x7FFFF) << 5
    regs[12], regs[13], regs[14] = v >> 16, (v >> 8) & 0xFF, v & 0xFF
    regs[10], regs[11] = 23, 0
    return drv


def _median_us(fn, n=301):
    ts = []
    for _ in range(n):
        t0 = time.ticks_us()
        fn()
        ts.append(time.ticks_diff(time.ticks_us(), t0))
    ts.sort()
    return ts[n // 2]


def test_max31865_read_and_conversion():
    drv = _max31865()
    t = drv.read()
    assert drv.fault == 0 and abs(t + 196.0) < 0.03, (t, drv.fault)
    us = _median_us(drv.read)
    print("MAX31865 read()+rtd conversion: median %d us (datasheet conversion 52-62.5 ms, "
          "21 ms max per sensors.md; driver allows %d ms)" % (us, drv.conversion_ms))
    assert us < 21000


def test_max31856_read_and_conversion():
    drv = _max31856()
    t = drv.read()
    assert drv.fault == 0 and t == -180.5, (t, drv.fault)
    assert drv.cj_c == 23.0
    us = _median_us(drv.read)
    print("MAX31856 read(): median %d us (datasheet one-shot 169/185 ms at 50 Hz)" % us)
    assert us < 169000


def test_converter_reads_do_not_allocate_the_register_path():
    # The 8/16-byte block reads and the checks allocate nothing; only the
    # float result (boxed on this port) may.  MAX31856 returns an int * float.
    drv = _max31865()
    drv.read()
    micropython.heap_lock()
    try:
        drv.read_raw()
        drv.read_fault()
        r = drv._read(0, drv._r8)
    finally:
        micropython.heap_unlock()
    assert r[0] & 0x80


class OledI2C:
    """Decodes the driver's traffic: 7-byte window commands, then one data
    transfer per page (control byte 0x40 + 128 bytes) into gddram."""

    def __init__(self):
        self.ram = bytearray(1024)
        self.page = 0
        self.col = 0
        self.cmds = 0

    def writeto(self, addr, buf):
        if buf[0] == 0x00 and len(buf) == 7 and buf[1] == 0x21:
            self.col = buf[2]
            self.page = buf[5]
        self.cmds += 1

    def writevto(self, addr, vec):
        ctrl = vec[0]
        data = vec[1]
        assert ctrl[0] == 0x40
        base = self.page * 128 + self.col
        for i in range(len(data)):
            self.ram[base + i] = data[i]


def test_ssd1306_framebuf_drawing_arrives_and_steps_do_not_allocate():
    bus = OledI2C()
    d = SSD1306(bus)
    d.init()
    assert d.fb is not None
    d.fb.fill(0)
    d.fb.text("-196.0C", 0, 0, 1)
    d.fb.rect(10, 20, 50, 30, 1)
    d.fb.pixel(127, 63, 1)
    d.begin_show()
    steps = 0
    micropython.heap_lock()
    try:
        while True:
            steps += 1
            if d.show_step():
                break
    finally:
        micropython.heap_unlock()
    assert steps == 8
    assert bus.ram == d.buf
    assert bus.ram[7 * 128 + 127] & 0x80  # pixel (127, 63)
    assert sum(1 for b in bus.ram if b) > 20
    us = _median_us(lambda: (d.begin_show(), d.show_step()), 101)
    print("SSD1306 show_step(): median %d us per page on the fake bus" % us)
