"""The application applies the two-point calibration where readings enter,
and the run header records the correction in force."""

import pytest

from crf import config
from crf.app import App
from crf.clock import ticks_add, ticks_diff


class Clock:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_add(self, a, d):
        return ticks_add(a, d)

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def sleep_ms(self, ms):
        self.t = ticks_add(self.t, ms)

    def rtc_s(self):
        return None


class Board:
    """Probes read what a miscalibrated chain would show: +0.8 C at 0 C and
    a -1.5 % gain error."""

    name = "stub"
    display = None
    serial = "stub-1"

    def __init__(self, root, true_c):
        self.storage_root = str(root)
        self.clock = Clock()
        self.true_c = true_c
        self.chamber_fault = self.sample_fault = 0

    def _reading(self):
        return 0.8 + 0.985 * self.true_c

    def calibration(self):
        return {"chamber": {"converter": "stub", "correction": "none"},
                "sample": {"converter": "stub", "correction": "none"}}

    def read_chamber(self):
        return self._reading()

    def read_sample(self):
        return self._reading()

    def __getattr__(self, name):  # outputs, inputs, link, poll: no-ops
        if name.startswith(("set_", "start_", "poll", "watchdog", "safe", "enable")):
            return lambda *a, **k: None
        if name in ("link_read",):
            return lambda buf: 0
        if name in ("link_room",):
            return lambda: 4096
        if name in ("link_pending", "buttons"):
            return lambda: 0
        if name == "door_open":
            return lambda: False
        if name == "ln2_supply_ok":
            return lambda: True
        raise AttributeError(name)


@pytest.mark.parametrize("true_c", [-195.8, -120.0, -20.0, 4.0])
def test_readings_are_corrected(tmp_path, true_c):
    b = Board(tmp_path, true_c)
    cfg = config.check({"chamber_cal_ice_c": 0.8, "chamber_cal_ln2_c": 0.8 - 0.985 * 195.8,
                        "sample_cal_ice_c": 0.8, "sample_cal_ln2_c": 0.8 - 0.985 * 195.8})
    app = App(b, cfg)
    for _ in range(15):
        app.pass_once()
        b.clock.sleep_ms(100)
    assert app.chamber_c == pytest.approx(true_c, abs=1e-6)
    assert app.sample_c == pytest.approx(true_c, abs=1e-6)
    app_raw = App(Board(tmp_path / "raw", true_c), config.check({}))
    (tmp_path / "raw").mkdir(exist_ok=True)
    app_raw.pass_once()
    assert app_raw.chamber_c == pytest.approx(0.8 + 0.985 * true_c)


def test_header_records_the_chain_and_the_readings_in_force(tmp_path):
    b = Board(tmp_path, -20.0)
    cfg = config.check({"chamber_cal_ice_c": 0.8, "chamber_cal_ln2_c": -192.0})
    app = App(b, cfg)
    app.pass_once()
    h = app._header("p", "{}", "", "", "", None)
    assert h["calibration"] == b.calibration()  # the board's chain, as before
    assert (h["config"]["chamber_cal_ice_c"], h["config"]["chamber_cal_ln2_c"]) == (0.8, -192.0)
    assert (h["config"]["sample_cal_ice_c"], h["config"]["sample_cal_ln2_c"]) == (0.0, -195.8)
    assert app.cal_chamber == config.cal_coefficients(0.8, -192.0)
    assert app.cal_sample is None  # identity: no arithmetic per reading


def test_new_configuration_takes_new_coefficients(tmp_path):
    b = Board(tmp_path, -100.0)
    app = App(b, config.check({}))
    app.apply_config(config.check({"sample_cal_ice_c": -0.5}))
    assert app.cal_sample == config.cal_coefficients(-0.5, -195.8)
    assert app.cal_chamber is None
