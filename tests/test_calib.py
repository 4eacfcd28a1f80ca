"""Two-point probe calibration (ice point, LN2 boiling point): the pure
function config.cal_coefficients and the configuration keys that hold the
readings (the app applies t = gain * reading + offset)."""

import pytest

from crf import config
from crf.drivers import pt100


def corrected(raw, ice, ln2):
    g, o = config.cal_coefficients(ice, ln2)
    return g * raw + o


def test_identity_with_defaults():
    cfg = config.check({})
    for p in ("chamber", "sample"):
        assert config.cal_coefficients(cfg[p + "_cal_ice_c"], cfg[p + "_cal_ln2_c"]) == (1.0, 0.0)
    assert corrected(-123.4, 0.0, -195.8) == pytest.approx(-123.4)


def test_probe_with_offset_and_gain_error_reads_correctly_after_calibration():
    # a probe chain reading 0.8 C high at 0 C with a -1.5 % gain error
    def probe(true_t):
        return 0.8 + 0.985 * true_t

    ice, ln2 = round(probe(0.0), 2), round(probe(-195.8), 2)
    cfg = config.check({"sample_cal_ice_c": ice, "sample_cal_ln2_c": ln2})
    g, o = config.cal_coefficients(cfg["sample_cal_ice_c"], cfg["sample_cal_ln2_c"])
    for t in (-195.8, -150.0, -80.0, -40.0, -4.0, 0.0, 20.0):
        assert abs(probe(t) - t) > 0.3  # uncorrected it is wrong
        assert g * probe(t) + o == pytest.approx(t, abs=0.01)
        assert corrected(probe(t), ice, ln2) == pytest.approx(t, abs=0.01)


def test_rtd_chain_with_lead_resistance():
    # 2-wire PT100 with 0.5 ohm of lead resistance: an offset that grows in
    # degrees at low temperature (the slope falls); two points take most of it
    def reading(t):
        return pt100.temperature(pt100.resistance(t) + 0.5)

    ice, ln2 = reading(0.0), reading(-195.8)
    for t in (-195.8, -100.0, 0.0):
        assert abs(corrected(reading(t), ice, ln2) - t) < 0.1
        assert abs(reading(t) - t) > 1.0


def test_reference_points():
    # the two readings map onto 0 C and -195.8 C (reference/physics.md: -195.79 C)
    assert corrected(1.5, 1.5, -190.0) == 0.0
    assert corrected(-190.0, 1.5, -190.0) == pytest.approx(-195.8)


def test_limits_refuse_nonsense_naming_the_key():
    with pytest.raises(config.ConfigError, match="chamber_cal_ice_c"):
        config.check({"chamber_cal_ice_c": 12.0})
    with pytest.raises(config.ConfigError, match="sample_cal_ln2_c"):
        config.check({"sample_cal_ln2_c": -150.0})
    with pytest.raises(config.ConfigError, match="sample_cal_ln2_c"):
        config.check({"sample_cal_ln2_c": "cold"})
