# A profile's nominal duration (for the run log's space check and the
# remaining time), kept apart from the validator so a run start need not
# load it (crf/profile/checked.py).
MIN_RATE_C_PER_MIN = 0.01   # slower "ramps" are holds in disguise
_STEP_CAP_S = 1e12          # keeps nonsense values from overflowing


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _val(d, key, lo=None):
    # A usable number from a step, or None (for the tolerant estimate).
    v = d.get(key)
    if not _is_num(v) or v - v != 0 or abs(v) > _STEP_CAP_S or (lo is not None and v < lo):
        return None
    return v


def estimate_duration_s(profile, start_c=4.0):
    """Nominal run time in seconds: ramps at their rate, holds and jumps at
    duration_s (jumps until nucleation at timeout_s), waits at timeout_s,
    holds until the operator count 0. A compensation excursion is not
    included. Tolerates invalid profiles (unusable values count 0)."""
    steps = profile.get("steps") if isinstance(profile, dict) else None
    if not isinstance(steps, list):
        return 0
    total = 0.0
    sp = start_c
    for step in steps:
        if not isinstance(step, dict):
            continue
        kind = step.get("kind")
        s = None
        if kind == "ramp":
            rate = _val(step, "rate_c_per_min", MIN_RATE_C_PER_MIN)
            target = _val(step, "target_c")
            if rate is not None and target is not None:
                s = abs(target - sp) * 60 / rate
        elif kind == "hold" or kind == "jump":
            s = _val(step, "duration_s", 0)
            if s is None and kind == "jump" and step.get("until") == "nucleation":
                s = _val(step, "timeout_s", 0)
        elif kind == "wait":
            s = _val(step, "timeout_s", 0)
        if s is not None:
            total += min(s, _STEP_CAP_S)
        target = _val(step, "target_c")
        if target is not None:
            sp = target
    return int(total + 0.5)
