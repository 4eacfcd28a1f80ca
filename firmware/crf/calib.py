# Two-point probe calibration: ice point (0 C) and liquid nitrogen boiling at
# ~1 atm (-195.8 C; reference/sensors.md, physics.md). The engineer puts the
# probe in an ice bath and in LN2 and enters the two readings the controller
# showed (configuration keys <probe>_cal_ice_c and <probe>_cal_ln2_c; changes
# are audited by config_set). A reading r is corrected linearly through both
# points:  t = ICE + (r - ice) * (ICE - LN2) / (ice - ln2).
# The defaults (0.0 and -195.8) make it the identity.
ICE_C = 0.0
LN2_C = -195.8


def coefficients(ice_reading, ln2_reading):
    """(gain, offset) with t = gain * r + offset."""
    gain = (ICE_C - LN2_C) / (ice_reading - ln2_reading)
    return gain, ICE_C - gain * ice_reading


def corrected(raw, ice_reading, ln2_reading):
    """Pure two-point correction of one reading (None stays None)."""
    if raw is None:
        return None
    g, o = coefficients(ice_reading, ln2_reading)
    return g * raw + o


class Calibration:
    """Coefficients of both probes from a checked configuration, computed once."""

    def __init__(self, cfg):
        self.chamber = coefficients(cfg["chamber_cal_ice_c"], cfg["chamber_cal_ln2_c"])
        self.sample = coefficients(cfg["sample_cal_ice_c"], cfg["sample_cal_ln2_c"])

    def describe(self, chain, cfg):
        """The board's measurement chain with the correction in force (run header)."""
        if not isinstance(chain, dict):
            return chain
        for probe, (g, o) in (("chamber", self.chamber), ("sample", self.sample)):
            c = chain.get(probe)
            if isinstance(c, dict):
                c["correction"] = {"method": "two-point ice/LN2",
                                   "ice_reading_c": cfg[probe + "_cal_ice_c"],
                                   "ln2_reading_c": cfg[probe + "_cal_ln2_c"],
                                   "gain": g, "offset_c": o} if (g, o) != (1.0, 0.0) else "none"
        return chain
