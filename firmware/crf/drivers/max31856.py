"""MAX31856 thermocouple-to-digital converter on SPI, set up for type T.

Takes an SPI bus (mode 1 or 3, <= 5 MHz) and a CS pin; never creates pins.
Registers are read at 0x0N and written at 0x8N, auto-incrementing.  Nothing
sleeps: the caller starts a one-shot conversion and reads it conversion_ms
later (datasheet: one-shot 169/185 ms typ/max with the 50 Hz filter,
143/155 ms at 60 Hz, one sample; open-circuit detection adds its test time,
so 200 / 170 ms are allowed).

Registers (datasheet, register map):
  00h CR0   CMODE | 1SHOT | OCFAULT1:0 | CJ (1 = cold junction off) |
            FAULT (1 = interrupt mode: status latched) | FAULTCLR | 50/60Hz
  01h CR1   AVGSEL2:0 | TC TYPE3:0 (0111 = type T)
  02h MASK  03h CJHF  04h CJLF  05h-06h LTHFT  07h-08h LTLFT
  09h CJTO  0Ah-0Bh CJTH/CJTL  0Ch-0Eh LTCB (19-bit, 2^-7 C)  0Fh SR

Cold junction: the chip measures its own die temperature and adds the
thermocouple voltage (internal linearisation, NIST type T).  The board
sits outside the chamber; its cold junction must be in range
(-20..+70 C thresholds here) or the status reports it.  An offset
(CJTO, 0.0625 C per LSB) can be written to correct the internal sensor.

read() is ONE 16-byte transfer of registers 00h-0Fh, so every reading also
proves that the chip still holds its configuration.  It returns degrees C
or None with `fault` set: the status byte (0x01 open circuit, 0x02 over/under
voltage, 0x04/0x08 TC low/high threshold, 0x10/0x20 CJ low/high threshold,
0x40 TC out of range, 0x80 CJ out of range) or a driver code above 0xFF.
"""

try:
    from micropython import const
except ImportError:  # CPython tests

    def const(x):
        return x


_REG_CR0 = const(0x00)
_REG_CR1 = const(0x01)
_REG_MASK = const(0x02)
_REG_CJHF = const(0x03)
_REG_CJTO = const(0x09)
_WRITE = const(0x80)
_NREGS = const(16)

_CR0_ONE_SHOT = const(0x40)
_CR0_OC_01 = const(0x10)  # open-circuit detection on, source resistance < 5 kohm
_CR0_INTERRUPT = const(0x04)  # status latched until FAULTCLR
_CR0_FAULTCLR = const(0x02)
_CR0_50HZ = const(0x01)
_CR1_TYPE_T = const(0x07)  # averaging 1 sample

FAULT_CJ_RANGE = const(0x80)
FAULT_TC_RANGE = const(0x40)
FAULT_CJ_HIGH = const(0x20)
FAULT_CJ_LOW = const(0x10)
FAULT_TC_HIGH = const(0x08)
FAULT_TC_LOW = const(0x04)
FAULT_OVUV = const(0x02)
FAULT_OPEN = const(0x01)
FAULT_BUS_ONES = const(0x100)
FAULT_BUS_ZEROS = const(0x200)
FAULT_CONFIG = const(0x400)

FAULT_NAMES = (
    (FAULT_BUS_ONES, "no answer (bus reads all ones)"),
    (FAULT_BUS_ZEROS, "no answer (bus reads all zeros)"),
    (FAULT_CONFIG, "converter lost its configuration (reset?)"),
    (FAULT_OPEN, "thermocouple open circuit"),
    (FAULT_OVUV, "thermocouple input over/under voltage"),
    (FAULT_TC_RANGE, "thermocouple out of range"),
    (FAULT_CJ_RANGE, "cold junction out of range"),
    (FAULT_TC_HIGH, "thermocouple above high threshold"),
    (FAULT_TC_LOW, "thermocouple below low threshold"),
    (FAULT_CJ_HIGH, "cold junction above high threshold"),
    (FAULT_CJ_LOW, "cold junction below low threshold"),
)


def fault_name(code):
    for bit, name in FAULT_NAMES:
        if code & bit:
            return name
    return "fault 0x%x" % code if code else ""


def _s16(v):
    return v - 0x10000 if v & 0x8000 else v


class MAX31856:
    settle_ms = 0  # no bias to settle

    def __init__(self, spi, cs, filter_hz=50, low_c=-210.0, high_c=60.0,
                 cj_low_c=-20, cj_high_c=70, cj_offset_c=0.0):
        self.spi = spi
        self.cs = cs
        self.fault = 0
        self.cj_c = None  # cold-junction temperature of the last reading
        self._buf = bytearray(12)  # address + up to 11 data bytes
        self._rd = bytearray(_NREGS)
        self._addr = memoryview(self._buf)[:1]
        self._w1 = memoryview(self._buf)[:2]
        self._cr0 = _CR0_OC_01 | _CR0_INTERRUPT | (_CR0_50HZ if filter_hz == 50 else 0)
        self.conversion_ms = 200 if filter_hz == 50 else 170
        hi = int(high_c * 16) & 0xFFFF
        lo = int(low_c * 16) & 0xFFFF
        # CR0, CR1, MASK (faults never drive the FAULT pin: it is not wired),
        # CJHF, CJLF, LTHFT(2), LTLFT(2), CJTO: registers 00h-09h in one write
        self._cfg = bytes((self._cr0, _CR1_TYPE_T, 0xFF, cj_high_c & 0xFF, cj_low_c & 0xFF,
                           hi >> 8, hi & 0xFF, lo >> 8, lo & 0xFF,
                           int(cj_offset_c * 16) & 0xFF))
        cs.init(cs.OUT, value=1)
        self.init()

    # -- register access ------------------------------------------------
    def _write(self, reg, data):
        b = self._buf
        n = len(data)
        b[0] = reg | _WRITE
        b[1:1 + n] = data
        self.cs(0)
        try:
            self.spi.write(memoryview(b)[:1 + n])
        finally:
            self.cs(1)

    def _write1(self, reg, v):
        b = self._buf
        b[0] = reg | _WRITE
        b[1] = v
        self.cs(0)
        try:
            self.spi.write(self._w1)
        finally:
            self.cs(1)

    def read_regs(self):
        """Registers 00h-0Fh into the preallocated buffer (one transfer)."""
        self._buf[0] = _REG_CR0
        self.cs(0)
        try:
            self.spi.write(self._addr)
            self.spi.readinto(self._rd)
        finally:
            self.cs(1)
        return self._rd

    def init(self):
        """(Re)write the whole configuration, clear latched faults."""
        self._write(_REG_CR0, self._cfg)
        self.clear_fault()

    def verify(self):
        r = self.read_regs()
        return bytes(r[1:10]) == self._cfg[1:] and (r[0] & ~(_CR0_ONE_SHOT | _CR0_FAULTCLR)) == self._cr0

    # -- conversion -----------------------------------------------------
    def prepare(self):
        """Nothing to bias (the board's probe interface)."""

    def idle(self):
        pass

    def start_one_shot(self):
        """Start one conversion; 1SHOT clears itself when it is done."""
        self._write1(_REG_CR0, self._cr0 | _CR0_ONE_SHOT)

    def clear_fault(self):
        self._write1(_REG_CR0, self._cr0 | _CR0_FAULTCLR)

    def set_cj_offset(self, c):
        """Cold-junction offset, 0.0625 C per LSB (-8..+7.9375 C)."""
        self._write1(_REG_CJTO, int(c * 16) & 0xFF)

    def read(self):
        """Finish a one-shot: degrees C or None with self.fault set."""
        r = self.read_regs()
        a = r[0]
        o = a
        for i in range(1, _NREGS):
            a &= r[i]
            o |= r[i]
        if a == 0xFF:
            self.fault = FAULT_BUS_ONES
            return None
        if o == 0:
            self.fault = FAULT_BUS_ZEROS
            return None
        cfg = self._cfg
        ok = (r[0] & ~(_CR0_ONE_SHOT | _CR0_FAULTCLR)) == self._cr0
        for i in range(1, 10):
            if r[i] != cfg[i]:
                ok = False
        if not ok:
            self.fault = FAULT_CONFIG
            self.init()
            return None
        if r[0] & _CR0_ONE_SHOT:  # still converting: caller read too early
            self.fault = 0
            return None
        # cold junction: CJTH (sign + 2^6..2^0), CJTL (2^-1..2^-6 in D7..D2)
        self.cj_c = (_s16((r[10] << 8) | r[11]) >> 2) * 0.015625
        sr = r[15]
        if sr:
            self.clear_fault()
            self.fault = sr
            return None
        self.fault = 0
        v = (r[12] << 16) | (r[13] << 8) | r[14]
        v >>= 5  # 19-bit two's complement, 2^-7 C
        if v & 0x40000:
            v -= 0x80000
        return v * 0.0078125
