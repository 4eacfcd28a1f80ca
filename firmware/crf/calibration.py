# Two-point probe calibration, applied to every reading (app.py) and kept
# apart from config.py, which is loaded only to read or change settings.


def cal_coefficients(ice_reading, ln2_reading):
    """Two-point probe calibration: (gain, offset) with t = gain * r + offset
    through the ice point (0 C) and LN2 boiling at ~1 atm (-195.8 C;
    reference/physics.md -195.79 C), from what the probe read there."""
    gain = 195.8 / (ice_reading - ln2_reading)
    return gain, -gain * ice_reading
