# Chamber-loop gain schedule: gains interpolated by chamber temperature.
# The configuration key chamber_gain_schedule holds rows [t_c, kp, ki, kd]
# (W/K, W/(K s), W s/K) in increasing t_c; an empty list means "use
# chamber_kp / chamber_ki / chamber_kd". Between rows the gains are linear in
# temperature, outside them the nearest row's gains hold. Written by
# `crf tune apply` when the autotune finds the plant differs enough between
# its test temperatures (docs/commissioning.md).
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

ROWS_MAX = const(8)
_LIMITS = ((-200.0, 100.0), (0.0, 1e5), (0.0, 1e4), (0.0, 1e5))
_NAMES = ("t_c", "kp", "ki", "kd")


def check(v, key="chamber_gain_schedule"):
    """A checked copy (floats) of a schedule; ValueError naming what is wrong."""
    if not isinstance(v, list) or len(v) > ROWS_MAX:
        raise ValueError("config: %s: a list of at most %d rows [t_c, kp, ki, kd] is needed"
                         % (key, ROWS_MAX))
    out = []
    last = None
    for i in range(len(v)):
        row = v[i]
        if not isinstance(row, list) or len(row) != 4:
            raise ValueError("config: %s[%d]: a row [t_c, kp, ki, kd] is needed" % (key, i))
        r = []
        for j in range(4):
            x = row[j]
            lo, hi = _LIMITS[j]
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
                raise ValueError("config: %s[%d]: %s must be a number %s..%s"
                                 % (key, i, _NAMES[j], lo, hi))
            r.append(float(x))
        if last is not None and r[0] <= last:
            raise ValueError("config: %s[%d]: t_c must increase from row to row" % (key, i))
        last = r[0]
        out.append(r)
    if len(out) == 1:
        raise ValueError("config: %s: one row is no schedule (set chamber_kp/ki/kd instead)" % key)
    return out


def gains(rows, t_c):
    """(kp, ki, kd) at chamber temperature t_c; rows non-empty and checked."""
    first = rows[0]
    if t_c <= first[0]:
        return first[1], first[2], first[3]
    for i in range(1, len(rows)):
        b = rows[i]
        if t_c <= b[0]:
            a = rows[i - 1]
            f = (t_c - a[0]) / (b[0] - a[0])
            return (a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]), a[3] + f * (b[3] - a[3]))
    last = rows[-1]
    return last[1], last[2], last[3]
