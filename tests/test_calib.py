"""Two-point probe calibration (ice point, LN2 boiling point)."""

import pytest

from crf import calib, config
from crf.drivers import pt100


def test_identity_with_defaults():
    cfg = config.check({})
    cal = calib.Calibration(cfg)
    assert cal.chamber == (1.0, 0.0) and cal.sample == (1.0, 0.0)
    assert calib.corrected(-123.4, 0.0, -195.8) == pytest.approx(-123.4)


def test_probe_with_offset_and_gain_error_reads_correctly_after_calibration():
    # a probe chain reading 0.8 C high at 0 C with a -1.5 % gain error
    def probe(true_t):
        return 0.8 + 0.985 * true_t

    ice, ln2 = probe(0.0), probe(-195.8)
    cfg = config.check({"sample_cal_ice_c": round(ice, 2), "sample_cal_ln2_c": round(ln2, 2)})
    g, o = calib.Calibration(cfg).sample
    for t in (-195.8, -150.0, -80.0, -40.0, -4.0, 0.0, 20.0):
        assert abs(probe(t) - t) > 0.3  # uncorrected it is wrong
        assert g * probe(t) + o == pytest.approx(t, abs=0.01)
        assert calib.corrected(probe(t), ice, ln2) == pytest.approx(t, abs=1e-9)


def test_rtd_chain_with_lead_resistance():
    # 2-wire PT100 with 0.5 ohm of lead resistance: an offset that grows in
    # degrees at low temperature (the slope falls); two points take most of it
    def reading(t):
        return pt100.temperature(pt100.resistance(t) + 0.5)

    ice, ln2 = reading(0.0), reading(-195.8)
    for t in (-195.8, -100.0, 0.0):
        assert abs(calib.corrected(reading(t), ice, ln2) - t) < 0.1
        assert abs(reading(t) - t) > 1.0


def test_limits_refuse_nonsense_naming_the_key():
    with pytest.raises(config.ConfigError, match="chamber_cal_ice_c"):
        config.check({"chamber_cal_ice_c": 12.0})
    with pytest.raises(config.ConfigError, match="sample_cal_ln2_c"):
        config.check({"sample_cal_ln2_c": -150.0})
    with pytest.raises(config.ConfigError, match="sample_cal_ln2_c"):
        config.check({"sample_cal_ln2_c": "cold"})


def test_header_describes_correction():
    cfg = config.check({"chamber_cal_ice_c": 0.3, "chamber_cal_ln2_c": -195.0})
    chain = {"chamber": {"converter": "MAX31865", "correction": "none"},
             "sample": {"converter": "MAX31865", "correction": "none"}}
    out = calib.Calibration(cfg).describe(chain, cfg)
    c = out["chamber"]["correction"]
    assert c["method"] == "two-point ice/LN2" and c["ice_reading_c"] == 0.3
    assert c["ln2_reading_c"] == -195.0
    assert out["sample"]["correction"] == "none"
    assert calib.Calibration(cfg).describe(None, cfg) is None
