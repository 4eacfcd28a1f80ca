"""Register-level fakes of the I2C and SPI chips on the reference board,
written from their datasheets: an I2C bus (machine.I2C surface), SSD1306,
DS3231, MAX31856.  Each fake can be made absent (the bus raises OSError as
rp2's machine.I2C does on a NACK) and models its chip's fault behaviour."""

import datetime
import errno


# -- I2C -----------------------------------------------------------------

class FakeI2C:
    """machine.I2C stand-in: routes transfers to the device at the address."""

    def __init__(self, *args, **kw):
        self.args = args
        self.kw = kw
        self.devices = {}
        self.transfers = 0

    def _dev(self, addr):
        d = self.devices.get(addr)
        if d is None or not d.present:
            raise OSError(errno.ENODEV, "no ACK at 0x%02x" % addr)
        self.transfers += 1
        return d

    def scan(self):
        return sorted(a for a, d in self.devices.items() if d.present)

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).i2c_write(bytes(buf))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(v) for v in vector)
        self._dev(addr).i2c_write(data)
        return len(data)

    def readfrom_into(self, addr, buf, stop=True):
        d = self._dev(addr)
        for i in range(len(buf)):
            buf[i] = d.i2c_read_byte()

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        self._dev(addr).i2c_write(bytes((reg,)))
        self.readfrom_into(addr, buf)

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self._dev(addr).i2c_write(bytes((reg,)) + bytes(buf))


# -- SSD1306 ---------------------------------------------------------------

# command -> number of parameter bytes (datasheet, command table)
_SSD_PARAMS = {0x81: 1, 0x20: 1, 0x21: 2, 0x22: 2, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1,
               0xDA: 1, 0xDB: 1, 0x8D: 1, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0xA3: 2}


class FakeSSD1306:
    """Decodes the control byte / command stream and writes GDDRAM
    (8 pages x 128 columns) at the address pointer, in page, horizontal or
    vertical addressing mode."""

    def __init__(self, present=True):
        self.present = present
        self.ram = [bytearray(128) for _ in range(8)]
        self.on = False
        self.contrast = 0x7F
        self.charge_pump = False
        self.mode = 2  # page addressing after reset
        self.col_lo, self.col_hi = 0, 127
        self.page_lo, self.page_hi = 0, 7
        self.col = 0
        self.page = 0
        self.mux = 63
        self.commands = []  # (cmd, params) decoded, in order
        self.data_bytes = 0
        self.largest_transfer = 0
        self._pending = None  # (cmd, params so far, needed)

    def i2c_write(self, data):
        self.largest_transfer = max(self.largest_transfer, len(data))
        i = 0
        while i < len(data):
            ctrl = data[i]
            i += 1
            co = ctrl & 0x80
            is_data = ctrl & 0x40
            assert ctrl & 0x3F == 0, "control byte 0x%02x: low bits must be 0" % ctrl
            chunk = data[i:i + 1] if co else data[i:]
            i += len(chunk)
            for b in chunk:
                if is_data:
                    self._data(b)
                else:
                    self._cmd_byte(b)

    def i2c_read_byte(self):
        return 0x43 if self.on else 0x03  # status byte: D6 = display off

    def _cmd_byte(self, b):
        if self._pending is not None:
            cmd, params, need = self._pending
            params.append(b)
            if len(params) == need:
                self._pending = None
                self._exec(cmd, params)
            return
        need = _SSD_PARAMS.get(b, 0)
        if need:
            self._pending = (b, [], need)
        else:
            self._exec(b, [])

    def _exec(self, c, p):
        self.commands.append((c, tuple(p)))
        if c == 0xAE:
            self.on = False
        elif c == 0xAF:
            self.on = True
        elif c == 0x81:
            self.contrast = p[0]
        elif c == 0x8D:
            self.charge_pump = bool(p[0] & 0x04)
        elif c == 0x20:
            self.mode = p[0] & 3
        elif c == 0x21:
            self.col_lo, self.col_hi = p[0] & 127, p[1] & 127
            self.col = self.col_lo
        elif c == 0x22:
            self.page_lo, self.page_hi = p[0] & 7, p[1] & 7
            self.page = self.page_lo
        elif c == 0xA8:
            self.mux = p[0]
        elif 0xB0 <= c <= 0xB7:
            self.page = c & 7
        elif c <= 0x0F:
            self.col = (self.col & 0xF0) | c
        elif 0x10 <= c <= 0x1F:
            self.col = (self.col & 0x0F) | ((c & 0x0F) << 4)

    def _data(self, b):
        self.data_bytes += 1
        self.ram[self.page][self.col] = b
        if self.mode == 2:  # page mode: column wraps within the page
            self.col = 0 if self.col == 127 else self.col + 1
        elif self.mode == 0:  # horizontal
            if self.col == self.col_hi:
                self.col = self.col_lo
                self.page = self.page_lo if self.page == self.page_hi else self.page + 1
            else:
                self.col += 1
        else:  # vertical
            if self.page == self.page_hi:
                self.page = self.page_lo
                self.col = self.col_lo if self.col == self.col_hi else self.col + 1
            else:
                self.page += 1

    def pixel(self, x, y):
        return (self.ram[y >> 3][x] >> (y & 7)) & 1

    def ram_bytes(self):
        return b"".join(bytes(p) for p in self.ram)


# -- DS3231 ----------------------------------------------------------------

def _bcd(v):
    return ((v // 10) << 4) | (v % 10)


def _unbcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


class FakeDS3231:
    """19 registers (00h-12h), register pointer auto-increments and wraps
    after 12h; OSF (0Fh bit 7) set at power-up, cleared only by writing 0;
    time registers BCD; 12/24-hour bit; century bit in the month register."""

    def __init__(self, present=True, when=None, osf=True):
        self.present = present
        self.regs = bytearray(0x13)
        self.ptr = 0
        self.regs[0x0E] = 0x1C  # control register after power-up
        self.regs[0x0F] = 0x80 if osf else 0x00
        self.regs[0x11] = 25  # 25.25 C
        self.regs[0x12] = 0x40
        self.set_datetime(when or datetime.datetime(2000, 1, 1))
        self.writes = []

    def set_datetime(self, dt):
        r = self.regs
        r[0] = _bcd(dt.second)
        r[1] = _bcd(dt.minute)
        r[2] = _bcd(dt.hour)
        r[3] = dt.isoweekday()
        r[4] = _bcd(dt.day)
        r[5] = _bcd(dt.month) | (0x80 if dt.year >= 2100 else 0)
        r[6] = _bcd(dt.year % 100)

    def get_datetime(self):
        r = self.regs
        h = r[2]
        if h & 0x40:
            hour = _unbcd(h & 0x1F) % 12 + (12 if h & 0x20 else 0)
        else:
            hour = _unbcd(h & 0x3F)
        year = 2000 + _unbcd(r[6]) + (100 if r[5] & 0x80 else 0)
        return datetime.datetime(year, _unbcd(r[5] & 0x1F), _unbcd(r[4]), hour,
                                 _unbcd(r[1]), _unbcd(r[0]))

    def tick(self, seconds):
        self.set_datetime(self.get_datetime() + datetime.timedelta(seconds=seconds))

    def oscillator_stopped(self):
        self.regs[0x0F] |= 0x80

    def i2c_write(self, data):
        self.ptr = data[0] % 0x13
        for b in data[1:]:
            self.writes.append((self.ptr, b))
            if self.ptr == 0x0F:
                # OSF can only be cleared (written 0), not set, by the bus
                self.regs[0x0F] = (self.regs[0x0F] & (b | 0x7F) & 0x80) | (b & 0x7F)
            elif self.ptr not in (0x11, 0x12):  # temperature is read-only
                self.regs[self.ptr] = b
            self.ptr = (self.ptr + 1) % 0x13

    def i2c_read_byte(self):
        v = self.regs[self.ptr]
        self.ptr = (self.ptr + 1) % 0x13
        return v


# -- MAX31856 ----------------------------------------------------------------

_MAX31856_POR = bytes((0x00, 0x03, 0xFF, 0x7F, 0xC0, 0x7F, 0xFF, 0x80, 0x00, 0x00,
                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00))


def _s(v, bits):
    return v - (1 << bits) if v & (1 << (bits - 1)) else v


class FakeMAX31856:
    """Register map 00h-0Fh (write at 80h-8Bh), auto-increment; one-shot
    started on CS rising with CMODE = 0, 1SHOT clears itself when the
    conversion is done (CONV_MS later with a clock, at once without);
    linearised type T result in LTCB (19 bits, 2^-7 C), cold junction in
    CJTH/CJTL (14 bits, 2^-6 C) plus the CJTO offset; status register with
    open circuit, over/under voltage, range and threshold faults, latched in
    interrupt mode until FAULTCLR, live in comparator mode."""

    CONV_MS = 185  # one-shot, 50 Hz filter, max (datasheet)
    TC_RANGE_T = (-270.0, 400.0)  # type T
    CJ_RANGE = (-55.0, 125.0)

    def __init__(self, cs, clock=None):
        self.cs = cs
        cs.listeners.append(self._cs_edge)
        self.clock = clock
        self.regs = bytearray(_MAX31856_POR)
        self.tc_c = 20.0  # hot junction; None = open thermocouple
        self.cj_c = 25.0  # die temperature
        self.ovuv = False
        self.conversions = 0
        self.violations = []
        self._addr = None
        self._oneshot = False
        self._done_at = None
        self._pending = None

    def set_temperature(self, t):
        self.tc_c = t

    def _now(self):
        return self.clock.ticks_ms() if self.clock else 0

    def _cs_edge(self, old, new):
        if old and not new:
            self._addr = None
            self._finish_if_due()
        elif new and not old and self._oneshot:
            self._oneshot = False
            if self.regs[0] & 0x80:
                self.violations.append("one-shot in automatic mode")
            self._pending = self._measure()
            self._done_at = self._now() + self.CONV_MS if self.clock else None
            if self._done_at is None:
                self._finish()

    def _finish_if_due(self):
        if self._pending is not None and self._done_at is not None \
                and self.clock.ticks_diff(self.clock.ticks_ms(), self._done_at) >= 0:
            self._finish()

    def xfer(self, byte):
        if self._addr is None:
            self._addr = byte
            return 0xFF
        reg = self._addr & 0x7F
        write = self._addr & 0x80
        self._addr = write | ((reg + 1) & 0x7F)
        if write:
            self._write(reg, byte)
            return 0xFF
        return self.regs[reg] if reg < 16 else 0xFF

    def _write(self, reg, b):
        if reg > 0x0B:
            return  # read-only
        if reg == 0:
            if b & 0x02:  # FAULTCLR
                self.regs[0x0F] = 0
            if b & 0x40:
                self._oneshot = True
            busy = self._oneshot or self._pending is not None
            self.regs[0] = (b & ~0x42) | (0x40 if busy else 0)
            return
        self.regs[reg] = b

    def _measure(self):
        r = self.regs
        self.conversions += 1
        if r[1] & 0x0F != 0x07:
            self.violations.append("converted with thermocouple type %d, not T" % (r[1] & 0x0F))
        cj = self.cj_c + _s(r[9], 8) / 16.0
        if r[0] & 0x08:  # CJ sensor off: use the CJTH/CJTL the host wrote
            cj = _s((r[10] << 8) | r[11], 16) / 256.0
        sr = 0
        if self.tc_c is None:
            if r[0] & 0x30:
                sr |= 0x01
            tc = 2000.0  # floating input: the reading is meaningless
        else:
            tc = self.tc_c + (cj - self.cj_c)  # CJ error goes into the result
        if self.ovuv:
            sr |= 0x02
        if not self.TC_RANGE_T[0] <= tc <= self.TC_RANGE_T[1]:
            sr |= 0x40
        if not self.CJ_RANGE[0] <= cj <= self.CJ_RANGE[1]:
            sr |= 0x80
        hi = _s((r[5] << 8) | r[6], 16) / 16.0
        lo = _s((r[7] << 8) | r[8], 16) / 16.0
        if tc > hi:
            sr |= 0x08
        if tc < lo:
            sr |= 0x04
        if cj > _s(r[3], 8):
            sr |= 0x20
        if cj < _s(r[4], 8):
            sr |= 0x10
        return tc, cj, sr

    def _finish(self):
        tc, cj, sr = self._pending
        self._pending = None
        r = self.regs
        code = max(-(1 << 18), min((1 << 18) - 1, int(round(tc * 128)))) & 0x7FFFF
        word = code << 5
        r[12], r[13], r[14] = word >> 16, (word >> 8) & 0xFF, word & 0xFF
        if not r[0] & 0x08:
            cjw = (int(round(cj * 64)) & 0x3FFF) << 2
            r[10], r[11] = cjw >> 8, cjw & 0xFF
        if r[0] & 0x04:
            r[15] |= sr  # interrupt mode: latched
        else:
            r[15] = sr
        r[0] &= ~0x40

    def power_cycle(self):
        self.regs[:] = _MAX31856_POR
        self._pending = None

    def check_read_time(self):
        self._finish_if_due()
