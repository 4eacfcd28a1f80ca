# Acceptance limits of a profile: what the batch report judges a finished run
# against (host_tools/crf_host/report.py; docs/profiles.md, "Acceptance
# limits"). The firmware does not use them at run time; they travel with the
# profile text in the run record's header. validate() calls check() for a
# profile that has an "acceptance" object; this module is apart so that the
# device compiles and keeps it only when such a profile is validated.
from crf.profile import validate as v

FIELDS = ("max_chamber_dev_c", "sample_rate_c_per_min", "nucleation_c", "end_sample_max_c")
RATE_BAND_C = (-40, -10)   # the sample's mean cooling rate is taken through this band
_DEV_MIN = 0.01
_DEV_MAX = 20
_NUC_MIN = -80


def check(c, acc, steps, end_sp):
    """Problems and warnings about a profile's acceptance object into c (validate's _Check)."""
    if not isinstance(acc, dict):
        c.bad(None, "acceptance", "must be a JSON object, got %s" % v._jtype(acc))
        return
    c.unknown(None, acc, FIELDS, "acceptance.", "acceptance")
    if not acc:
        c.warn(None, "acceptance declares no limits: every run's report will ask for review")
    c.span(None, acc, "max_chamber_dev_c", "acceptance.max_chamber_dev_c",
           _DEV_MIN, _DEV_MAX, "°C", False)
    band = _band(c, acc, "sample_rate_c_per_min", v.MIN_RATE_C_PER_MIN,
                 c.lim["max_rate_c_per_min"], "°C/min")
    if band is not None:
        lo, hi = RATE_BAND_C
        for i, rate, start, target in sample_ramps(steps):
            if target < hi and start > lo and (rate < band[0] or rate > band[1]):
                c.warn(i, "the sample is programmed to cool at %s °C/min, outside the accepted "
                       "%s..%s °C/min of acceptance.sample_rate_c_per_min"
                       % (v._fmt(rate), v._fmt(band[0]), v._fmt(band[1])))
    if _band(c, acc, "nucleation_c", _NUC_MIN, 0, "°C") is not None:
        seen = False
        for step in steps:
            if isinstance(step, dict) and ("compensate" in step or step.get("until") == "nucleation"):
                seen = True
        if not seen:
            c.bad(None, "acceptance.nucleation_c", "the profile never detects nucleation "
                  '(no ramp with compensate, no jump until "nucleation")')
    end = c.span(None, acc, "end_sample_max_c", "acceptance.end_sample_max_c",
                 c.lim["min_c"], 0, "°C", False)
    if end is not None and end_sp is not None:
        # The product settles toward the end setpoint, never past it.
        if end <= end_sp:
            c.bad(None, "acceptance.end_sample_max_c", "%s cannot be met with the end "
                  "setpoint at %s °C" % (v._fmt(end), v._fmt(end_sp)))
        elif end - end_sp < v._WAIT_MARGIN_C:
            c.warn(None, "acceptance.end_sample_max_c %s °C is within %s °C of the end setpoint "
                   "(%s °C): the product approaches it slowly"
                   % (v._fmt(end), v._fmt(v._WAIT_MARGIN_C), v._fmt(end_sp)))


def _band(c, acc, key, lo, hi, unit):
    # [low, high] with lo <= low < high <= hi, or None (problem noted).
    if key not in acc:
        return None
    field = "acceptance." + key
    pair = acc[key]
    if not isinstance(pair, list) or len(pair) != 2:
        c.bad(None, field, "must be a list [low, high] in %s, got %s" % (unit, v._jtype(pair)))
        return None
    a = c.span(None, {"x": pair[0]}, "x", field + "[0]", lo, hi, unit, True)
    b = c.span(None, {"x": pair[1]}, "x", field + "[1]", lo, hi, unit, True)
    if a is None or b is None:
        return None
    if a >= b:
        c.bad(None, field, "low %s must be below high %s" % (v._fmt(a), v._fmt(b)))
        return None
    return a, b


def sample_ramps(steps):
    # (index, rate, start, target) of each sample-probe cooling ramp with a known start.
    out = []
    sp = None
    for i in range(len(steps)):
        step = steps[i]
        if not isinstance(step, dict):
            sp = None
            continue
        target = v._val(step, "target_c")
        if step.get("kind") == "ramp" and step.get("probe") == "sample":
            rate = v._val(step, "rate_c_per_min", v.MIN_RATE_C_PER_MIN)
            if rate is not None and sp is not None and target is not None and target < sp:
                out.append((i, rate, sp, target))
        if target is not None:
            sp = target
    return out
