"""MAX31865 driver against a fake chip that implements the register map.

The fakes here (FakePin, FakeSPI, FakeMAX31865) are also used by
test_pico_board.py.
"""

import pytest

from crf.drivers import max31865 as m
from crf.drivers import pt100

RREF = 400.0


class FakePin:
    OUT = 1
    IN = 0
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id=None, mode=None, pull=None, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self.v = value if value is not None else (1 if pull == self.PULL_UP else 0)
        self.init_value = value
        self.history = [self.v]
        self.listeners = []

    def init(self, mode=None, pull=None, value=None):
        self.mode = mode
        if value is not None:
            self._set(value)

    def _set(self, v):
        v = 1 if v else 0
        old = self.v
        self.v = v
        self.history.append(v)
        for f in self.listeners:
            f(old, v)

    def value(self, v=None):
        if v is None:
            return self.v
        self._set(v)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING):
        def edge(old, v):
            if (trigger & self.IRQ_FALLING and old and not v) or (trigger & self.IRQ_RISING and v and not old):
                handler(self)
        self.listeners.append(edge)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._set(1)

    def off(self):
        self._set(0)


class FakeMAX31865:
    """Register-level model: address byte first (A7 = write), auto-increment,
    one-shot triggered on CS rising, D5/D1 self-clearing, latched faults.

    With a clock it also checks the timing the datasheet asks for: bias on
    for >= 10 ms before a one-shot, result read >= 62.5 ms after it."""

    SETTLE_MS = 10
    CONV_MS = 63

    def __init__(self, cs, rref=RREF, clock=None):
        self.cs = cs
        cs.listeners.append(self._cs_edge)
        self.rref = rref
        self.clock = clock
        self.regs = bytearray(8)
        self.regs[3] = self.regs[4] = 0xFF  # power-on high threshold FFFFh
        self.ohms = 100.0  # None = open RTD
        self.config_writes = []
        self.conversions = 0
        self.violations = []
        self.bias_since = None
        self.conv_at = None
        self._addr = None
        self._oneshot = False

    # bus side
    def _cs_edge(self, old, new):
        if old and not new:
            self._addr = None
        elif new and not old:
            if self._oneshot:
                self._oneshot = False
                self._convert()

    def xfer(self, byte):
        if self._addr is None:
            self._addr = byte
            return 0xFF
        reg = self._addr & 0x7F
        self._addr = (self._addr & 0x80) | ((reg + 1) & 0x7F)
        if self._addr & 0x80:
            self._write(reg, byte)
            return 0xFF
        return self.regs[reg] if reg < 8 else 0xFF

    def _now(self):
        return self.clock.ticks_ms() if self.clock else 0

    def _write(self, reg, b):
        if reg == 0:
            self.config_writes.append(b)
            if b & 0x80 and not self.regs[0] & 0x80:
                self.bias_since = self._now()
            elif not b & 0x80:
                self.bias_since = None
            if b & 0x02 and not b & 0x2C:
                self.regs[7] = 0
                self.regs[2] &= 0xFE
            if b & 0x20:
                self._oneshot = True
            if b & 0x8C == 0x88 and self.ohms is None:
                # automatic fault-detection cycle with the probe open:
                # FORCE- open reads REFIN- and RTDIN- below 0.85 VBIAS
                self.regs[7] |= 0x10 | 0x08
            self.regs[0] = b & ~0x22 & ~0x0C  # D5, D1 self-clear; fault cycle done at once
        elif 3 <= reg <= 6:
            self.regs[reg] = b

    def _convert(self):
        self.conversions += 1
        now = self._now()
        if self.bias_since is None:
            self.violations.append("one-shot with bias off")
        elif self.clock and self.clock.ticks_diff(now, self.bias_since) < self.SETTLE_MS:
            self.violations.append("one-shot before bias settled")
        self.conv_at = now
        if self.ohms is None:
            code = 0x7FFF
        else:
            code = min(0x7FFF, max(0, int(self.ohms / self.rref * 32768 + 0.5)))
        high = ((self.regs[3] << 8) | self.regs[4]) >> 1
        low = ((self.regs[5] << 8) | self.regs[6]) >> 1
        if code >= high:
            self.regs[7] |= 0x80
        if code <= low:
            self.regs[7] |= 0x40
        if self.ohms is None:
            self.regs[7] |= 0x04 | 0x10
        word = (code << 1) | (1 if self.regs[7] else 0)
        self.regs[1] = word >> 8
        self.regs[2] = word & 0xFF

    def check_read_time(self):
        if self.clock and self.conv_at is not None:
            if self.clock.ticks_diff(self.clock.ticks_ms(), self.conv_at) < self.CONV_MS:
                self.violations.append("result read before conversion finished")

    # helpers for tests
    @property
    def config(self):
        return self.regs[0]

    @property
    def fault(self):
        return self.regs[7]

    def threshold_codes(self):
        return (((self.regs[5] << 8) | self.regs[6]) >> 1,
                ((self.regs[3] << 8) | self.regs[4]) >> 1)

    def set_temperature(self, t):
        self.ohms = pt100.resistance(t)


class FakeSPI:
    """machine.SPI stand-in: routes bytes to the chip whose CS is low."""

    def __init__(self, *args, **kw):
        self.args = args
        self.kw = kw
        self.chips = []
        self.stuck = None  # 0x00 / 0xFF: MISO stuck (chip missing, unpowered)
        self.error = False  # raise OSError on every transfer

    def _chip(self):
        sel = [c for c in self.chips if c.cs.v == 0]
        assert len(sel) <= 1, "two chips selected at once"
        return sel[0] if sel else None

    def _x(self, b):
        if self.error:
            raise OSError(5, "EIO")
        c = self._chip()
        if self.stuck is not None and c is not None:
            c.xfer(b)
            return self.stuck
        if c is None:
            return 0xFF
        if c._addr is not None and not c._addr & 0x80 and (c._addr & 0x7F) in (1, 2):
            c.check_read_time()
        return c.xfer(b)

    def write(self, buf):
        for b in bytes(buf):
            self._x(b)

    def readinto(self, buf, write=0x00):
        for i in range(len(buf)):
            buf[i] = self._x(write)

    def write_readinto(self, wbuf, rbuf):
        for i, b in enumerate(bytes(wbuf)):
            rbuf[i] = self._x(b)

    def read(self, n, write=0x00):
        b = bytearray(n)
        self.readinto(b, write)
        return bytes(b)


def make(wires=3, filter_hz=50, clock=None, **kw):
    cs = FakePin("cs", FakePin.OUT, value=1)
    spi = FakeSPI()
    chip = FakeMAX31865(cs, clock=clock)
    spi.chips.append(chip)
    drv = m.MAX31865(spi, cs, rref=RREF, wires=wires, filter_hz=filter_hz, **kw)
    return drv, chip


def convert(drv, chip, t=None, ohms=None):
    if t is not None:
        chip.set_temperature(t)
    if ohms is not None:
        chip.ohms = ohms
    drv.bias_on()
    drv.start_one_shot()
    return drv.read_raw()


def test_init_config_bias_off_wires_and_filter():
    drv, chip = make(wires=3, filter_hz=50)
    assert chip.config == 0x11  # 3-wire, 50 Hz, bias off, normally-off mode
    assert drv.verify()
    drv, chip = make(wires=4, filter_hz=60)
    assert chip.config == 0x00
    drv, chip = make(wires=2, filter_hz=60)
    assert chip.config == 0x00
    assert drv.conversion_ms == 60
    assert make(filter_hz=50)[0].conversion_ms >= 66  # >= one-shot max at 50 Hz


def test_cs_idles_high_and_every_transfer_is_framed():
    drv, chip = make()
    convert(drv, chip, 0.0)
    drv.read_fault()
    assert chip.cs.v == 1
    h = chip.cs.history
    # every low is followed by a high (no transfer left open)
    assert all(h[i + 1] == 1 for i in range(len(h) - 1) if h[i] == 0)


def test_threshold_registers():
    drv, chip = make()
    low, high = chip.threshold_codes()
    assert low == m.LOW_CODE == 1400
    assert chip.regs[5] == (1400 << 1) >> 8 and chip.regs[6] == (1400 << 1) & 0xFF
    # high threshold near +60 C
    assert pt100.temperature(high * RREF / 32768) == pytest.approx(60.0, abs=0.05)
    assert drv.read_thresholds() == (low, high)
    drv.set_thresholds(1000, 12000)
    assert chip.threshold_codes() == (1000, 12000)
    assert drv.read_thresholds() == (1000, 12000)


def test_low_threshold_allows_ln2_and_minus_200():
    drv, _ = make()
    low, _high = drv.read_thresholds()
    assert low < drv.code_for(pt100.resistance(-200.0)) < drv.code_for(pt100.resistance(-196.0))


def test_one_shot_sets_bias_then_converts():
    drv, chip = make()
    drv.bias_on()
    assert chip.config & 0x80 and chip.conversions == 0
    drv.start_one_shot()
    assert chip.conversions == 1 and not chip.violations
    assert chip.config_writes[-1] == 0x80 | 0x20 | 0x11
    assert chip.config & 0x20 == 0  # self-clearing
    drv.bias_off()
    assert chip.config == 0x11


def test_ln2_temperature_reads_and_does_not_trip_low_threshold():
    drv, chip = make()
    code = convert(drv, chip, -196.0)
    assert abs(code - 1659) <= 1
    assert not drv.fault_flag and drv.read_fault() == 0
    assert drv.temperature(code) == pytest.approx(-196.0, abs=0.02)


def test_decode_every_code_minus_200_to_plus_50_matches_cvd():
    drv, _ = make()
    lo = drv.code_for(pt100.resistance(-200.0))
    hi = drv.code_for(pt100.resistance(50.0))
    worst = 0.0
    for code in range(lo, hi + 1):
        ohms = drv.ohms(code)
        assert ohms == code * RREF / 32768
        t = drv.temperature(code)
        slope = (pt100.resistance(t + 0.01) - pt100.resistance(t - 0.01)) / 0.02
        worst = max(worst, abs(pt100.resistance(t) - ohms) / slope)
    assert worst < 0.01


def test_converted_temperature_within_quantisation():
    drv, chip = make()
    for i in range(-400, 101):
        t = i * 0.5
        code = convert(drv, chip, t)
        assert not drv.fault_flag, t
        # half an LSB (400/32768 ohm) over the local slope, plus decode error
        slope = (pt100.resistance(t + 0.01) - pt100.resistance(t - 0.01)) / 0.02
        assert abs(drv.temperature(code) - t) <= 0.5 * RREF / 32768 / slope + 0.01, t


def test_short_trips_low_fault_and_clear_resets_it():
    drv, chip = make()
    code = convert(drv, chip, ohms=10.0)
    assert drv.fault_flag
    assert code <= 1400
    assert drv.read_fault() == m.FAULT_LOW
    drv.clear_fault()
    assert chip.fault == 0 and not drv.fault_flag
    w = chip.config_writes[-1]
    assert w & 0x02 and not w & 0x2C  # D1 with D5, D3, D2 = 0
    assert w & 0x91 == 0x91  # bias, 3-wire and 50 Hz kept
    convert(drv, chip, 20.0)
    assert not drv.fault_flag


def test_open_rtd_trips_high_fault():
    drv, chip = make()
    chip.ohms = None
    code = convert(drv, chip)
    assert drv.fault_flag and code == 0x7FFF
    f = drv.read_fault()
    assert f & m.FAULT_HIGH and f & m.FAULT_REFIN_LOW and f & m.FAULT_VOLTAGE
    drv.clear_fault()
    assert drv.read_fault() == 0


def test_overheat_trips_high_threshold():
    drv, chip = make()
    convert(drv, chip, 70.0)
    assert drv.fault_flag and drv.read_fault() == m.FAULT_HIGH
    drv.clear_fault()
    convert(drv, chip, 40.0)
    assert not drv.fault_flag


def test_fault_cycle():
    drv, chip = make()
    drv.start_fault_cycle()
    assert chip.config_writes[-1] & 0x8C == 0x88
    assert drv.fault_cycle_done()
    assert drv.read_fault() == 0


def test_verify_fails_without_chip():
    cs = FakePin("cs", FakePin.OUT, value=1)
    spi = FakeSPI()  # nothing on the bus: MISO reads 0xFF
    drv = m.MAX31865(spi, cs)
    assert not drv.verify()


def test_write_readinto_fake_semantics():
    # the fake bus also supports full-duplex transfers, as machine.SPI does
    drv, chip = make()
    rbuf = bytearray(3)
    chip.cs(0)
    drv.spi.write_readinto(b"\x03\x00\x00", rbuf)
    chip.cs(1)
    assert ((rbuf[1] << 8) | rbuf[2]) >> 1 == drv.read_thresholds()[1]


# -- read(): one transfer that also checks the chip's configuration ----------

def test_read_returns_temperature_and_checks_config():
    drv, chip = make()
    chip.set_temperature(-196.0)
    drv.bias_on()
    drv.start_one_shot()
    assert drv.read() == pytest.approx(-196.0, abs=0.02)
    assert drv.fault == 0


def test_pt1000_thresholds_and_reading():
    cs = FakePin("cs", FakePin.OUT, value=1)
    spi = FakeSPI()
    chip = FakeMAX31865(cs, rref=4300.0)
    spi.chips.append(chip)
    drv = m.MAX31865(spi, cs, rref=4300.0, r0=1000.0, wires=4, filter_hz=60)
    low, high = chip.threshold_codes()
    assert low < drv.code_for(pt100.resistance(-200.0, 1000.0))  # LN2 never trips it
    assert pt100.temperature(high * 4300.0 / 32768, 1000.0) == pytest.approx(60.0, abs=0.1)
    for t in (-196.0, -100.0, 0.0, 37.0):
        chip.ohms = pt100.resistance(t, 1000.0)
        drv.bias_on()
        drv.start_one_shot()
        assert drv.read() == pytest.approx(t, abs=0.05), t
    assert chip.config & 0x11 == 0  # 4-wire, 60 Hz


@pytest.mark.parametrize("ohms, bit", [(None, m.FAULT_HIGH), (2.0, m.FAULT_LOW)])
def test_read_fault_gives_none_and_clears(ohms, bit):
    drv, chip = make()
    chip.ohms = ohms
    drv.bias_on()
    drv.start_one_shot()
    assert drv.read() is None and drv.fault & bit
    assert chip.fault == 0


def test_read_detects_stuck_bus_and_reset_chip():
    drv, chip = make()
    drv.bias_on()
    drv.start_one_shot()
    drv.spi.stuck = 0xFF
    assert drv.read() is None and drv.fault == m.FAULT_BUS_ONES
    drv.spi.stuck = 0x00
    assert drv.read() is None and drv.fault == m.FAULT_BUS_ZEROS
    drv.spi.stuck = None
    chip.regs[5] = chip.regs[6] = 0  # low threshold lost (power-on 0000h)
    assert drv.read() is None and drv.fault == m.FAULT_CONFIG
    assert chip.threshold_codes()[0] == 1400  # written again


def test_filter_and_conversion_time_cover_the_datasheet():
    # sensors.md: 21 ms max conversion plus bias settling; one-shots commonly
    # allowed 65-70 ms with the 50 Hz filter
    d50, _ = make(filter_hz=50)
    d60, c60 = make(filter_hz=60)
    assert d50.conversion_ms >= 65 and d60.conversion_ms >= 52
    assert c60.config & 0x01 == 0
