"""MAX31865 RTD-to-digital converter on SPI (one chip per probe).

The driver takes an SPI bus (mode 1 or 3: phase=1; up to 5 MHz) and a CS pin;
it never creates pins or buses.  Registers are read at 0x0N and written at
0x8N; multi-byte transfers auto-increment.  No call sleeps: the caller
sequences a conversion across loop passes with its own clock:

    bias_on()          -> wait BIAS_SETTLE_MS
    start_one_shot()   -> wait conversion_ms
    read_raw()         -> 15-bit code (fault_flag set if the fault bit is set)
    bias_off()         (less self-heating between conversions)

Timing: after VBIAS is switched on the input filter must settle for ~10.5
time constants (+1 ms) before a conversion samples the RTD; with the usual
0.1 uF across a PT100 that is ~2 ms, so 10 ms is allowed.  A one-shot takes
~52 ms (60 Hz filter) or ~62.5 ms (50 Hz filter); 60 / 70 ms are allowed.

Faults latch in the fault status register until clear_fault().  Thresholds
compare the 15-bit code; the low threshold must stay below the code of the
coldest legitimate reading: -196 C on a PT100 is ~20.25 ohm, code ~1659 with
Rref 400 ohm, so the default low threshold is 0.1709 * R0 (code 1400 for a
PT100 with Rref 400 ohm: ~17.1 ohm, ~-211 C; code 1302 for a PT1000 with
Rref 4300 ohm).  The high threshold is the code of `high_c` (+60 C).

read() is what the board calls: ONE 8-byte transfer of registers 00h-07h
(configuration, RTD, both thresholds, fault status), so every reading also
proves that the chip still holds the configuration and thresholds the driver
wrote.  It returns degrees C or None with `fault` set: the chip's fault
status byte (cleared in the chip), or one of the driver's codes above 0xFF
for a converter that does not answer or lost its configuration (then the
driver writes it again).  It never raises for bad data; an OSError from the
bus is the caller's to catch.

rtd_celsius(ohms, r0) is the IEC 60751 inverse (pure function, CPython too).
"""

try:
    from micropython import const
except ImportError:  # CPython tests

    def const(x):
        return x


from . import pt100

_REG_CONFIG = const(0x00)
_REG_RTD_MSB = const(0x01)
_REG_HFT_MSB = const(0x03)
_REG_LFT_MSB = const(0x05)
_REG_FAULT = const(0x07)
_WRITE = const(0x80)

_CFG_BIAS = const(0x80)
_CFG_AUTO = const(0x40)
_CFG_ONE_SHOT = const(0x20)
_CFG_3WIRE = const(0x10)
_CFG_FAULT_AUTO = const(0x08)  # D3:D2 = 10: automatic fault-detection cycle
_CFG_FAULT_BITS = const(0x0C)
_CFG_FAULT_CLEAR = const(0x02)
_CFG_50HZ = const(0x01)

# Fault status bits (register 0x07)
FAULT_HIGH = const(0x80)  # RTD >= high threshold (open RTD reads full scale)
FAULT_LOW = const(0x40)  # RTD <= low threshold (shorted RTD)
FAULT_REFIN_HIGH = const(0x20)  # REFIN- > 0.85 * VBIAS
FAULT_REFIN_LOW = const(0x10)  # REFIN- < 0.85 * VBIAS, FORCE- open
FAULT_RTDIN_LOW = const(0x08)  # RTDIN- < 0.85 * VBIAS, FORCE- open
FAULT_VOLTAGE = const(0x04)  # over/under-voltage

# Driver fault codes (above the chip's 8 status bits)
FAULT_FLAG_ONLY = const(0x01)  # RTD register fault bit set, status register 0
FAULT_BUS_ONES = const(0x100)  # every byte read 0xFF: MISO floating high, chip missing
FAULT_BUS_ZEROS = const(0x200)  # every byte read 0x00: MISO stuck low, chip unpowered
FAULT_CONFIG = const(0x400)  # configuration/thresholds not as written: chip reset

FAULT_NAMES = (
    (FAULT_BUS_ONES, "no answer (bus reads all ones)"),
    (FAULT_BUS_ZEROS, "no answer (bus reads all zeros)"),
    (FAULT_CONFIG, "converter lost its configuration (reset?)"),
    (FAULT_HIGH, "RTD above high threshold (open probe or too hot)"),
    (FAULT_LOW, "RTD below low threshold (shorted probe)"),
    (FAULT_REFIN_HIGH, "REFIN- > 0.85 VBIAS"),
    (FAULT_REFIN_LOW, "REFIN- < 0.85 VBIAS (FORCE- open)"),
    (FAULT_RTDIN_LOW, "RTDIN- < 0.85 VBIAS (FORCE- open)"),
    (FAULT_VOLTAGE, "over/under-voltage on the inputs"),
    (FAULT_FLAG_ONLY, "fault bit set, status register clear"),
)

LOW_CODE = const(1400)  # default low threshold (~17.1 ohm at Rref 400)
_LOW_R_PER_R0 = 0.1709  # low threshold as a fraction of R0 (~-211 C)
FULL_SCALE = const(32768)
BIAS_SETTLE_MS = const(10)


def rtd_celsius(ohms, r0=100.0):
    """Temperature in degrees C of a platinum RTD (PT100: r0=100, PT1000:
    r0=1000) from its resistance, IEC 60751 Callendar-Van Dusen with the C
    term below 0 C, inverted to well under 0.01 C over -200..+850 C
    (also in 32-bit floats; tests/test_rtd_iec60751.py)."""
    return pt100.temperature(ohms, r0)


def fault_name(code):
    """Words for a fault code (the most significant cause first)."""
    for bit, name in FAULT_NAMES:
        if code & bit:
            return name
    return "fault 0x%x" % code if code else ""


class MAX31865:
    settle_ms = BIAS_SETTLE_MS

    def __init__(self, spi, cs, rref=400.0, r0=100.0, wires=3, filter_hz=50,
                 low_code=None, high_c=60.0):
        self.spi = spi
        self.cs = cs
        self.rref = rref
        self.r0 = r0
        self.fault_flag = False
        self.fault = 0
        self._buf = bytearray(5)  # address byte + up to 4 data bytes
        self._rd = bytearray(8)
        # fixed views so that no transfer allocates
        mv = memoryview(self._buf)
        self._addr = mv[:1]
        self._w1 = mv[:2]
        self._w4 = mv
        mv = memoryview(self._rd)
        self._r1 = mv[:1]
        self._r2 = mv[:2]
        self._r4 = mv[:4]
        self._r8 = mv
        self._cfg = (_CFG_3WIRE if wires == 3 else 0) | (_CFG_50HZ if filter_hz == 50 else 0)
        self.conversion_ms = 70 if filter_hz == 50 else 60
        self._bias = 0
        if low_code is None:
            low_code = self.code_for(_LOW_R_PER_R0 * r0)
        self._low = low_code
        self._high = self.code_for(pt100.resistance(high_c, r0))
        cs.init(cs.OUT, value=1)
        self.init()

    def init(self):
        """(Re)write configuration and thresholds; clear latched faults."""
        self._write_cfg(0)
        self.set_thresholds(self._low, self._high)
        self.clear_fault()

    # -- register access ------------------------------------------------
    def _write(self, reg, view):
        # view: self._w1 or self._w4, data already in self._buf[1:]
        self._buf[0] = reg | _WRITE
        self.cs(0)
        try:
            self.spi.write(view)
        finally:
            self.cs(1)

    def _read(self, reg, view):
        # view: self._r1, _r2 or _r4; the data lands in self._rd
        self._buf[0] = reg
        self.cs(0)
        try:
            self.spi.write(self._addr)
            self.spi.readinto(view)
        finally:
            self.cs(1)
        return self._rd

    def _write_cfg(self, extra):
        self._buf[1] = self._cfg | self._bias | extra
        self._write(_REG_CONFIG, self._w1)

    def read_config(self):
        return self._read(_REG_CONFIG, self._r1)[0]

    def verify(self):
        """True if the chip answers with the configuration last written
        (a missing chip reads 0x00 or 0xFF)."""
        return self.read_config() & ~(_CFG_ONE_SHOT | _CFG_FAULT_CLEAR | _CFG_FAULT_BITS) == (
            self._cfg | self._bias
        )

    # -- thresholds -----------------------------------------------------
    def code_for(self, ohms):
        """15-bit code the converter reports for a resistance."""
        c = int(ohms * FULL_SCALE / self.rref + 0.5)
        return 0 if c < 0 else (0x7FFF if c > 0x7FFF else c)

    def set_thresholds(self, low_code, high_code):
        """Fault thresholds as 15-bit codes (stored left-justified)."""
        b = self._buf
        h = (high_code & 0x7FFF) << 1
        lo = (low_code & 0x7FFF) << 1
        b[1] = h >> 8
        b[2] = h & 0xFF
        b[3] = lo >> 8
        b[4] = lo & 0xFF
        self._write(_REG_HFT_MSB, self._w4)

    def read_thresholds(self):
        """(low_code, high_code) as read back from the chip."""
        r = self._read(_REG_HFT_MSB, self._r4)
        return ((r[2] << 8) | r[3]) >> 1, ((r[0] << 8) | r[1]) >> 1

    # -- conversion -----------------------------------------------------
    def bias_on(self):
        self._bias = _CFG_BIAS
        self._write_cfg(0)

    def bias_off(self):
        self._bias = 0
        self._write_cfg(0)

    # the board's probe interface: prepare (bias on, settle_ms), idle
    prepare = bias_on
    idle = bias_off

    def start_one_shot(self):
        """Start one conversion (bias must be on and settled).  The chip
        samples when CS rises; the result is ready conversion_ms later."""
        self._write_cfg(_CFG_ONE_SHOT)

    def read_raw(self):
        """The 15-bit RTD code; fault_flag is set from the register's D0."""
        r = self._read(_REG_RTD_MSB, self._r2)
        self.fault_flag = bool(r[1] & 1)
        return ((r[0] << 8) | r[1]) >> 1

    def read(self):
        """Finish a conversion (bias on, one-shot done): degrees C, or None
        with self.fault set.  One 8-byte transfer; no allocation."""
        r = self._read(_REG_CONFIG, self._r8)
        a = r[0]
        o = a
        for i in range(1, 8):
            a &= r[i]
            o |= r[i]
        if a == 0xFF:
            self.fault = FAULT_BUS_ONES
            return None
        if o == 0:
            self.fault = FAULT_BUS_ZEROS
            return None
        word = (r[1] << 8) | r[2]
        if (r[0] & ~(_CFG_ONE_SHOT | _CFG_FAULT_CLEAR | _CFG_FAULT_BITS)) != (self._cfg | self._bias) \
                or ((r[3] << 8) | r[4]) >> 1 != self._high or ((r[5] << 8) | r[6]) >> 1 != self._low:
            self.fault = FAULT_CONFIG
            self.init()  # a chip that reset comes back with FFFFh/0000h thresholds
            return None
        f = r[7]
        if word & 1 or f:
            self.clear_fault()
            self.fault = f if f else FAULT_FLAG_ONLY
            self.fault_flag = True
            return None
        self.fault = 0
        code = word >> 1
        if code == 0 or code == 0x7FFF:  # the thresholds make these faults; be sure
            self.fault = FAULT_LOW if code == 0 else FAULT_HIGH
            return None
        return pt100.temperature(code * self.rref / FULL_SCALE, self.r0)

    def ohms(self, code):
        return code * self.rref / FULL_SCALE

    def temperature(self, code):
        """Degrees C for a 15-bit code (Callendar-Van Dusen inverse)."""
        return pt100.temperature(code * self.rref / FULL_SCALE, self.r0)

    # -- faults ---------------------------------------------------------
    def read_fault(self):
        return self._read(_REG_FAULT, self._r1)[0]

    def clear_fault(self):
        """Clear the latched fault status (D5, D3 and D2 written as 0)."""
        self.fault_flag = False
        self._write_cfg(_CFG_FAULT_CLEAR)

    def start_fault_cycle(self):
        """Start the automatic fault-detection cycle (~0.6 ms; bias turned
        on).  Poll fault_cycle_done(), then read_fault()."""
        self._bias = _CFG_BIAS
        self._write_cfg(_CFG_FAULT_AUTO)

    def fault_cycle_done(self):
        return not (self.read_config() & _CFG_FAULT_BITS)
