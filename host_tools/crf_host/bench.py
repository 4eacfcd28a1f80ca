"""Controller benchmark: the firmware in the virtual freezer against the textbook baseline.

Scenarios are plant files; each runs its standard profile (hpc_bag, or vial
for vial loads). Definitions and targets: docs/benchmark.md.
"""

import json
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crf_host import metrics
from crf_host.paths import PLANTS_DIR, REPO
from crf_host.runner import run_virtual

# Metrics that follow from the trajectory alone: identical across repeated runs.
TRAJECTORY_KEYS = ("chamber_rms_c", "chamber_max_abs_c", "sample_rate_error_c_per_min",
                   "plateau_min", "ln2_kg", "valve_cycles")
COLUMNS = (
    ("chamber_rms_c", "chamber\nRMS °C", "%.3f"),
    ("chamber_max_abs_c", "chamber\nmax °C", "%.2f"),
    ("sample_rate_error_c_per_min", "sample rate\nerr °C/min", "%.3f"),
    ("plateau_min", "plateau\nmin", "%.1f"),
    ("ln2_kg", "LN2\nkg", "%.2f"),
    ("valve_cycles", "valve\ncycles", "%d"),
    ("sim_wall_s", "wall\ns", "%.1f"),
    ("heap_peak_bytes", "heap peak\nbytes", "%d"),
)
TARGETS = (
    ("chamber_rms", "chamber RMS <= 0.3 °C and <= baseline/3"),
    ("sample_rate", "sample rate error <= 0.1 °C/min"),
    ("plateau", "plateau <= baseline/2"),
    ("ln2", "LN2 <= baseline"),
    ("wall", "virtual run wall time <= 60 s"),
    ("heap", "completed with a 128 KiW heap"),
)


def resolve_plant(p):
    path = Path(p)
    if not path.exists() and (PLANTS_DIR / path.name).exists():
        path = PLANTS_DIR / path.name
    if not path.exists():
        raise FileNotFoundError("plant file not found: %s" % p)
    return path


def _sample_kinds(spec):
    samples = spec.get("samples") or spec.get("sample") or []
    if isinstance(samples, dict):
        samples = [samples]
    return {s.get("kind") for s in samples if isinstance(s, dict)}


def profile_for(plant_path):
    """Vial loads run the vial profile, everything else the HPC bag profile."""
    kinds = _sample_kinds(json.loads(Path(plant_path).read_text()))
    return "vial" if kinds == {"vial"} else "hpc_bag"


def scenarios(plants=None):
    paths = [resolve_plant(p) for p in plants] if plants else sorted(PLANTS_DIR.glob("*.json"))
    return [(p.stem, p, profile_for(p)) for p in paths]


def _ok(value, limit):
    return value is not None and limit is not None and value <= limit


def targets(crf, base):
    """Pass/fail of the firmware's metrics against the targets (None: not applicable)."""
    rms, b_rms = crf["chamber_rms_c"], base["chamber_rms_c"]
    plateau, b_plateau = crf["plateau_min"], base["plateau_min"]
    if plateau is None and b_plateau is None:
        plateau_ok = None  # no nucleation (or no plateau end) in either run
    elif b_plateau is None:
        plateau_ok = plateau is not None  # the baseline never left its plateau
    else:
        plateau_ok = _ok(plateau, b_plateau / 2.0)
    sre = crf["sample_rate_error_c_per_min"]
    return {
        "chamber_rms": _ok(rms, 0.3) and (b_rms is None or rms <= b_rms / 3.0),
        "sample_rate": None if sre is None else sre <= 0.1,
        "plateau": plateau_ok,
        "ln2": _ok(crf["ln2_kg"], base["ln2_kg"]),
        "wall": _ok(crf["sim_wall_s"], 60.0),
        "heap": True,  # a run that ran out of heap raises before we get here
    }


def bench_scenario(name, plant, profile, runs, work_dir, log, autotune=True):
    """Firmware `runs` times + autotune + baseline once -> (crf_row, [autotuned_row,] baseline_row)."""
    from crf_host import baseline  # imports the plant model; only needed here

    per_run = []
    for i in range(runs):
        log("  %s: firmware run %d/%d" % (name, i + 1, runs))
        rows, summary, wall = run_virtual(plant, profile, Path(work_dir) / name / ("crf%d" % i))
        per_run.append(metrics.compute(rows, summary, wall))
    first = per_run[0]
    differing = [k for k in TRAJECTORY_KEYS if any(m[k] != first[k] for m in per_run)]
    deterministic = not differing
    crf = dict(first)
    crf["sim_wall_s"] = statistics.median(m["sim_wall_s"] for m in per_run)
    heaps = [m["heap_peak_bytes"] for m in per_run if m["heap_peak_bytes"] is not None]
    crf["heap_peak_bytes"] = statistics.median(heaps) if heaps else None
    crf.update(runs=runs, deterministic=deterministic, wall_s_runs=[m["sim_wall_s"] for m in per_run],
               run_end_s=summary.get("run_end_s"), sample_end_c=rows[-1].get("sample_true_c"))
    if differing:
        crf["differing"] = {k: [m[k] for m in per_run] for k in differing}

    log("  %s: baseline (tuning on first use, cached in bench/baseline_gains.json)" % name)
    gains = baseline.baseline_gains(plant)
    b_rows, b_summary, b_wall = baseline.run_baseline(plant, profile, gains=gains)
    base = metrics.compute(b_rows, b_summary, b_wall)
    base.update(runs=1, gains={k: gains[k] for k in ("kp", "ki", "kd", "rule")},
                run_end_s=b_summary.get("run_end_s"), sample_end_c=b_rows[-1].get("sample_true_c"))

    common = {"scenario": name, "plant": str(plant.relative_to(REPO)) if plant.is_relative_to(REPO)
              else str(plant), "profile": profile}
    crf_row = dict(common, controller="crf", **crf)
    crf_row["targets"] = targets(crf, base)
    crf_row["all_targets_met"] = all(v is not False for v in crf_row["targets"].values())
    base_row = dict(common, controller="baseline", **base)
    if not autotune:
        return crf_row, base_row
    return crf_row, autotune_row(common, plant, profile, work_dir, log, crf_row), base_row


def autotune_row(common, plant, profile, work_dir, log, hand_row):
    """Autotune on the virtual freezer from the default gains, then the same
    profile with the proposed gains: the `crf-autotuned` row."""
    from crf_host import autotune

    name = common["scenario"]
    d = Path(work_dir) / name / "autotune"
    log("  %s: autotune at %s C from the default gains" % (name, ", ".join("%g" % t for t in autotune.TEMPS)))
    result, tune_wall = autotune.run_autotune(plant, d)
    row = dict(common, controller="crf-autotuned", tune_state=result.get("state"),
               tune_reason=result.get("reason"), tune_min=autotune.tune_minutes(result),
               tune_wall_s=round(tune_wall, 2), gains=result.get("proposal"),
               tune_results=[{k: r.get(k) for k in ("at_c", "minutes", "noise_c", "eps_c", "d_w",
                                                      "relay", "model", "gains")}
                             for r in result.get("results", [])])
    if result.get("state") == "done":
        cfg = autotune.write_config(result, d / "tuned_config.json")
        log("  %s: %s with the autotuned gains" % (name, profile))
        rows, summary, wall = run_virtual(plant, profile, d / "run", config=cfg)
        m = metrics.compute(rows, summary, wall)
        row.update(m, runs=1, run_end_s=summary.get("run_end_s"))
    row["targets"], row["rms_ratio"] = autotune.verdict(hand_row["chamber_rms_c"],
                                                        row.get("chamber_rms_c"), result)
    row["all_targets_met"] = all(row["targets"].values())
    return row


def _fmt(value, fmt):
    if value is None:
        return "—"
    return fmt % value


def print_table(console, results):
    table = Table(title="Controller benchmark (virtual freezer)")
    table.add_column("scenario", no_wrap=True)
    table.add_column("controller", no_wrap=True)
    for _, head, _ in COLUMNS:
        table.add_column(head, justify="right", no_wrap=True)
    for r in results:
        cells = [_fmt(r.get(k), f) for k, _, f in COLUMNS]
        table.add_row(r["scenario"], r["controller"], *cells,
                      end_section=r["controller"] == "baseline")
    console.print(table)
    print_autotune_table(console, results)
    for r in results:
        if r["controller"] != "crf":
            continue
        if r["runs"] < 2:
            same = "1 run: determinism not checked"
        elif r["deterministic"]:
            same = "%d runs: trajectory metrics identical across runs" % r["runs"]
        else:
            same = "%d runs: [red]trajectory metrics DIFFER between runs: %s[/red]" % (
                r["runs"], ", ".join(r.get("differing", {})))
        console.print("[bold]%s[/bold] (%s; %s)" % (r["scenario"], r["profile"], same))
        for key, text in TARGETS:
            v = r["targets"][key]
            mark = "[green]PASS[/green]" if v else "[dim]n/a [/dim]" if v is None else "[red]FAIL[/red]"
            console.print("  %s  %s" % (mark, text))


def print_autotune_table(console, results):
    """Autotuned against the shipped hand-tuned gains, one row per plant."""
    from crf_host.autotune import RMS_RATIO_MAX, TUNE_MIN_PER_TEMP, comparison_rows

    rows = comparison_rows(results)
    if not rows:
        return
    table = Table(title="Autotuned vs hand-tuned gains (chamber RMS within %d %%, tune <= %d min "
                        "per temperature)" % (round((RMS_RATIO_MAX - 1) * 100), TUNE_MIN_PER_TEMP))
    for head in ("plant", "hand-tuned\nRMS °C", "autotuned\nRMS °C", "ratio", "tune_min", "met?"):
        table.add_column(head, justify="left" if head == "plant" else "right", no_wrap=True)
    for plant, hand, auto, ratio, tmin, met in rows:
        table.add_row(plant, _fmt(hand, "%.3f"), _fmt(auto, "%.3f"), _fmt(ratio, "%.2f"),
                      _fmt(tmin, "%.1f"), "[green]yes[/green]" if met else "[red]NO[/red]")
    console.print(table)


def main(plants=None, out="bench/results.json", runs=3, keep_runs=False, autotune=True):
    """Run every scenario; write results JSON. 0 even if targets are missed, 1 if a run failed."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # logs and CI: keep the table on one line per row
    log = lambda msg: console.print("[dim]%s[/dim]" % msg)  # noqa: E731
    results, failed = [], False
    try:
        scen = scenarios(plants)
    except (FileNotFoundError, ValueError) as e:
        console.print("[red]%s[/red]" % e)
        return 2
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="crf-bench-") as tmp:
        work = out.parent / "runs" if keep_runs else Path(tmp)
        for name, plant, profile in scen:
            try:
                results.extend(bench_scenario(name, plant, profile, runs, work, log, autotune))
            except Exception as e:  # report the scenario, carry on with the others
                failed = True
                console.print("[red]%s: run failed:[/red] %s" % (name, e))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(console, results)
    console.print("results: %s" % out)
    return 1 if failed or not results else 0


def smoke(out_dir):
    """One short firmware run (selftest profile) + its metrics, for a quick check."""
    plant = PLANTS_DIR / "bag_50ml.json"
    rows, summary, wall = run_virtual(plant, "selftest", out_dir)
    result = metrics.compute(rows, summary, wall)
    result.update(trace_rows=len(rows), summary=summary)
    return result


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plants", nargs="*")
    ap.add_argument("--out", default="bench/results.json")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep-runs", action="store_true")
    a = ap.parse_args()
    sys.exit(main(a.plants, a.out, a.runs, a.keep_runs))
