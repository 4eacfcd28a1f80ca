# Profile format and validator, shared by the firmware and the host tools.
# A profile is checked completely before it may run: every problem is
# collected so the operator (or the host) can fix them in one pass.
# The format is described in docs/profiles.md.
import json
from crf.profile.rules import PROBE_DEFAULT, COMP_DETECT_RISE_C, COMP_MAX_S  # noqa: F401 (re-exported)
from crf.profile.duration import (MIN_RATE_C_PER_MIN, _STEP_CAP_S, _is_num, _val,  # noqa: F401
                                  estimate_duration_s)

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

FORMAT = const(1)

# Limits a profile must stay within (a caller may override any of them).
# The ln2_* pairs describe how fast the LN2 supply can cool the chamber:
# linear between the two points, flat outside them (see docs/profiles.md).
DEFAULT_LIMITS = {
    "min_c": -180,                      # coldest setpoint or threshold
    "max_c": 50,                        # warmest setpoint or threshold
    "max_rate_c_per_min": 50,           # fastest programmed ramp
    "max_steps": 32,
    "max_step_s": 86400,                # longest duration_s / timeout_s
    "max_total_s": 24 * 3600,           # longest estimated run
    "ln2_warm_c": 15,                   # chamber cooling capability: at +15 C ...
    "ln2_warm_rate_c_per_min": 15,      # ... about 15 C/min
    "ln2_cold_c": -150,                 # ... falling to
    "ln2_cold_rate_c_per_min": 9,       # ... about 9 C/min at -150 C
    "sample_rate_warn_c_per_min": 5,    # sample lags the chamber beyond this
    "end_warn_above_c": -80,            # products normally end at -90 or colder
}

KINDS = ("hold", "ramp", "wait", "jump", "end")
PROBES = ("chamber", "sample")

# Heat-of-fusion compensation ranges (format constants); the defaults the
# engine applies (and PROBE_DEFAULT) are in rules.py.
_COMP_RISE_MIN = 0.1
_COMP_RISE_MAX = 3
_COMP_CHAMBER_MIN = -100
_COMP_CHAMBER_MAX = -20
_COMP_S_MIN = const(30)
_COMP_S_MAX = const(1800)

_NAME_MAX = const(24)
_DESC_MAX = const(80)
_NOTE_MAX = const(40)
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
_SAME_C = 0.005             # setpoints closer than this are the same
_WAIT_MARGIN_C = 2          # a probe settles slowly onto its setpoint

_TOP_FIELDS = ("format", "name", "description", "steps", "acceptance")
_FIELDS = {
    "hold": ("kind", "target_c", "duration_s", "until", "probe", "note"),
    "ramp": ("kind", "rate_c_per_min", "target_c", "probe", "compensate", "note"),
    "wait": ("kind", "probe", "below_c", "above_c", "timeout_s", "target_c", "note"),
    "jump": ("kind", "target_c", "duration_s", "until", "timeout_s", "note"),
    "end": ("kind", "target_c", "note"),
}
_COMP_FIELDS = ("detect_rise_c", "chamber_c", "max_s")


class ProfileError(ValueError):
    """A profile that must not run. problems: list of (step_index or None,
    field, reason), step_index counted from 0; str() numbers steps from 1."""

    def __init__(self, problems, kinds=None):
        self.problems = problems
        self.kinds = kinds or []
        super().__init__("\n".join(self.lines()))

    def lines(self):
        out = []
        for i, field, reason in self.problems:
            out.append(_label(i, self.kinds) + field + ": " + reason)
        return out

    def __str__(self):
        return "\n".join(self.lines())


def _label(i, kinds):
    if i is None:
        return ""
    kind = kinds[i] if i < len(kinds) else None
    if kind:
        return "step %d (%s): " % (i + 1, kind)
    return "step %d: " % (i + 1)


def _fmt(v):
    # Same text on MicroPython and CPython, whatever the float width.
    if isinstance(v, int):
        return "%d" % v
    if abs(v) >= 1e7:
        return "%.3g" % v
    s = "%.2f" % v
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, str):
        return "text"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, (int, float)):
        return _fmt(v)
    return "a " + type(v).__name__


def _printable(s):
    for ch in s:
        if ch < " " or ch > "~":
            return False
    return True


def _limits(limits):
    if not limits:
        return DEFAULT_LIMITS
    lim = dict(DEFAULT_LIMITS)
    lim.update(limits)
    return lim


def max_cooling_rate(t_c, limits=None):
    """Fastest chamber cooling (C/min) the LN2 supply is expected to give at t_c."""
    lim = _limits(limits)
    t1 = lim["ln2_warm_c"]
    r1 = lim["ln2_warm_rate_c_per_min"]
    t2 = lim["ln2_cold_c"]
    r2 = lim["ln2_cold_rate_c_per_min"]
    if t_c >= t1:
        return r1
    if t_c <= t2:
        return r2
    return r2 + (r1 - r2) * (t_c - t2) / (t1 - t2)


def loads(text):
    """Parse profile JSON; bad JSON raises ProfileError (it is not validated here)."""
    try:
        return json.loads(text)
    except (ValueError, RuntimeError) as e:   # RuntimeError: nested too deep
        raise ProfileError([(None, "json", "not valid JSON (%s)" % e)])


class _Check:
    def __init__(self, lim):
        self.lim = lim
        self.problems = []
        self.warnings = []
        self.kinds = []

    def bad(self, i, field, reason):
        self.problems.append((i, field, reason))

    def warn(self, i, text):
        self.warnings.append(_label(i, self.kinds) + text)

    def unknown(self, i, d, allowed, prefix, what):
        extra = [str(k) for k in d if k not in allowed]
        for k in sorted(extra):
            if not _printable(k):           # one problem, one line: no raw control characters
                k = "".join(ch if " " <= ch <= "~" else "?" for ch in k)
            self.bad(i, prefix + k, "unknown field (%s takes: %s)"
                     % (what, ", ".join(allowed)))

    def num(self, i, d, key, field, required, unit):
        # Present, a finite number: the value; otherwise None (problem noted).
        if key not in d:
            if required:
                self.bad(i, field, "missing")
            return None
        v = d[key]
        if not _is_num(v):
            self.bad(i, field, "must be a number in %s, got %s" % (unit, _jtype(v)))
            return None
        if v - v != 0:
            self.bad(i, field, "must be a finite number")
            return None
        return v

    def temp(self, i, d, key, field, required):
        v = self.num(i, d, key, field, required, "°C")
        if v is None:
            return None
        if v < self.lim["min_c"]:
            self.bad(i, field, "%s is below the %s °C limit" % (_fmt(v), _fmt(self.lim["min_c"])))
        elif v > self.lim["max_c"]:
            self.bad(i, field, "%s is above the %s °C limit" % (_fmt(v), _fmt(self.lim["max_c"])))
        else:
            return v
        return None

    def span(self, i, d, key, field, lo, hi, unit, required):
        v = self.num(i, d, key, field, required, unit)
        if v is None:
            return None
        if v < lo or v > hi:
            self.bad(i, field, "%s is outside %s..%s %s" % (_fmt(v), _fmt(lo), _fmt(hi), unit))
            return None
        return v

    def secs(self, i, d, key, field, lo, hi, required):
        if key not in d:
            if required:
                self.bad(i, field, "missing")
            return None
        v = d[key]
        if not isinstance(v, int) or isinstance(v, bool):
            self.bad(i, field, "must be a whole number of seconds, got %s" % _jtype(v))
            return None
        if v < lo or v > hi:
            self.bad(i, field, "%s is outside %d..%d s" % (_fmt(v), lo, hi))
            return None
        return v

    def text(self, i, d, key, maxlen, required):
        if key not in d:
            if required:
                self.bad(i, key, "missing")
            return None
        v = d[key]
        if not isinstance(v, str):
            self.bad(i, key, "must be text, got %s" % _jtype(v))
        elif len(v) > maxlen:
            self.bad(i, key, "%d characters, at most %d allowed" % (len(v), maxlen))
        elif not _printable(v):
            self.bad(i, key, "only printable ASCII characters (the display shows no others)")
        else:
            return v
        return None

    def probe(self, i, step, default):
        p = step.get("probe", default)
        if p not in PROBES:
            self.bad(i, "probe", 'must be "chamber" or "sample", got %s' % _show(p))
            return None
        return p

    def one_of(self, i, step, a, b, hint):
        # Exactly one of two fields; returns the one given (or None).
        if a in step and b in step:
            self.bad(i, a, "give either %s or %s, not both" % (a, b))
            return None
        if a in step:
            return a
        if b in step:
            return b
        self.bad(i, a, "missing: give " + hint)
        return None


def _show(v):
    if isinstance(v, str):
        return '"%s"' % (v if len(v) <= 24 else v[:21] + "...")
    return _jtype(v)


def validate(profile, limits=None):
    """Check a parsed profile. Returns a list of warnings (it may run);
    raises ProfileError listing every problem (it must not run)."""
    lim = _limits(limits)
    c = _Check(lim)
    end_sp = None
    if not isinstance(profile, dict):
        raise ProfileError([(None, "profile", "must be a JSON object, got %s" % _jtype(profile))])
    c.unknown(None, profile, _TOP_FIELDS, "", "a profile")
    _check_header(c, profile)
    steps = profile.get("steps")
    if "steps" not in profile:
        c.bad(None, "steps", "missing")
    elif not isinstance(steps, list):
        c.bad(None, "steps", "must be a list of steps, got %s" % _jtype(steps))
    elif not steps:
        c.bad(None, "steps", "at least one step is needed")
    else:
        if len(steps) > lim["max_steps"]:
            c.bad(None, "steps", "%d steps exceed the %d-step limit" % (len(steps), lim["max_steps"]))
        end_sp = _check_steps(c, steps)
        total = estimate_duration_s(profile)
        if total > lim["max_total_s"]:
            c.bad(None, "steps", "estimated duration %s exceeds the %s limit"
                  % (_hours(total), _hours(lim["max_total_s"])))
    if "acceptance" in profile:
        # Checked by its own module, loaded only for profiles that have limits:
        # the run itself never needs it (see crf/profile/acceptance.py).
        from crf.profile import acceptance
        acceptance.check(c, profile["acceptance"], steps if isinstance(steps, list) else [], end_sp)
    if c.problems:
        raise ProfileError(c.problems, c.kinds)
    return c.warnings


def _hours(s):
    return "%.1f h" % (s / 3600)


def _check_header(c, profile):
    if "format" not in profile:
        c.bad(None, "format", "missing (this firmware reads format %d)" % FORMAT)
    else:
        f = profile["format"]
        if not _is_num(f) or f != FORMAT:
            c.bad(None, "format", "%s is not supported (this firmware reads format %d)"
                  % (_show(f), FORMAT))
    name = c.text(None, profile, "name", _NAME_MAX, True)
    if name is not None:
        if not name:
            c.bad(None, "name", "must not be empty")
        for ch in name:
            if ch not in _NAME_CHARS:
                c.bad(None, "name", '"%s" may use only a-z, 0-9, _ and -' % name)
                break
    c.text(None, profile, "description", _DESC_MAX, True)


def _check_steps(c, steps):
    n = len(steps)
    # Setpoint left by the steps so far: `have` once one is established,
    # `sp` its value or None when unknown (a first ramp, a broken step).
    have = False
    sp = None
    for i in range(n):
        step = steps[i]
        kind = step.get("kind") if isinstance(step, dict) else None
        c.kinds.append(kind if kind in KINDS else None)
        if not isinstance(step, dict):
            c.bad(i, "step", "must be a JSON object, got %s" % _jtype(step))
            have, sp = True, None
            continue
        if "kind" not in step:
            c.bad(i, "kind", "missing (one of %s)" % ", ".join(KINDS))
            have, sp = True, None
            continue
        if kind not in KINDS:
            c.bad(i, "kind", "%s is not a step kind (one of %s)" % (_show(kind), ", ".join(KINDS)))
            have, sp = True, None
            continue
        c.unknown(i, step, _FIELDS[kind], "", "a %s step" % kind)
        c.text(i, step, "note", _NOTE_MAX, False)
        if kind == "hold":
            sp = _hold(c, i, step, have, sp)
        elif kind == "ramp":
            sp = _ramp(c, i, step, have, sp)
        elif kind == "wait":
            sp = _wait(c, i, step, have, sp)
        elif kind == "jump":
            sp = _jump(c, i, step, have, sp)
        else:
            if i != n - 1:
                c.bad(i, "kind", "end must be the last step")
            sp = _target(c, i, step, have, sp)
        have = True
    last = c.kinds[n - 1]
    if last and last != "end":
        c.bad(n - 1, "kind", 'the last step must be "end", not "%s"' % last)
    if sp is not None and sp > c.lim["end_warn_above_c"]:
        c.warn(n - 1, "the profile ends at %s °C, above %s °C: products are normally "
               "frozen to -90 °C or colder before transfer"
               % (_fmt(sp), _fmt(c.lim["end_warn_above_c"])))
    return sp


def _target(c, i, step, have, sp):
    # Optional target_c defaulting to the previous setpoint; the first
    # step has no previous setpoint, so it must give one.
    if not have and "target_c" not in step:
        c.bad(i, "target_c", "missing: the first step must set a temperature")
        return None
    if "target_c" in step:
        return c.temp(i, step, "target_c", "target_c", True)
    return sp


def _hold(c, i, step, have, sp):
    c.probe(i, step, PROBE_DEFAULT["hold"])
    which = c.one_of(i, step, "duration_s", "until", '"duration_s" or "until": "operator"')
    if which == "duration_s":
        c.secs(i, step, "duration_s", "duration_s", 1, c.lim["max_step_s"], True)
    elif which == "until" and step["until"] != "operator":
        c.bad(i, "until", 'a hold waits only "until": "operator", got %s' % _show(step["until"]))
    return _target(c, i, step, have, sp)


def _ramp(c, i, step, have, sp):
    lim = c.lim
    rate = c.num(i, step, "rate_c_per_min", "rate_c_per_min", True, "°C/min")
    if rate is not None:
        if rate <= 0:
            c.bad(i, "rate_c_per_min", "%s must be above 0 (a magnitude: target_c sets the direction)"
                  % _fmt(rate))
            rate = None
        elif rate < MIN_RATE_C_PER_MIN:
            c.bad(i, "rate_c_per_min", "%s is below the %s °C/min minimum"
                  % (_fmt(rate), _fmt(MIN_RATE_C_PER_MIN)))
            rate = None
        elif rate > lim["max_rate_c_per_min"]:
            c.bad(i, "rate_c_per_min", "%s exceeds the %s °C/min limit"
                  % (_fmt(rate), _fmt(lim["max_rate_c_per_min"])))
            rate = None
    target = c.temp(i, step, "target_c", "target_c", True)
    probe = c.probe(i, step, PROBE_DEFAULT["ramp"])
    start = sp if have else None   # a first ramp starts from the chamber as found
    if target is not None and start is not None and abs(target - start) < _SAME_C:
        c.bad(i, "target_c", "%s equals the previous setpoint: the ramp goes nowhere (use a hold)"
              % _fmt(target))
    cooling = target is not None and start is not None and target < start
    if "compensate" in step:
        _compensate(c, i, step["compensate"], probe, have, start, target)
    if rate is not None and target is not None:
        if cooling:
            cap = max_cooling_rate(target, lim)
            if rate > cap:
                c.warn(i, "cooling at %s °C/min to %s °C is faster than the LN2 supply can cool "
                       "the chamber there (about %s °C/min): the run will lag the profile"
                       % (_fmt(rate), _fmt(target), _fmt(cap)))
        if probe == "sample" and rate > lim["sample_rate_warn_c_per_min"]:
            c.warn(i, "%s °C/min on the sample probe: above %s °C/min the sample lags the "
                   "chamber and the rate will not be held"
                   % (_fmt(rate), _fmt(lim["sample_rate_warn_c_per_min"])))
    return target


def _compensate(c, i, comp, probe, have, start, target):
    if not isinstance(comp, dict):
        c.bad(i, "compensate", "must be a JSON object, got %s" % _jtype(comp))
        return
    c.unknown(i, comp, _COMP_FIELDS, "compensate.", "compensate")
    c.span(i, comp, "detect_rise_c", "compensate.detect_rise_c",
           _COMP_RISE_MIN, _COMP_RISE_MAX, "°C", False)
    chamber = c.span(i, comp, "chamber_c", "compensate.chamber_c",
                     _COMP_CHAMBER_MIN, _COMP_CHAMBER_MAX, "°C", True)
    if "max_s" in comp:
        c.secs(i, comp, "max_s", "compensate.max_s", _COMP_S_MIN, _COMP_S_MAX, True)
    if probe == "chamber":
        c.bad(i, "compensate", "only on a sample-probe ramp (nucleation is detected "
              "from the sample trace)")
    if start is None:
        if not have:
            c.bad(i, "compensate", "needs a known start: put a step with target_c before this ramp")
        return
    if target is not None and target > start:
        c.bad(i, "compensate", "only on a cooling ramp (the sample nucleates while cooling)")
    if chamber is not None and chamber >= start:
        c.bad(i, "compensate.chamber_c", "%s must be below the previous setpoint (%s °C)"
              % (_fmt(chamber), _fmt(start)))


def _wait(c, i, step, have, sp):
    c.probe(i, step, PROBE_DEFAULT["wait"])
    which = c.one_of(i, step, "below_c", "above_c", '"below_c" or "above_c"')
    thr = c.temp(i, step, which, which, True) if which else None
    c.secs(i, step, "timeout_s", "timeout_s", 1, c.lim["max_step_s"], True)
    sp = _target(c, i, step, have, sp)
    if thr is not None and sp is not None:
        # The probe settles toward the chamber setpoint, never past it.
        gap = thr - sp if which == "below_c" else sp - thr
        if gap <= 0:
            c.bad(i, which, "%s cannot be reached with the chamber setpoint at %s °C"
                  % (_fmt(thr), _fmt(sp)))
        elif gap < _WAIT_MARGIN_C:
            c.warn(i, "%s %s °C is within %s °C of the chamber setpoint (%s °C): the probe "
                   "approaches it slowly and the wait may time out"
                   % (which, _fmt(thr), _fmt(_WAIT_MARGIN_C), _fmt(sp)))
    return sp


def _jump(c, i, step, have, sp):
    target = c.temp(i, step, "target_c", "target_c", True)
    which = c.one_of(i, step, "duration_s", "until", '"duration_s" or "until": "nucleation"')
    if which == "duration_s":
        c.secs(i, step, "duration_s", "duration_s", 1, c.lim["max_step_s"], True)
        if "timeout_s" in step:
            c.bad(i, "timeout_s", 'only with "until": "nucleation"')
    elif which == "until":
        if step["until"] != "nucleation":
            c.bad(i, "until", 'a jump waits only "until": "nucleation", got %s' % _show(step["until"]))
        c.secs(i, step, "timeout_s", "timeout_s", 1, c.lim["max_step_s"], True)
        if target is not None:
            if target >= 0:
                c.bad(i, "target_c", "%s is too warm for the sample to nucleate" % _fmt(target))
            elif target > -10:
                c.warn(i, "jump to %s °C: samples in 10%% DMSO usually nucleate only 5-10 °C "
                       "below about -4 °C, the wait may time out" % _fmt(target))
    return target
