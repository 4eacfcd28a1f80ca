"""MAX31856 driver (type T thermocouple) against the register-level fake."""

import pytest

from crf.drivers import max31856 as m
from fakes_hw import FakeMAX31856
from test_max31865 import FakePin, FakeSPI
from test_pico_board import FakeClock


def make(clock=None, **kw):
    cs = FakePin("cs", FakePin.OUT, value=1)
    spi = FakeSPI()
    chip = FakeMAX31856(cs, clock=clock)
    spi.chips.append(chip)
    return m.MAX31856(spi, cs, **kw), chip, spi


def convert(drv, chip, t=None):
    if t is not None:
        chip.set_temperature(t)
    drv.start_one_shot()
    return drv.read()


def test_configuration_registers():
    drv, chip, _ = make()
    r = chip.regs
    assert r[0] == 0x10 | 0x04 | 0x01  # OC detection, latched faults, 50 Hz, one-shot mode
    assert r[1] == 0x07  # type T, 1 sample
    assert r[2] == 0xFF  # FAULT pin not used
    assert (r[3], r[4]) == (70, (-20) & 0xFF)  # cold-junction thresholds
    assert ((r[5] << 8) | r[6]) == 60 * 16  # +60 C
    assert ((r[7] << 8) | r[8]) == (-210 * 16) & 0xFFFF  # -210 C: LN2 never trips it
    assert drv.verify()
    assert drv.conversion_ms >= 185  # one-shot max at 50 Hz
    drv60, chip60, _ = make(filter_hz=60)
    assert chip60.regs[0] & 0x01 == 0 and 155 <= drv60.conversion_ms < 200


@pytest.mark.parametrize("t", [-200.0, -196.0, -150.5, -80.0, -0.0078125, 0.0, 4.0, 37.25])
def test_temperatures_including_ln2(t):
    drv, chip, _ = make()
    got = convert(drv, chip, t)
    assert drv.fault == 0 and chip.violations == []
    assert got == pytest.approx(t, abs=0.0078125 / 2 + 1e-9)


def test_one_shot_never_blocks_and_is_read_after_conversion_time():
    clock = FakeClock(1000)
    drv, chip, _ = make(clock=clock)
    chip.set_temperature(-100.0)
    drv.start_one_shot()
    assert chip.regs[0] & 0x40  # converting
    clock.sleep_ms(50)
    assert drv.read() is None and drv.fault == 0  # too early: no stale number
    drv.start_one_shot()
    clock.sleep_ms(drv.conversion_ms)
    assert drv.read() == pytest.approx(-100.0, abs=0.004)


def test_cold_junction_reading_and_offset():
    drv, chip, _ = make()
    chip.cj_c = 23.5
    convert(drv, chip, -50.0)
    assert drv.cj_c == pytest.approx(23.5, abs=0.016)
    # the internal sensor reads 1 C high: the offset register corrects the
    # cold junction and with it the compensated thermocouple result
    chip.cj_c = 23.5
    drv2, chip2, _ = make(cj_offset_c=-1.0)
    chip2.cj_c = 23.5
    assert chip2.regs[9] == (-16) & 0xFF
    assert convert(drv2, chip2, -50.0) == pytest.approx(-51.0, abs=0.01)
    drv2.set_cj_offset(0.0)
    assert chip2.regs[9] == 0


@pytest.mark.parametrize("setup, bit", [
    (lambda c: setattr(c, "tc_c", None), m.FAULT_OPEN),
    (lambda c: setattr(c, "ovuv", True), m.FAULT_OVUV),
    (lambda c: setattr(c, "tc_c", 80.0), m.FAULT_TC_HIGH),
    (lambda c: setattr(c, "tc_c", -230.0), m.FAULT_TC_LOW),
    (lambda c: setattr(c, "cj_c", 75.0), m.FAULT_CJ_HIGH),
    (lambda c: setattr(c, "cj_c", -30.0), m.FAULT_CJ_LOW),
    (lambda c: setattr(c, "cj_c", 130.0), m.FAULT_CJ_RANGE),
    (lambda c: setattr(c, "tc_c", 450.0), m.FAULT_TC_RANGE),
])
def test_faults_give_none_name_and_clear(setup, bit):
    drv, chip, _ = make()
    setup(chip)
    assert convert(drv, chip) is None
    assert drv.fault & bit
    assert m.fault_name(drv.fault)
    assert chip.regs[15] == 0  # cleared (FAULTCLR) after being reported
    chip.tc_c, chip.cj_c, chip.ovuv = -40.0, 25.0, False
    assert convert(drv, chip) == pytest.approx(-40.0, abs=0.004)
    assert drv.fault == 0


def test_faults_latch_between_conversions():
    # interrupt mode: a fault seen by any conversion stays until cleared
    drv, chip, _ = make()
    chip.tc_c = None
    drv.start_one_shot()
    chip.tc_c = -10.0
    drv.start_one_shot()  # second conversion is good, the first fault still shows
    assert drv.read() is None and drv.fault & m.FAULT_OPEN


@pytest.mark.parametrize("stuck, code", [(0xFF, m.FAULT_BUS_ONES), (0x00, m.FAULT_BUS_ZEROS)])
def test_bus_stuck_is_a_fault(stuck, code):
    drv, chip, spi = make()
    spi.stuck = stuck
    assert convert(drv, chip, 20.0) is None and drv.fault == code
    assert "no answer" in m.fault_name(drv.fault)


def test_missing_chip_reads_all_ones():
    cs = FakePin("cs", FakePin.OUT, value=1)
    drv = m.MAX31856(FakeSPI(), cs)
    assert not drv.verify()
    drv.start_one_shot()
    assert drv.read() is None and drv.fault == m.FAULT_BUS_ONES


def test_power_cycled_chip_is_reconfigured():
    drv, chip, _ = make()
    chip.power_cycle()  # back to type K and default thresholds
    assert convert(drv, chip, -60.0) is None and drv.fault == m.FAULT_CONFIG
    assert chip.regs[1] == 0x07 and drv.verify()
    assert convert(drv, chip, -60.0) == pytest.approx(-60.0, abs=0.004)


def test_negative_result_sign_extension():
    drv, chip, _ = make()
    # smallest step below zero and the 19-bit limit of the register
    assert convert(drv, chip, -0.0078125) == -0.0078125
    assert convert(drv, chip, -250.0) is None  # below the -210 C low threshold
    assert drv.fault & m.FAULT_TC_LOW
