"""DS3231 driver against the register-level fake (fakes_hw.FakeDS3231)."""

import calendar
import datetime

import pytest

from crf.drivers import ds3231
from fakes_hw import FakeDS3231, FakeI2C


def make(**kw):
    bus = FakeI2C()
    chip = FakeDS3231(**kw)
    bus.devices[0x68] = chip
    return ds3231.DS3231(bus), chip, bus


def unix(*dt):
    return calendar.timegm(datetime.datetime(*dt).timetuple())


def test_power_up_oscillator_stop_flag_means_not_set():
    rtc, chip, _ = make(osf=True)
    assert not rtc.valid()
    assert rtc.time_s() is None


@pytest.mark.parametrize("dt", [
    (2026, 11, 28, 15, 4, 59), (2000, 1, 1, 0, 0, 0), (2024, 2, 29, 23, 59, 59),
    (2099, 12, 31, 23, 59, 59), (2031, 7, 15, 12, 30, 1),
])
def test_set_and_read_back(dt):
    rtc, chip, _ = make()
    s = unix(*dt)
    rtc.set_time_s(s)
    assert chip.get_datetime() == datetime.datetime(*dt)
    assert chip.regs[3] == datetime.datetime(*dt).isoweekday()
    assert not chip.regs[0x0F] & 0x80  # OSF cleared by setting the time
    assert rtc.valid() and rtc.time_s() == s
    assert chip.regs[2] & 0x40 == 0  # 24-hour mode


def test_bcd_registers_exact():
    rtc, chip, _ = make()
    rtc.set_time_s(unix(2026, 11, 28, 15, 4, 59))
    assert bytes(chip.regs[0:7]) == bytes((0x59, 0x04, 0x15, 6, 0x28, 0x11, 0x26))


def test_time_runs_and_oscillator_stop_invalidates():
    rtc, chip, _ = make()
    s = unix(2026, 12, 31, 23, 59, 30)
    rtc.set_time_s(s)
    chip.tick(45)  # across the new year
    assert rtc.time_s() == s + 45
    chip.oscillator_stopped()
    assert rtc.time_s() is None


def test_twelve_hour_mode_written_by_another_tool_is_read():
    rtc, chip, _ = make(osf=False)
    chip.set_datetime(datetime.datetime(2026, 3, 1))
    chip.regs[2] = 0x40 | 0x20 | 0x03  # 12-hour mode, PM, 3 o'clock
    assert rtc.datetime()[3] == 15
    chip.regs[2] = 0x40 | 0x12  # 12 AM = midnight
    assert rtc.datetime()[3] == 0


def test_garbage_registers_are_not_a_time():
    rtc, chip, _ = make(osf=False)
    chip.regs[5] = 0x13  # month 13
    assert rtc.time_s() is None


def test_out_of_range_refused():
    rtc, _, _ = make()
    with pytest.raises(ValueError):
        rtc.set_time_s(unix(1999, 12, 31, 0, 0, 0))
    with pytest.raises(ValueError):
        rtc.set_time_s(unix(2100, 1, 1, 0, 0, 0))


def test_temperature_register():
    rtc, chip, _ = make()
    assert rtc.temperature() == 25.25
    chip.regs[0x11], chip.regs[0x12] = 0xF6, 0x80  # -10 + 0.5 = -9.5 C
    assert rtc.temperature() == -9.5


def test_absent_chip_raises_oserror():
    rtc, chip, _ = make()
    chip.present = False
    with pytest.raises(OSError):
        rtc.time_s()


def test_calendar_helpers_match_python():
    for days in range(0, 60000, 37):
        d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
        assert ds3231.civil_from_days(days) == (d.year, d.month, d.day, d.isoweekday())
        assert ds3231.days_from_civil(d.year, d.month, d.day) == days
