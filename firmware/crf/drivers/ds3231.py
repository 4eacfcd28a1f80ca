"""DS3231 real-time clock over I2C (address 0x68), battery-backed.

Takes an I2C bus object; never creates pins.  Time registers 00h-06h are
BCD (seconds, minutes, hours in 24-hour mode, day of week 1-7, date, month
with the century bit D7, year 00-99); status register 0Fh bit 7 is OSF,
the oscillator-stop flag: set at first power-up and whenever the oscillator
stopped (battery flat or missing), so the time is not to be trusted until it
is set again.  The temperature (11h-12h, 0.25 C) is that of the TCXO.

Times are Unix seconds (UTC, 2000-01-01 .. 2099-12-31).  The calendar
conversion is done here in integers, independent of the port's time.mktime
epoch.
"""

try:
    from micropython import const
except ImportError:  # CPython tests

    def const(x):
        return x


ADDR = const(0x68)
_REG_TIME = const(0x00)
_REG_CONTROL = const(0x0E)
_REG_STATUS = const(0x0F)
_REG_TEMP = const(0x11)
_OSF = const(0x80)
_H12 = const(0x40)
_PM = const(0x20)
_CENTURY = const(0x80)
_EPOCH_2000_S = const(946684800)
_DAY_S = const(86400)


def _bcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


def _tobcd(v):
    return ((v // 10) << 4) | (v % 10)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (integers only)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day, weekday 1=Monday..7) for days since 1970-01-01."""
    wd = (z + 3) % 7 + 1
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d, wd


class DS3231:
    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._t = bytearray(7)
        self._one = bytearray(1)
        self._two = bytearray(2)

    def valid(self):
        """False while the oscillator-stop flag says the time was lost."""
        self.i2c.readfrom_mem_into(self.addr, _REG_STATUS, self._one)
        return not self._one[0] & _OSF

    def datetime(self):
        """(year, month, day, hour, minute, second, weekday)."""
        t = self._t
        self.i2c.readfrom_mem_into(self.addr, _REG_TIME, t)
        h = t[2]
        if h & _H12:  # 12-hour mode (set by someone else): convert
            hour = _bcd(h & 0x1F) % 12 + (12 if h & _PM else 0)
        else:
            hour = _bcd(h & 0x3F)
        year = 2000 + _bcd(t[6]) + (100 if t[5] & _CENTURY else 0)
        return year, _bcd(t[5] & 0x1F), _bcd(t[4] & 0x3F), hour, _bcd(t[1] & 0x7F), \
            _bcd(t[0] & 0x7F), t[3] & 0x07

    def time_s(self):
        """Unix seconds, or None if the clock was never set or has stopped."""
        if not self.valid():
            return None
        y, mo, d, h, mi, s, _ = self.datetime()
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            return None  # garbage in the registers: not a time
        return days_from_civil(y, mo, d) * _DAY_S + h * 3600 + mi * 60 + s

    def set_time_s(self, s):
        """Set from Unix seconds (UTC) and clear the oscillator-stop flag."""
        s = int(s)
        if s < _EPOCH_2000_S:
            raise ValueError("DS3231 holds 2000..2099 only")
        days, rem = divmod(s, _DAY_S)
        y, mo, d, wd = civil_from_days(days)
        if y > 2099:
            raise ValueError("DS3231 holds 2000..2099 only")
        t = self._t
        t[0] = _tobcd(rem % 60)
        t[1] = _tobcd(rem // 60 % 60)
        t[2] = _tobcd(rem // 3600)  # 24-hour mode
        t[3] = wd
        t[4] = _tobcd(d)
        t[5] = _tobcd(mo)
        t[6] = _tobcd(y - 2000)
        self.i2c.writeto_mem(self.addr, _REG_TIME, t)
        self.i2c.readfrom_mem_into(self.addr, _REG_STATUS, self._one)
        self._one[0] &= ~_OSF & 0xFF
        self.i2c.writeto_mem(self.addr, _REG_STATUS, self._one)

    def temperature(self):
        """TCXO temperature in C (0.25 C steps)."""
        b = self._two
        self.i2c.readfrom_mem_into(self.addr, _REG_TEMP, b)
        v = (b[0] << 2) | (b[1] >> 6)
        if v & 0x200:
            v -= 0x400
        return v * 0.25
