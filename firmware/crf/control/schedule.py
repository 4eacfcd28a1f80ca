# Chamber-loop gain schedule, the check of the configuration key
# chamber_gain_schedule: rows [t_c, kp, ki, kd] (W/K, W/(K s), W s/K) in
# increasing t_c; an empty list means "use chamber_kp / chamber_ki /
# chamber_kd". The controller interpolates the gains linearly in chamber
# temperature between rows (nearest row outside them): Controller._gains.
# Written by `crf tune apply` when the autotune finds the plant differs
# enough between its test temperatures (docs/commissioning.md). Imported by
# config.check only when the key is given, and dropped after.
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
