"""Batch report for one run record: a PDF a QA reviewer can file, the PNG
freeze curve, and a verdict (PASS or REVIEW, with the reasons).

    pdf, png, verdict = make_report("000017.run")

Everything in the report comes from the record itself, read and verified
with crf_host.records.read_run: the header (device, profile text and hash,
batch, operator, start time), the samples and the events. The acceptance
limits are the ones the profile declared (its "acceptance" object, carried in
the header's profile text), so a run is judged by the limits in force when it
ran, not by whatever the profile file says today.

Figures (the report prints these definitions too, see DEFINITIONS):

- Chamber deviation: chamber probe minus chamber setpoint, over the samples
  of hold, ramp, wait and end steps while the run is running, held or at its
  end. Left out: jump steps (the setpoint jumps on purpose), samples with
  heat-of-fusion compensation active (the chamber is driven far below the
  ramp on purpose), the first SETTLE_S after every step change and after a
  compensation excursion ends (the chamber is catching up with a setpoint
  that moved at once), and readings flagged as probe faults. The limit is on
  the largest absolute value.
- Sample cooling rate through -10..-40 C (metrics.RATE_BAND_C, the band the
  controller benchmark uses): minus the slope of a least-squares line through
  the sample readings inside the band during the sample's last pass down
  through it, i.e. after nucleation and after the last reading warmer than
  -10 C (the nucleation warm-back), up to the first reading colder than
  -40 C. A positive number in C/min (cooling speed). Judged only when the
  sample crossed the whole band.
- Nucleation: the first "nucleation" event: its run time and the sample
  temperature the controller recorded when it detected the exotherm (the
  filtered reading, about detect_rise_c above the lowest point). The lowest
  sample reading before it is shown beside it.
- End temperature: the last valid sample reading in the record, i.e. the
  product when the run was stopped and the product taken out.

Verdict: PASS only if nothing below applies; otherwise REVIEW with each
reason. The record does not verify (any problem: damage, tampering, not
sealed, profile text not matching its hash); the run was not completed (seal
status stopped, interrupted, storage failed); the header or profile cannot be
read or the profile does not validate; the profile declares no acceptance
limits; a declared limit is exceeded, or cannot be assessed from the record;
alarms, operator holds, door openings, power cuts, timeouts, configuration,
calibration or clock changes, log tears or reduced logging during the run;
probe faults or an active alarm flag in the samples.
"""

import functools
import hashlib
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from crf_host import __version__, metrics
from crf_host.records import NOT_SEALED, _iso, read_run, where
from crf.profile import acceptance as pa
from crf.profile import validate as pv

PASS = "PASS"
REVIEW = "REVIEW"

# The chamber catches up with a setpoint that moved at once for this long.
SETTLE_S = 120.0
# Same band as the benchmark's sample-rate metric (docs/benchmark.md) and the
# profile validator's rate-band check (crf/profile/acceptance.py).
RATE_BAND_C = metrics.RATE_BAND_C
RATE_MIN_POINTS = 5          # a rate from fewer readings is not a rate
NUC_MIN_LOOKBACK_S = 600.0   # "lowest reading before nucleation" looks this far back

# Events that need a person to look at the run, and why.
REVIEW_EVENTS = {
    "alarm_raised": "alarm raised",
    "hold": "run held",
    "door_open": "chamber door opened",
    "power_restored": "power cut during the run",
    "timeout": "step timed out",
    "config_change": "configuration changed during the run",
    "calibration_change": "calibration changed during the run",
    "clock_set": "clock set during the run (timestamps before and after differ)",
    "log_tear": "torn record tail cut back (records lost at a power cut)",
    "log_space": "logging reduced for lack of flash (samples sparser or stopped)",
}
ALARM_EVENTS = ("alarm_raised", "alarm_cleared", "alarm_acked")
SEAL_WHY = {
    "stopped": "the run was stopped before its end step",
    "interrupted": "the run was interrupted (power cut or restart) and closed at the next start",
    "storage_failed": "the record could not be written to the end (storage failed)",
}

DEFINITIONS = (
    "Chamber deviation: chamber probe minus chamber setpoint over hold, ramp, wait and end steps "
    "while running, held or at the end; excluded: jump steps, samples with heat-of-fusion "
    "compensation active, the first %d s after each step change and after compensation ends, "
    "probe-fault readings. Largest absolute value." % SETTLE_S,
    "Sample cooling rate: least-squares slope of the sample readings inside %g..%g °C during "
    "the sample's last pass down through the band (after nucleation and after the last reading "
    "warmer than %g °C), as a positive cooling speed; judged only if the whole band was crossed."
    % (RATE_BAND_C[1], RATE_BAND_C[0], RATE_BAND_C[1]),
    "Nucleation: the controller's 'nucleation' event: run time and the filtered sample reading "
    "at detection of the exotherm (just above the lowest point, shown beside it).",
    "End temperature: the last valid sample reading in the record (product at stop / removal).",
)

RED = "#c62828"
A4_PORTRAIT = (8.27, 11.69)
A4_LANDSCAPE = (11.69, 8.27)


@dataclass(frozen=True)
class Verdict:
    """result: PASS or REVIEW; reasons: why REVIEW (empty for PASS);
    seal_digest: the seal's final chain value (hex) for QA to pin, or None."""
    result: str
    reasons: tuple = ()
    seal_digest: str = None
    checks: tuple = field(default=(), compare=False, repr=False)   # (name, value, limit, outcome)

    @property
    def passed(self):
        return self.result == PASS

    def __str__(self):
        if self.passed:
            return PASS
        return "%s:\n%s" % (REVIEW, "\n".join("- " + r for r in self.reasons))


# ------------------------------------------------------------------ helpers

def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def hms(seconds):
    """Run time as h:mm:ss."""
    if not _num(seconds):
        return "?"
    s = int(round(seconds))
    return "%d:%02d:%02d" % (s // 3600, s % 3600 // 60, s % 60)


def _c(v, digits=1):
    return "—" if v is None else "%.*f °C" % (digits, v)


def _float(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fit_slope(points):
    """Least-squares slope of (t, y) points (y per second)."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    stt = sum((t - mt) ** 2 for t, _ in points)
    if stt <= 0:
        return None
    return sum((t - mt) * (y - my) for t, y in points) / stt


# ---------------------------------------------------------------- analysis

def _profile(header):
    """(profile dict or None, problems as text, acceptance fields the validator
    refused) from the header's profile text."""
    text = header.get("profile_text") if header else None
    if not isinstance(text, str):
        return None, ["the header carries no profile text"], set()
    try:
        prof = pv.loads(text)
    except pv.ProfileError as e:
        return None, ["the recorded profile text is not readable: " + str(e)], set()
    if not isinstance(prof, dict):
        return None, ["the recorded profile text is not a profile object"], set()
    try:
        pv.validate(prof)
    except pv.ProfileError as e:
        lines = e.lines()
        # A refused limit is not judged (the reason below says why).
        bad = {f.split(".", 1)[1].split("[")[0] if "." in f else "*"
               for i, f, _ in e.problems if f.startswith("acceptance")}
        return prof, ["the recorded profile does not validate: " + "; ".join(lines[:3])
                      + (" (and %d more)" % (len(lines) - 3) if len(lines) > 3 else "")], bad
    return prof, [], set()


def _kinds(profile):
    steps = profile.get("steps") if isinstance(profile, dict) else None
    if not isinstance(steps, list):
        return {}
    return {i + 1: s.get("kind") for i, s in enumerate(steps) if isinstance(s, dict)}


def chamber_deviation(samples, kinds):
    """Largest |chamber - chamber setpoint| by the report's definition:
    dict(max_abs, dev (signed), t_s, step, n, rms) or None if no sample counts."""
    settle_until = -math.inf
    prev_step, prev_comp = object(), False
    best, n, sq = None, 0, 0.0
    for s in samples:
        t = s["t_s"]
        if s["step"] != prev_step:
            settle_until = t + SETTLE_S
        if prev_comp and not s["comp"]:
            settle_until = max(settle_until, t + SETTLE_S)
        prev_step, prev_comp = s["step"], s["comp"]
        if s["comp"] or t < settle_until or s["state"] not in ("running", "held", "end"):
            continue
        if kinds.get(s["step"]) not in ("hold", "ramp", "wait", "end"):
            continue
        if s["chamber_fault"] or s["chamber_c"] is None or s["sp_chamber_c"] is None:
            continue
        d = s["chamber_c"] - s["sp_chamber_c"]
        n += 1
        sq += d * d
        if best is None or abs(d) > abs(best[0]):
            best = (d, t, s["step"])
    if best is None:
        return None
    return {"max_abs": abs(best[0]), "dev": best[0], "t_s": best[1], "step": best[2], "n": n,
            "rms": math.sqrt(sq / n)}


def sample_rate(samples, nucleation_s=None):
    """Mean sample cooling rate through RATE_BAND_C by the report's definition:
    dict(rate (C/min, positive = cooling), n, t0, t1, complete, why) or dict(why)."""
    lo, hi = RATE_BAND_C
    readings = [(s["t_s"], s["sample_c"]) for s in samples
                if s["sample_c"] is not None and not s["sample_fault"]]
    if not readings:
        return {"why": "no valid sample readings", "complete": False}
    # The last pass starts after nucleation and after the last reading warmer than the band.
    start = 0
    for k, (t, v) in enumerate(readings):
        if v > hi or (nucleation_s is not None and t <= nucleation_s):
            start = k + 1
    if start == 0:
        return {"why": "the record begins with the sample already below %g °C" % hi, "complete": False}
    pts, complete = [], False
    for t, v in readings[start:]:
        if v < lo:
            complete = True
            break
        pts.append((t, v))
    if len(pts) < RATE_MIN_POINTS:
        return {"why": "%d sample reading%s inside %g..%g °C after nucleation (at least %d needed)"
                % (len(pts), "" if len(pts) == 1 else "s", hi, lo, RATE_MIN_POINTS), "complete": False}
    slope = _fit_slope(pts)
    if slope is None:
        return {"why": "the sample readings inside the band do not span any time", "complete": False}
    return {"rate": -slope * 60.0, "n": len(pts), "t0": pts[0][0], "t1": pts[-1][0],
            "complete": complete,
            "why": None if complete else "the sample did not reach %g °C: partial band" % lo}


def nucleation(run):
    ev = [e for e in run.events if e["event"] == "nucleation"]
    if not ev:
        return None
    e = ev[0]
    t = e["t_s"]
    before = [s["sample_c"] for s in run.samples if t - NUC_MIN_LOOKBACK_S <= s["t_s"] <= t
              and s["sample_c"] is not None and not s["sample_fault"]]
    c = _float(e["detail"])
    if c is None:   # not a number in the event: the nearest sample reading stands in
        near = [s for s in run.samples if s["sample_c"] is not None and s["t_s"] <= t]
        c = near[-1]["sample_c"] if near else None
    return {"t_s": t, "c": c, "rtc": e["rtc"], "min_before_c": min(before) if before else None,
            "count": len(ev)}


def _programmed_sample_rates(profile):
    steps = profile.get("steps") if isinstance(profile, dict) else None
    lo, hi = RATE_BAND_C
    return [rate for _, rate, start, target in pa.sample_ramps(steps if isinstance(steps, list) else [])
            if target < hi and start > lo]


def _fault_spans(samples, key):
    ts = [s["t_s"] for s in samples if s[key]]
    return (len(ts), ts[0], ts[-1]) if ts else None


def analyse(run):
    """Figures, checks and verdict for a RunRecord (crf_host.records) -> dict."""
    h = run.header or {}
    reasons = []
    a = {"run": run, "header": h, "reasons": reasons}

    # -- the record itself
    if not run.verified:
        probs = run.problems
        only_unsealed = len(probs) == 1 and probs[0]["text"] == NOT_SEALED
        if only_unsealed:
            reasons.append("record not sealed: " + NOT_SEALED)
        elif len(probs) <= 3:
            reasons.extend("record does not verify: " + where(p) for p in probs)
        else:
            reasons.append("record does not verify: %d problems, the first %s (all listed "
                           "after the event list)" % (len(probs), where(probs[0])))
    if run.seal and run.seal["status"] != "completed":
        reasons.append("seal status '%s': %s" % (run.seal["status"],
                                                SEAL_WHY.get(run.seal["status"], "not completed")))
    text = h.get("profile_text")
    a["sha_ok"] = (isinstance(text, str) and isinstance(h.get("profile_sha256"), str)
                   and hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
                   == h["profile_sha256"].lower())
    refused = set()
    if not run.header:
        reasons.append("no readable header: the run, its device and its profile cannot be identified")
        profile, perr = None, []
    else:
        profile, perr, refused = _profile(h)
        reasons.extend(perr)
        if isinstance(profile, dict) and profile.get("name") != h.get("profile_name"):
            reasons.append("the header names profile %r but the recorded profile text is %r"
                           % (h.get("profile_name"), profile.get("name")))
    a["profile"] = profile
    kinds = _kinds(profile)
    a["kinds"] = kinds

    # -- times
    samples = run.samples
    last_t = max([s["t_s"] for s in samples] + [e["t_s"] for e in run.events] + [0.0])
    a["start_iso"] = _iso(h.get("start_rtc_s"))
    a["end_iso"] = run.seal["rtc"] if run.seal else None
    a["duration_s"] = run.seal["t_s"] if run.seal else last_t
    ends = [e for e in run.events if e["event"] == "end"]
    a["end_reached_s"] = ends[0]["t_s"] if ends else None

    # -- figures
    nuc = nucleation(run)
    a["nucleation"] = nuc
    a["chamber_dev"] = chamber_deviation(samples, kinds)
    a["sample_rate"] = sample_rate(samples, nuc["t_s"] if nuc else None)
    a["programmed_rates"] = _programmed_sample_rates(profile)
    valid = [s for s in samples if s["sample_c"] is not None and not s["sample_fault"]]
    a["end_sample"] = (valid[-1]["sample_c"], valid[-1]["t_s"]) if valid else None
    a["alarms"] = [e for e in run.events if e["event"] in ALARM_EVENTS]
    a["actions"] = [e for e in run.events if e["who"] != "controller"]

    # -- acceptance limits
    acc = profile.get("acceptance") if isinstance(profile, dict) else None
    a["acceptance"] = acc
    checks = []
    if profile is not None and (acc is None or acc == {}):
        reasons.append("the profile declares no acceptance limits: the run cannot be judged "
                       "against limits set in advance")
    if not isinstance(acc, dict) or "*" in refused:
        acc = {}
    acc = {k: v for k, v in acc.items() if k not in refused}

    def check(key, name, value, limit, ok, why_bad, cannot):
        if key in refused or "*" in refused:
            checks.append((name, value, "invalid in the profile", REVIEW))
        elif limit is None:
            checks.append((name, value, "not declared", "—"))
        elif cannot:
            checks.append((name, value, limit, REVIEW))
            reasons.append("%s: cannot be assessed: %s" % (name, cannot))
        elif ok:
            checks.append((name, value, limit, "pass"))
        else:
            checks.append((name, value, limit, REVIEW))
            reasons.append("%s: %s" % (name, why_bad))

    dev = a["chamber_dev"]
    lim = acc.get("max_chamber_dev_c")
    check("max_chamber_dev_c", "max chamber deviation",
          "%.2f °C at %s (step %s)" % (dev["max_abs"], hms(dev["t_s"]), dev["step"]) if dev else "—",
          "≤ %g °C" % lim if lim is not None else None,
          dev is not None and dev["max_abs"] <= lim if lim is not None else True,
          "%.2f °C at %s in step %s (chamber %s than its setpoint), above the %g °C limit"
          % (dev["max_abs"], hms(dev["t_s"]), dev["step"], "warmer" if dev["dev"] > 0 else "colder",
             lim) if dev and lim is not None else "",
          None if dev else "no chamber readings in the steps it is judged over")

    sr = a["sample_rate"]
    band = acc.get("sample_rate_c_per_min")
    rate_ok = "rate" in sr and band is not None and band[0] <= sr["rate"] <= band[1]
    check("sample_rate_c_per_min", "sample cooling rate %g..%g °C" % (RATE_BAND_C[1], RATE_BAND_C[0]),
          ("%.2f °C/min (%d readings, %s–%s)" % (sr["rate"], sr["n"], hms(sr["t0"]), hms(sr["t1"]))
           if "rate" in sr else "— (%s)" % sr["why"]),
          "%g–%g °C/min" % tuple(band) if band is not None else None,
          rate_ok,
          "%.2f °C/min, outside the accepted %g–%g °C/min" % ((sr.get("rate") or 0.0,) + tuple(band))
          if band is not None else "",
          sr["why"] if not sr.get("complete") else None)

    band = acc.get("nucleation_c")
    nc = nuc["c"] if nuc else None
    check("nucleation_c", "nucleation temperature",
          "%.2f °C at %s (lowest before it %s)" % (nc, hms(nuc["t_s"]), _c(nuc["min_before_c"], 2))
          if nc is not None else ("— (no nucleation event)" if not nuc else "— (no temperature)"),
          "%g to %g °C" % tuple(band) if band is not None else None,
          nc is not None and band is not None and band[0] <= nc <= band[1],
          ("%.2f °C, %s" % (nc, "colder than %g °C: deeper supercooling than accepted" % band[0]
                            if nc < band[0] else
                            "warmer than %g °C: not a real nucleation of the product (a false "
                            "detection fires compensation on a liquid product)" % band[1]))
          if nc is not None and band is not None else "",
          None if nc is not None else ("no nucleation was recorded: the controller never saw the "
                                       "exotherm, so compensation did not run" if not nuc
                                       else "the nucleation event has no temperature"))

    lim = acc.get("end_sample_max_c")
    es = a["end_sample"]
    check("end_sample_max_c", "end sample temperature",
          "%.2f °C at %s" % (es[0], hms(es[1])) if es else "—",
          "≤ %g °C" % lim if lim is not None else None,
          es is not None and lim is not None and es[0] <= lim,
          "%.2f °C at the last reading (%s), warmer than the %g °C the product must reach "
          "before transfer" % (es[0], hms(es[1]), lim) if es and lim is not None else "",
          None if es else "no valid sample reading")
    a["checks"] = checks

    # -- events and flags
    def said(e):
        return "at %s by %s%s" % (hms(e["t_s"]), e["who"] or "?", (": " + e["detail"]) if e["detail"] else "")

    for name, why in REVIEW_EVENTS.items():
        evs = [e for e in run.events if e["event"] == name]
        if len(evs) <= 2:
            reasons.extend("%s %s" % (why, said(e)) for e in evs)
        else:   # one line for a burst; every one of them is in the event list
            reasons.append("%s %d times, the first %s, the last at %s (all in the event list)"
                           % (why, len(evs), said(evs[0]), hms(evs[-1]["t_s"])))
    if nuc and nuc["count"] > 1:
        reasons.append("%d nucleation events recorded (one expected)" % nuc["count"])
    for key, what in (("chamber_fault", "chamber probe fault"), ("sample_fault", "sample probe fault")):
        f = _fault_spans(samples, key)
        if f:
            reasons.append("%s in %d sample%s between %s and %s"
                           % (what, f[0], "" if f[0] == 1 else "s", hms(f[1]), hms(f[2])))
    f = _fault_spans(samples, "alarm")
    if f and not any(e["event"] == "alarm_raised" for e in run.events):
        reasons.append("alarm flag active in %d samples between %s and %s with no alarm event"
                       % (f[0], hms(f[1]), hms(f[2])))
    if not samples:
        reasons.append("the record holds no samples")

    a["verdict"] = Verdict(REVIEW if reasons else PASS, tuple(reasons),
                           run.seal["digest"] if run.seal else None, tuple(checks))
    return a


# ------------------------------------------------------------- freeze curve

STEP_SHADES = ("#f2f2f2", "#ffffff")
COLORS = {"chamber": "#1f77b4", "sample": "#d62728", "sp": "#555555", "valve": "#1f77b4",
          "heater": "#ff7f0e", "nucleation": "#2ca02c", "comp": "#9467bd", "alarm": "#d62728",
          "action": "#8c564b"}


def step_spans(rows):
    """(start_min, end_min, step, label) for each contiguous step in the rows."""
    spans, start = [], 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i]["step"] != rows[start]["step"]:
            kind = rows[start].get("kind") or ""
            if kind in ("ramp", "hold") and rows[start].get("probe") == "sample":
                kind += " (sample)"
            spans.append((rows[start]["t_s"] / 60.0, rows[i - 1]["t_s"] / 60.0,
                          rows[start]["step"], kind))
            start = i
    return spans


def moving_mean(values, n):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def freeze_curve_figure(rows, title, nucleation=None, tm_c=None, plateau_min=None, marks=(),
                        figsize=(13, 8), duty_mean_s=60.0, fontsize=9, bottom_margin=0.0,
                        lines=(), points=(), xlabel="time (min)"):
    """The freeze curve (chamber, sample, setpoints; steps shaded and labelled;
    compensation spans; nucleation; event marks) over LN2 valve and heater duty.

    rows: dicts with t_s, step, kind, probe, chamber_c, sample_c, sp_chamber_c,
    sp_sample_c, valve_duty, heater_duty, comp (None where no value).
    nucleation: (t_s, temperature or None, label) or None.
    marks: (t_s, short label, colour) vertical marks (alarms, operator actions).
    lines: ((t0_s, y0), (t1_s, y1), label, colour) straight segments (a fitted rate).
    points: (t_s, y, label, marker, colour) single marked points.
    Returns the matplotlib Figure (the caller saves and closes it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t_s"] / 60.0 for r in rows]
    col = lambda name: [r.get(name) if r.get(name) is not None else float("nan") for r in rows]  # noqa: E731
    fig, (ax, ax2) = plt.subplots(2, 1, sharex=True, figsize=figsize,
                                  gridspec_kw={"height_ratios": [3, 1]})
    if not rows:
        ax.text(0.5, 0.5, "no samples in the record", transform=ax.transAxes, ha="center")
        ax.set_title(title, pad=18, parse_math=False)
        return fig
    for i, (a, b, idx, kind) in enumerate(step_spans(rows)):
        for axis in (ax, ax2):
            axis.axvspan(a, b, color=STEP_SHADES[i % 2], zorder=0)
        if b - a >= (t[-1] - t[0]) / 40.0 and idx is not None:  # label only steps wide enough
            ax.text((a + b) / 2, 1.01, "%d %s" % (int(idx), kind), transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=fontsize - 1, color="#444444")
    comp_on = None
    for r in rows + [{"t_s": rows[-1]["t_s"], "comp": 0.0}]:
        if r.get("comp") and comp_on is None:
            comp_on = r["t_s"]
        elif not r.get("comp") and comp_on is not None:
            ax.axvspan(comp_on / 60.0, r["t_s"] / 60.0, color=COLORS["comp"], alpha=0.15, zorder=0,
                       label="heat-of-fusion compensation")
            comp_on = None
    if tm_c is not None:
        ax.axhline(tm_c, color=COLORS["sample"], lw=0.7, ls=":", alpha=0.7)
        ax.text(t[0] + 0.5, tm_c + 1.0, "Tm %.1f °C" % tm_c, fontsize=fontsize - 1, color=COLORS["sample"])
    sample_sp = [r["sp_sample_c"] if r.get("probe") == "sample" and r.get("sp_sample_c") is not None
                 and not r.get("comp") else float("nan") for r in rows]
    ax.plot(t, col("chamber_c"), color=COLORS["chamber"], lw=1.3, label="chamber probe")
    ax.plot(t, col("sample_c"), color=COLORS["sample"], lw=1.6, label="sample probe")
    # Setpoints on top: with good tracking they would vanish under the probes.
    ax.plot(t, col("sp_chamber_c"), color=COLORS["sp"], lw=1.0, ls="--", label="chamber setpoint")
    ax.plot(t, sample_sp, color="#7f0000", lw=1.0, ls="--", label="sample setpoint (sample-probe steps)")
    if nucleation is not None:
        nuc_s, nuc_c, label = nucleation
        ax.axvline(nuc_s / 60.0, color=COLORS["nucleation"], lw=1.0, ls=":")
        if nuc_c is not None:
            ax.plot([nuc_s / 60.0], [nuc_c], "o", color=COLORS["nucleation"], ms=7, label=label)
    if nucleation is not None and plateau_min:
        a, b = nucleation[0] / 60.0, nucleation[0] / 60.0 + plateau_min
        y = (tm_c if tm_c is not None else 0.0) + 6.0
        ax.annotate("", xy=(a, y), xytext=(b, y), arrowprops={"arrowstyle": "<->", "color": "#333333"})
        ax.text((a + b) / 2, y + 1.0, "plateau %.1f min" % plateau_min, ha="center", fontsize=fontsize - 1)
    for (t0, y0), (t1, y1), label, colour in lines:
        ax.plot([t0 / 60.0, t1 / 60.0], [y0, y1], color=colour, lw=2.2, ls=(0, (1, 1)), label=label)
    for ts, y, label, marker, colour in points:
        ax.plot([ts / 60.0], [y], marker, color=colour, ms=9, mew=2, label=label)
    labelled = set()
    for ts, label, colour in marks:
        key = colour
        ax.axvline(ts / 60.0, color=colour, lw=1.0, ls="-.", alpha=0.8,
                   label=None if key in labelled else label)
        labelled.add(key)
        ax.plot([ts / 60.0], [0.985], marker="v", color=colour, ms=7,
                transform=ax.get_xaxis_transform())
    ax.set_ylabel("temperature (°C)", fontsize=fontsize + 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=fontsize, framealpha=0.9)
    ax.set_title(title, pad=18, fontsize=fontsize + 3, parse_math=False)

    dt = sorted(b - a for a, b in zip([r["t_s"] for r in rows], [r["t_s"] for r in rows[1:]]))
    n = max(1, int(round(duty_mean_s / dt[len(dt) // 2]))) if dt and dt[len(dt) // 2] > 0 else 1
    ax2.plot(t, moving_mean(col("valve_duty"), n), color=COLORS["valve"], lw=1.2,
             label="LN2 valve duty (%g s mean)" % duty_mean_s)
    ax2.plot(t, moving_mean(col("heater_duty"), n), color=COLORS["heater"], lw=1.2,
             label="heater duty (%g s mean)" % duty_mean_s)
    ax2.set_ylim(-0.03, 1.03)
    ax2.set_ylabel("duty", fontsize=fontsize + 1)
    ax2.set_xlabel(xlabel, fontsize=fontsize + 1)
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper right", fontsize=fontsize, framealpha=0.9)
    ax2.set_xlim(t[0], t[-1] if t[-1] > t[0] else t[0] + 1)
    for axis in (ax, ax2):
        axis.tick_params(labelsize=fontsize + 1)
    if bottom_margin:
        fig.tight_layout(rect=(0, bottom_margin, 1, 1))
    else:
        fig.tight_layout()
    return fig


def record_rows(run, kinds):
    """RunRecord samples -> rows for freeze_curve_figure (NaN gaps at probe faults)."""
    rows = []
    for s in run.samples:
        rows.append({"t_s": s["t_s"], "step": s["step"], "kind": kinds.get(s["step"]),
                     "probe": "sample" if s["sample_control"] else "chamber",
                     "chamber_c": None if s["chamber_fault"] else s["chamber_c"],
                     "sample_c": None if s["sample_fault"] else s["sample_c"],
                     "sp_chamber_c": s["sp_chamber_c"], "sp_sample_c": s["sp_sample_c"],
                     "valve_duty": s["ln2_duty"], "heater_duty": s["heater_duty"],
                     "comp": 1.0 if s["comp"] else 0.0})
    return rows


def _curve(a, figsize, fontsize):
    h = a["header"]
    nuc, dev, sr = a["nucleation"], a["chamber_dev"], a["sample_rate"]
    run = a["run"]
    marks = [(e["t_s"], "alarm raised", COLORS["alarm"]) for e in run.events
             if e["event"] == "alarm_raised"]
    end = a["end_reached_s"]
    marks += [(e["t_s"], "operator action (see the event list)", COLORS["action"]) for e in a["actions"]
              if e["event"] not in ("start", "step") and e["t_s"] > 0
              and not (e["event"] == "stop" and end is not None and e["t_s"] >= end)]
    title = "Run %s · batch %s · profile %s · %s" % (h.get("run", "?"), h.get("batch") or "—",
                                                    h.get("profile_name") or "?", h.get("serial") or "?")
    nucleation_mark = None
    if nuc:
        nucleation_mark = (nuc["t_s"], nuc["c"], "nucleation %s at %s" % (_c(nuc["c"], 2), hms(nuc["t_s"])))
    lines, points = [], []
    if "rate" in sr:
        # The fitted line through the band, drawn from the fit's own end points.
        pts = [(s["t_s"], s["sample_c"]) for s in run.samples if sr["t0"] <= s["t_s"] <= sr["t1"]
               and s["sample_c"] is not None and not s["sample_fault"]]
        mt = sum(t for t, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        slope = -sr["rate"] / 60.0
        lines.append(((sr["t0"], my + slope * (sr["t0"] - mt)), (sr["t1"], my + slope * (sr["t1"] - mt)),
                      "sample rate fit %.2f °C/min" % sr["rate"], "#000000"))
    lim = (a["acceptance"] or {}).get("end_sample_max_c") if isinstance(a["acceptance"], dict) else None
    if _num(lim) and run.samples:
        t1 = run.samples[-1]["t_s"]
        t0 = a["end_reached_s"] if a["end_reached_s"] is not None else t1 - 600
        lines.append(((t0, lim), (t1, lim), "end limit: sample ≤ %g °C at removal" % lim, "#7f7f7f"))
    if dev:
        ch = [s["chamber_c"] for s in run.samples if s["t_s"] == dev["t_s"]]
        if ch and ch[0] is not None:
            points.append((dev["t_s"], ch[0], "max chamber deviation %.2f °C" % dev["max_abs"], "x",
                           "#ff7f0e"))
    return freeze_curve_figure(record_rows(run, a["kinds"]), title, nucleation=nucleation_mark,
                               marks=marks, figsize=figsize, fontsize=fontsize, bottom_margin=0.05,
                               lines=lines, points=points, xlabel="run time (min)")


_T2P = None


@functools.lru_cache(maxsize=4096)
def text_width_in(s, size, family="sans-serif", weight="normal"):
    """Width of s in inches when drawn at size points (matplotlib's own font metrics)."""
    global _T2P
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    if _T2P is None:
        _T2P = TextToPath()
    w, _, _ = _T2P.get_text_width_height_descent(
        s, FontProperties(size=size, family=family, weight=weight), ismath=False)
    return w / 72.0


def wrap_in(s, width_in, size, family="sans-serif", weight="normal"):
    """Greedy word wrap of s to lines no wider than width_in inches (word widths
    measured, 2 % kept for kerning); words longer than a line (digests, paths)
    are cut where they must be."""
    width_in *= 0.98
    space = text_width_in("a b", size, family, weight) - text_width_in("ab", size, family, weight)
    lines = []
    for para in str(s).split("\n"):
        cur, cur_w = "", 0.0
        for word in para.split(" "):
            w = text_width_in(word, size, family, weight)
            if cur and cur_w + space + w <= width_in:
                cur, cur_w = cur + " " + word, cur_w + space + w
                continue
            if cur or cur_w:
                lines.append(cur)
            while w > width_in:
                k = len(word)
                while k > 1 and text_width_in(word[:k], size, family, weight) > width_in:
                    k -= 1
                lines.append(word[:k])
                word = word[k:]
                w = text_width_in(word, size, family, weight)
            cur, cur_w = word, w
        lines.append(cur)
    return lines


class _Page:
    """Text laid out top-down on one A4 figure; positions in inches from the top-left
    of the text area. Record text is drawn with mathtext off (a "$" stays a "$")."""

    LEFT, RIGHT, TOP, BOTTOM = 0.7, 0.7, 0.65, 0.85
    LINE = 1.42   # line height / font size

    def __init__(self, size=A4_PORTRAIT, dry=False):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.fig = None if dry else plt.figure(figsize=size)   # dry: measure only
        self.w, self.h = size
        self.width = self.w - self.LEFT - self.RIGHT
        self.y = self.TOP

    def room(self):
        return self.h - self.BOTTOM - self.y

    def at(self, x, s, size=9.5, **kw):
        """Text at x on the current line, without moving down."""
        if self.fig is None:
            return
        self.fig.text((self.LEFT + x) / self.w, 1 - self.y / self.h, s, fontsize=size, va="top",
                      parse_math=False, **kw)

    def para(self, x, s, size=9.5, width=None, gap=0.0, **kw):
        """Wrapped text from x to x + width (default: the right margin); moves down."""
        width = self.width - x if width is None else width
        lines = wrap_in(s, width, size, kw.get("family", "sans-serif"), kw.get("weight", "normal"))
        for line in lines:
            self.at(x, line, size=size, **kw)
            self.y += size * self.LINE / 72.0
        self.y += gap
        return len(lines)

    def height(self, s, size=9.5, width=None, x=0.0, **kw):
        width = self.width - x if width is None else width
        return len(wrap_in(s, width, size, kw.get("family", "sans-serif"),
                           kw.get("weight", "normal"))) * size * self.LINE / 72.0

    def down(self, inches):
        self.y += inches

    def rule(self, colour="#999999"):
        from matplotlib.lines import Line2D

        y = 1 - self.y / self.h
        if self.fig is not None:
            self.fig.add_artist(Line2D([self.LEFT / self.w, 1 - self.RIGHT / self.w], [y, y],
                                       color=colour, lw=0.6))
        self.y += 0.07

    def heading(self, s, size=12):
        self.down(0.1)
        self.para(0, s, size=size, weight="bold")
        self.rule()


KEY_W = 1.55   # key column of the key/value blocks (inches)


def _kv(page, rows, size=9.5, key_w=KEY_W):
    for k, v in rows:
        page.at(0, k, size=size, color="#444444")
        kw = {"size": size}
        if isinstance(v, (list, tuple)):      # (text, extra Text properties)
            v, extra = v
            kw.update(extra)
        page.para(key_w, str(v), gap=0.015, **kw)


def _page1(a):
    """Title, verdict with as many reasons as fit (all on the last page), then the body."""
    h, v = a["header"], a["verdict"]
    p = _Page()
    # Room for the reasons: measure the body with shorter alarm and action
    # listings until every reason fits (those listings are in full on page 3).
    for most in (4, 2, 0):
        dry = _Page(dry=True)
        _page1_body(a, dry, most)
        body_h = dry.y - dry.TOP
        need = sum(p.height(r, size=9.5, width=p.width - 0.5) + 0.02 for r in v.reasons)
        if p.room() - 1.3 - body_h >= need:
            break
    p.para(0, "Controlled-rate freeze: batch record report", size=17, weight="bold", gap=0.02)
    p.para(0, "Run %s  ·  batch %s  ·  profile %s" % (h.get("run", "?"), h.get("batch") or "—",
                                                    h.get("profile_name") or "?"), size=11.5, gap=0.08)
    # The verdict, boxed.
    from matplotlib.patches import FancyBboxPatch

    colour = "#1a7f37" if v.passed else "#b35900"
    box_top = p.y
    p.down(0.1)
    p.para(0.15, "Verdict: %s" % v.result, size=19, weight="bold", color=colour, gap=0.04)
    if v.passed:
        p.para(0.15, "Every acceptance limit the profile declares is met, the record verifies, and "
                     "nothing in the run needs review.", size=9.5, width=p.width - 0.3)
    else:
        budget = p.room() - body_h - 0.2
        more = p.height("x", size=9.5)
        used, shown = 0.0, []
        for r in v.reasons:
            need = p.height(r, size=9.5, width=p.width - 0.5) + 0.02
            if shown and used + need + more > budget:
                break
            shown.append(r)
            used += need
        for r in shown:
            # Record integrity first and in bold: nothing else on the page can be trusted without it.
            style = {"weight": "bold", "color": RED} if r.startswith("record ") else {}
            p.at(0.15, "•", size=9.5, color=colour)
            p.para(0.35, r, size=9.5, width=p.width - 0.5, gap=0.02, **style)
        if len(v.reasons) > len(shown):
            p.para(0.35, "... and %d more: every reason is listed after the event list."
                   % (len(v.reasons) - len(shown)), size=9.5, style="italic")
        a["reasons_shown"] = len(shown)
    p.down(0.06)
    p.fig.add_artist(FancyBboxPatch(
        (p.LEFT / p.w, 1 - p.y / p.h), p.width / p.w, (p.y - box_top) / p.h,
        boxstyle="round,pad=0.004", transform=p.fig.transFigure, facecolor=colour, alpha=0.08,
        edgecolor=colour, lw=1.2))
    _page1_body(a, p, most)
    return p


def _listing(items, most=4):
    """Items joined for page 1; a long list is cut (the event list has them all)."""
    if not items:
        return "none recorded"
    if not most:
        return "%d recorded (see the event list)" % len(items)
    text = "; ".join(items[:most])
    if len(items) > most:
        text += "; ... and %d more (see the event list)" % (len(items) - most)
    return text


def _page1_body(a, p, most=4):
    run, h = a["run"], a["header"]
    p.heading("Run")
    prof = a["profile"] if isinstance(a["profile"], dict) else {}
    desc = prof.get("description") if isinstance(prof.get("description"), str) else None
    _kv(p, [
        ("Device", "serial %s  ·  model %s  ·  firmware %s  ·  board %s"
         % (h.get("serial") or "?", h.get("model") or "?", h.get("fw") or "?", h.get("board") or "?")),
        ("Profile", "%s%s" % (h.get("profile_name") or "?", " — " + desc if desc else "")),
        ("Profile SHA-256", (h.get("profile_sha256") or "—", {"family": "monospace", "size": 9})),
        ("", ("matches the profile text in the record" if a["sha_ok"]
              else "DOES NOT MATCH the profile text in the record",
              {"color": "#1a7f37" if a["sha_ok"] else "#b35900", "weight": "bold", "size": 8.5})),
        ("Batch · product", "%s  ·  %s" % (h.get("batch") or "—", h.get("product") or "—")),
        ("Operator", h.get("operator") or "—"),
        ("Start · end (UTC)", "%s  to  %s" % (a["start_iso"] or "clock not set",
                                             (a["end_iso"] or "clock not set") if run.seal
                                             else "not sealed (last record at run time %s)"
                                             % hms(a["duration_s"]))),
        ("Duration", "%s (h:mm:ss, start to %s)%s" % (
            hms(a["duration_s"]), "seal" if run.seal else "last record",
            ", end step reached at %s" % hms(a["end_reached_s"]) if a["end_reached_s"] is not None
            else ", end step not reached")),
    ])

    p.heading("Summary against the profile's acceptance limits")
    if not run.verified:
        p.para(0, "These figures come from a record that does NOT verify: they may not be what "
                  "the controller recorded.", size=9.5, weight="bold", color=RED, gap=0.05)
    cols = (0, 1.75, 4.75, 6.15)
    for x, t in zip(cols, ("quantity", "measured", "limit", "result")):
        p.at(x, t, size=9.5, weight="bold")
    p.down(0.2)
    for name, value, limit, outcome in a["checks"]:
        y0 = p.y
        p.para(cols[0], name, size=9.5, width=cols[1] - 0.1)
        y1, p.y = p.y, y0
        p.para(cols[2], limit, size=9.5, width=cols[3] - cols[2] - 0.1)
        y2, p.y = p.y, y0
        p.at(cols[3], outcome, size=9.5, weight="bold",
             color={"pass": "#1a7f37", REVIEW: "#b35900"}.get(outcome, "#444444"))
        p.para(cols[1], value, size=9.5, width=cols[2] - cols[1] - 0.15)
        p.y = max(p.y, y1, y2) + 0.03
    p.down(0.05)
    nuc, sr, prog, dev = a["nucleation"], a["sample_rate"], a["programmed_rates"], a["chamber_dev"]
    info = [
        ("Chamber tracking", "RMS deviation %.2f °C over the %d samples judged" % (dev["rms"], dev["n"])
         if dev else "no samples judged"),
        ("Programmed rate", "%s °C/min on the sample probe through %g..%g °C"
         % (", ".join("%g" % r for r in prog), RATE_BAND_C[1], RATE_BAND_C[0]) if prog
         else "no sample-probe ramp through %g..%g °C" % (RATE_BAND_C[1], RATE_BAND_C[0])),
        ("Nucleation", "%s at run time %s%s" % (_c(nuc["c"], 2), hms(nuc["t_s"]),
                                                ", %s UTC" % nuc["rtc"] if nuc["rtc"] else "")
         if nuc else "not recorded"),
        ("Alarms", _listing(["%s at %s by %s%s" % (e["event"].replace("_", " "), hms(e["t_s"]),
                                                   e["who"] or "?", ": " + e["detail"] if e["detail"] else "")
                             for e in a["alarms"]], most)),
        ("Operator actions", _listing(["%s at %s by %s" % (e["event"], hms(e["t_s"]), e["who"] or "?")
                                       for e in a["actions"]], most)),
    ]
    if sr.get("why") and "rate" in sr:
        info.insert(2, ("Sample rate", sr["why"]))
    _kv(p, info)
    p.para(KEY_W, "How each figure is measured: see Definitions after the event list.",
           size=8, color="#555555")

    p.heading("Record verification: CRC of every record, SHA-256 chain, seal")
    if run.verified:
        result = ("VERIFIED: %d records in a chain of %d blocks, no problems, sealed '%s'"
                  % (run.seal["records"], run.blocks, run.seal["status"]), {"weight": "bold"})
    else:
        result = ("NOT VERIFIED: %d problem%s (listed after the event list)"
                  % (len(run.problems), "" if len(run.problems) == 1 else "s"),
                  {"weight": "bold", "color": RED})
    _kv(p, [("Result", result),
            ("File", "%s, %d bytes" % (os.path.basename(run.source or "?"), run.size)),
            ("Seal digest", (run.seal["digest"], {"family": "monospace", "weight": "bold", "size": 9.5})
             if run.seal else ("none: the record is not sealed", {"weight": "bold", "color": "#b35900"}))])
    p.para(KEY_W, "Pin this digest in the batch file. The record has no secret key: only a copy "
                  "whose seal digest matches this one is the record this report was made from.",
           size=8, color="#555555")


def _event_pages(a):
    run = a["run"]
    pages = []
    p = _Page()
    cols = (0, 0.75, 2.15, 3.3, 4.55)
    size = 9

    def head(page, title):
        page.para(0, title, size=14, weight="bold", gap=0.03)
        page.para(0, "As recorded, in order. Run time counts from the start, holds included; UTC "
                     "from the controller's clock (— where the clock was not set). Events that "
                     "need review are in bold.", size=8, color="#555555", gap=0.06)
        for x, t in zip(cols, ("run time", "UTC", "who", "event", "detail")):
            page.at(x, t, size=size, weight="bold")
        page.down(0.2)
        page.rule()

    head(p, "Events")
    for e in run.events:
        detail = e["detail"] or ""
        if p.room() < p.height(detail, size=size, width=p.width - cols[4], x=cols[4]) + 0.05:
            pages.append(p)
            p = _Page()
            head(p, "Events (continued)")
        warn = e["event"] in REVIEW_EVENTS
        style = {"weight": "bold", "color": "#b35900"} if warn else {}
        p.at(cols[0], hms(e["t_s"]), size=size, **style)
        p.at(cols[1], e["rtc"].replace("T", " ").replace("Z", "") if e["rtc"] else "—", size=size, **style)
        who = e["who"] or "?"
        p.at(cols[2], who if text_width_in(who, size) < cols[3] - cols[2] - 0.1
             else wrap_in(who, cols[3] - cols[2] - 0.15, size)[0] + "…", size=size, **style)
        p.at(cols[3], e["event"], size=size, **style)
        p.para(cols[4], detail, size=size, gap=0.02, **style)
    if not run.events:
        p.para(0, "no events in the record", size=size)

    if p.room() < 1.5:
        pages.append(p)
        p = _Page()
    p.heading("Definitions", size=11)
    for d in DEFINITIONS:
        p.para(0, d, size=8.5, color="#333333", gap=0.04)
    extra = []
    if len(a["verdict"].reasons) > a.get("reasons_shown", len(a["verdict"].reasons)):
        extra.append(("All reasons for review", list(a["verdict"].reasons)))
    if not run.verified:
        extra.append(("Record problems (byte offset, record number, kind, what)",
                      [where(x) for x in run.problems]))
    for title, items in extra:
        if p.room() < 1.0:
            pages.append(p)
            p = _Page()
        p.heading(title, size=11)
        for item in items:
            if p.room() < p.height(item, size=8.5, x=0.2) + 0.05:
                pages.append(p)
                p = _Page()
                p.heading(title + " (continued)", size=11)
            p.at(0, "•", size=8.5)
            p.para(0.2, item, size=8.5, gap=0.02)
    pages.append(p)
    return pages


def write_pdf(a, pdf_path, curve_fig):
    """Page 1 summary, page 2 the freeze curve, page 3+ events (and problems)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    h = a["header"]
    pages = [_page1(a).fig, curve_fig] + [p.fig for p in _event_pages(a)]
    now = datetime.now(timezone.utc)
    digest = a["verdict"].seal_digest
    left = "Run %s · batch %s · seal %s · report by crf-host %s, %s" % (
        h.get("run", "?"), h.get("batch") or "—", digest[:16] + "…" if digest else "none",
        __version__, now.strftime("%Y-%m-%d %H:%M UTC"))
    for i, fig in enumerate(pages):
        w, hh = fig.get_size_inches()
        fig.text(_Page.LEFT / w, 0.45 / hh, left, fontsize=7.5, color="#555555", parse_math=False)
        fig.text(1 - _Page.RIGHT / w, 0.45 / hh, "page %d of %d" % (i + 1, len(pages)), fontsize=7.5,
                 color="#555555", ha="right")
    with PdfPages(pdf_path, metadata={
            "Title": "Batch record report: run %s, batch %s" % (h.get("run", "?"), h.get("batch") or "—"),
            "Subject": "Verdict %s" % a["verdict"].result, "Creator": "crf-host %s" % __version__}) as pdf:
        for fig in pages:
            pdf.savefig(fig)
    for fig in pages:
        if fig is not curve_fig:
            plt.close(fig)
    return len(pages)


def make_report(record_path, out_dir=None):
    """Read and verify a run record, judge it, write the report.

    Writes <out_dir>/<record stem>-report.pdf (page 1 run, summary table,
    verification and verdict; page 2 the freeze curve; page 3 on the events)
    and <record stem>-freeze-curve.png; out_dir defaults to the record's
    directory. Returns (pdf_path, png_path, verdict) with paths as Path and
    verdict a Verdict (result PASS or REVIEW, reasons, seal_digest).
    OSError if the record cannot be read or the files cannot be written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    record_path = Path(record_path)
    out = Path(out_dir) if out_dir is not None else record_path.parent
    out.mkdir(parents=True, exist_ok=True)
    run = read_run(record_path)
    a = analyse(run)
    pdf_path = out / ("%s-report.pdf" % record_path.stem)
    png_path = out / ("%s-freeze-curve.png" % record_path.stem)
    fig = _curve(a, A4_LANDSCAPE, fontsize=9)
    fig.savefig(png_path, dpi=150)
    try:
        a["pages"] = write_pdf(a, pdf_path, fig)
    finally:
        plt.close(fig)
    return pdf_path, png_path, a["verdict"]
