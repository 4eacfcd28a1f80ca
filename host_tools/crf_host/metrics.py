"""Freeze-run metrics from a trace (firmware or baseline: one code path for both).

Definitions are in docs/benchmark.md; keep the two in step.
"""

import math

# After a heat-of-fusion compensation excursion begins the chamber is driven
# far from the ramp setpoint on purpose; that window is not a tracking error.
COMP_EXCLUDE_S = 180.0
# The sample rate is judged where the product is frozen and cooling steadily,
# away from the plateau and from the end of the slow ramp.
RATE_BAND_C = (-40.0, -10.0)
RATE_WINDOW_S = 60.0
# The plateau is over once the sample is this far below its melting point.
PLATEAU_DEPTH_C = 5.0


def _num(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def chamber_errors(rows):
    """Chamber probe minus chamber setpoint over ramp rows, minus compensation windows."""
    errors = []
    comp_prev = 0.0
    window_end = -math.inf
    for row in rows:
        comp = row.get("comp") or 0.0
        if comp and not comp_prev:
            window_end = row["t_s"] + COMP_EXCLUDE_S
        comp_prev = comp
        if row.get("kind") != "ramp" or row["t_s"] < window_end:
            continue
        if _num(row.get("chamber_c")) and _num(row.get("sp_chamber_c")):
            errors.append(row["chamber_c"] - row["sp_chamber_c"])
    return errors


def _segments(rows):
    """Consecutive runs of sample-probe ramp rows, split where the step changes."""
    segs, cur, cur_step = [], [], None
    for row in rows:
        inside = row.get("kind") == "ramp" and row.get("probe") == "sample"
        if inside and cur and row.get("step") == cur_step:
            cur.append(row)
            continue
        if cur:
            segs.append(cur)
        cur, cur_step = ([row], row.get("step")) if inside else ([], None)
    if cur:
        segs.append(cur)
    return segs


def _direction(seg):
    """-1 for a cooling ramp, +1 for a warming one (from the programmed setpoint)."""
    for col in ("sp_sample_c", "sp_chamber_c", "sample_c"):
        vals = [r[col] for r in seg if _num(r.get(col))]
        if len(vals) >= 2 and vals[-1] != vals[0]:
            return -1.0 if vals[-1] < vals[0] else 1.0
    return -1.0


def sample_rate_errors(rows):
    """|measured - programmed| sample rate, C/min, one value per whole minute in the band."""
    lo, hi = RATE_BAND_C
    errors = []
    for seg in _segments(rows):
        programmed = _direction(seg) * abs(seg[0].get("rate_c_per_min") or 0.0)
        # The sample probe, read once a minute from the start of the step.
        marks, next_t = [], seg[0]["t_s"]
        for row in seg:
            if row["t_s"] >= next_t:
                marks.append(row)
                next_t += RATE_WINDOW_S
        for a, b in zip(marks, marks[1:]):
            ta, tb, sa, sb = a["t_s"], b["t_s"], a.get("sample_c"), b.get("sample_c")
            if not (_num(sa) and _num(sb)) or tb <= ta:
                continue
            if not (lo <= sa <= hi and lo <= sb <= hi):
                continue
            errors.append(abs((sb - sa) * 60.0 / (tb - ta) - programmed))
    return errors


def plateau_min(rows, nucleation_s, tm_c):
    """Minutes from nucleation until the true sample temperature is 5 C below Tm.

    A supercooled sample is already below that line when it nucleates; the
    plateau starts once the released heat warms it back above the line.
    """
    if not (_num(nucleation_s) and _num(tm_c)):
        return None
    limit = tm_c - PLATEAU_DEPTH_C
    warmed = False
    for row in rows:
        t = row["sample_true_c"] if row["t_s"] >= nucleation_s else None
        if not _num(t):
            continue
        if not warmed:
            warmed = t > limit
        elif t <= limit:
            return (row["t_s"] - nucleation_s) / 60.0
    return 0.0 if not warmed else None  # no warm-back: no plateau; else never left it


def compute(rows, summary, wall_s=None):
    """Metrics dict for one run; `summary` is the run's summary JSON (or the baseline's)."""
    errs = chamber_errors(rows)
    rate_errs = sample_rate_errors(rows)
    last = rows[-1] if rows else {}
    return {
        "chamber_rms_c": math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else None,
        "chamber_max_abs_c": max(abs(e) for e in errs) if errs else None,
        "sample_rate_error_c_per_min": sum(rate_errs) / len(rate_errs) if rate_errs else None,
        "plateau_min": plateau_min(rows, summary.get("nucleation_s"), summary.get("tm_c")),
        "ln2_kg": summary.get("ln2_kg", last.get("ln2_kg")),
        "valve_cycles": summary.get("valve_cycles", last.get("valve_cycles")),
        "sim_wall_s": wall_s if wall_s is not None else summary.get("wall_s"),
        "heap_peak_bytes": summary.get("heap_peak_bytes"),
    }
