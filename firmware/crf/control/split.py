# Split-range output: one control signal u in [-1, 1] (negative = cooling)
# drives either the LN2 valve or the heater, never both; the dead band keeps
# them from fighting around zero.


def split_range(u, dead_band):
    if u < -dead_band:
        d = (-u - dead_band) / (1.0 - dead_band)
        return (d if d < 1.0 else 1.0), 0.0
    if u > dead_band:
        d = (u - dead_band) / (1.0 - dead_band)
        return 0.0, (d if d < 1.0 else 1.0)
    return 0.0, 0.0
