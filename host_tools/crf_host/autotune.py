"""Autotune on the virtual freezer, headless, and the benchmark's comparison
of autotuned against the shipped hand-tuned gains (docs/benchmark.md,
"Autotuned gains").

The tune runs through the firmware's own code path: `run.py --autotune`
calls `crf.link.cmd_tune.start`, the function behind the link's
`tune_start`, and copies the device's `tune.json` out when the tune ends.
"""

import json
from pathlib import Path

from crf_host.runner import run_sim, why_failed

TEMPS = (-20.0, -60.0)
TIMEOUT_S = 600
RMS_RATIO_MAX = 1.2         # autotuned chamber RMS at most 20 % above hand-tuned
TUNE_MIN_PER_TEMP = 45.0    # freezer minutes per test temperature


def run_autotune(plant, out_dir, temps=TEMPS, seed=None, config=None):
    """Tune on a fresh virtual freezer; returns (result dict of tune.json, wall_s).

    Raises RuntimeError with the firmware's output if the process fails."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result, flash, trace = out / "tune.json", out / "tune-flash.img", out / "tune-trace.csv"
    for p in (result, flash, trace):
        if p.exists():
            p.unlink()
    args = ["--plant", Path(plant).resolve(), "--speed", "max", "--flash", flash,
            "--autotune", ",".join("%g" % t for t in temps), "--tune-out", result,
            "--trace", trace, "--export-runs", out]
    if seed is not None:
        args += ["--seed", seed]
    if config is not None:
        args += ["--config", Path(config).resolve()]
    proc, wall = run_sim(args, "autotune", timeout_s=TIMEOUT_S)
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError("autotune failed (exit %d) on %s:\n%s" % (proc.returncode, plant, why_failed(proc)))
    flash.unlink(missing_ok=True)
    return json.loads(result.read_text()), wall


def tune_minutes(result):
    """Freezer minutes the tune took, summed over its temperatures."""
    return round(sum(r.get("minutes", 0.0) for r in result.get("results", [])), 2)


def write_config(result, path):
    """The proposed gains as a --config file for the virtual freezer."""
    prop = result.get("proposal")
    if result.get("state") != "done" or not prop:
        raise ValueError("the autotune proposed no gains (%s: %s)" % (result.get("state"), result.get("reason")))
    Path(path).write_text(json.dumps(prop, indent=1) + "\n")
    return Path(path)


def verdict(hand_rms, auto_rms, result):
    """The benchmark targets of an autotuned run."""
    ratio = auto_rms / hand_rms if hand_rms and auto_rms is not None else None
    per_temp = [r.get("minutes", 0.0) for r in result.get("results", [])]
    return {
        "rms_within_20pct": ratio is not None and ratio <= RMS_RATIO_MAX,
        "tune_time": bool(per_temp) and result.get("state") == "done"
        and all(m <= TUNE_MIN_PER_TEMP for m in per_temp),
    }, ratio


def comparison_rows(results):
    """(plant, hand RMS, autotuned RMS, ratio, tune_min, met) from bench rows."""
    hand = {r["scenario"]: r for r in results if r.get("controller") == "crf"}
    out = []
    for r in results:
        if r.get("controller") != "crf-autotuned":
            continue
        h = hand.get(r["scenario"], {})
        out.append((r["scenario"], h.get("chamber_rms_c"), r.get("chamber_rms_c"), r.get("rms_ratio"),
                    r.get("tune_min"), r.get("all_targets_met")))
    return out
