"""Demo: an HPC bag run in the virtual freezer -> trajectory CSV, freeze-curve PNG, summary."""

import shutil
import time
from pathlib import Path

from crf_host import metrics
from crf_host.paths import PLANTS_DIR
from crf_host.runner import run_virtual

LN2_KG_PER_L = 0.807
PROFILE = "hpc_bag"
STEP_SHADES = ("#f2f2f2", "#ffffff")
COLORS = {"chamber": "#1f77b4", "sample": "#d62728", "sp": "#555555", "valve": "#1f77b4",
          "heater": "#ff7f0e", "nucleation": "#2ca02c", "comp": "#9467bd"}


def _hmm(seconds):
    m = int(round(seconds / 60.0))
    return "%d:%02d" % (m // 60, m % 60)


def _steps(rows):
    """(start_min, end_min, index, kind) for each contiguous step in the trace."""
    spans, start = [], 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i]["step"] != rows[start]["step"]:
            kind = rows[start]["kind"]
            if kind in ("ramp", "hold") and rows[start].get("probe") == "sample":
                kind += " (sample)"
            spans.append((rows[start]["t_s"] / 60.0, rows[i - 1]["t_s"] / 60.0,
                          rows[start]["step"], kind))
            start = i
    return spans


def _moving_mean(values, n):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def plot_freeze_curve(rows, summary, path, title, plateau_min=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t_s"] / 60.0 for r in rows]
    col = lambda name: [r.get(name) if r.get(name) is not None else float("nan") for r in rows]  # noqa: E731
    fig, (ax, ax2) = plt.subplots(2, 1, sharex=True, figsize=(13, 8),
                                  gridspec_kw={"height_ratios": [3, 1]})
    spans = _steps(rows)
    for i, (a, b, idx, kind) in enumerate(spans):
        for axis in (ax, ax2):
            axis.axvspan(a, b, color=STEP_SHADES[i % 2], zorder=0)
        if b - a >= 2.0:  # label only steps wide enough to read
            ax.text((a + b) / 2, 1.01, "%d %s" % (int(idx), kind),
                    transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="#444444")
    comp_on = None
    for r in rows + [{"t_s": rows[-1]["t_s"], "comp": 0.0}]:
        if r.get("comp") and comp_on is None:
            comp_on = r["t_s"]
        elif not r.get("comp") and comp_on is not None:
            ax.axvspan(comp_on / 60.0, r["t_s"] / 60.0, color=COLORS["comp"], alpha=0.15, zorder=0,
                       label="heat-of-fusion compensation")
            comp_on = None
    tm = summary.get("tm_c")
    if tm is not None:
        ax.axhline(tm, color=COLORS["sample"], lw=0.7, ls=":", alpha=0.7)
        ax.text(t[0] + 0.5, tm + 1.0, "Tm %.1f °C" % tm, fontsize=8, color=COLORS["sample"])
    sample_sp = [r["sp_sample_c"] if r.get("probe") == "sample" and r.get("sp_sample_c") is not None
                 and not r.get("comp") else float("nan") for r in rows]
    ax.plot(t, col("chamber_c"), color=COLORS["chamber"], lw=1.3, label="chamber probe")
    ax.plot(t, col("sample_c"), color=COLORS["sample"], lw=1.6, label="sample probe")
    # Setpoints on top: with good tracking they would vanish under the probes.
    ax.plot(t, col("sp_chamber_c"), color=COLORS["sp"], lw=1.0, ls="--", label="chamber setpoint")
    ax.plot(t, sample_sp, color="#7f0000", lw=1.0, ls="--",
            label="sample setpoint (sample-probe steps)")
    nuc_s, nuc_c = summary.get("nucleation_s"), summary.get("nucleation_c")
    if nuc_s is not None:
        ax.axvline(nuc_s / 60.0, color=COLORS["nucleation"], lw=1.0, ls=":")
        if nuc_c is not None:
            ax.plot([nuc_s / 60.0], [nuc_c], "o", color=COLORS["nucleation"], ms=7,
                    label="nucleation %.1f °C at %.0f min" % (nuc_c, nuc_s / 60.0))
    if nuc_s is not None and plateau_min:
        a, b = nuc_s / 60.0, nuc_s / 60.0 + plateau_min
        y = (tm if tm is not None else 0.0) + 6.0
        ax.annotate("", xy=(a, y), xytext=(b, y), arrowprops={"arrowstyle": "<->", "color": "#333333"})
        ax.text((a + b) / 2, y + 1.0, "plateau %.1f min" % plateau_min, ha="center", fontsize=8)
    ax.set_ylabel("temperature (°C)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=9, framealpha=0.9)
    ax.set_title(title, pad=18)

    ax2.plot(t, _moving_mean(col("valve_duty"), 60), color=COLORS["valve"], lw=1.2,
             label="LN2 valve duty (60 s mean)")
    ax2.plot(t, _moving_mean(col("heater_duty"), 60), color=COLORS["heater"], lw=1.2,
             label="heater duty (60 s mean)")
    ax2.set_ylim(-0.03, 1.03)
    ax2.set_ylabel("duty")
    ax2.set_xlabel("time (min)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper right", fontsize=9, framealpha=0.9)
    ax2.set_xlim(t[0], t[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_lines(m, summary, wall_s, files):
    end_s = summary.get("run_end_s") or summary.get("sim_s") or 0.0
    lines = ["Run duration:      %s (h:mm) to the end step" % _hmm(end_s)]
    if m["chamber_rms_c"] is not None:
        lines.append("Chamber tracking:  RMS %.2f °C, max %.2f °C (ramps)"
                     % (m["chamber_rms_c"], m["chamber_max_abs_c"]))
    if summary.get("nucleation_s") is not None:
        lines.append("Nucleation:        %.1f °C at %s (Tm %.1f °C)" % (
            summary["nucleation_c"], _hmm(summary["nucleation_s"]), summary.get("tm_c")))
    else:
        lines.append("Nucleation:        not seen")
    if m["plateau_min"] is not None:
        lines.append("Plateau:           %.1f min (nucleation to 5 °C below Tm)" % m["plateau_min"])
    if m["sample_rate_error_c_per_min"] is not None:
        lines.append("Sample rate error: %.3f °C/min (-10 to -40 °C)" % m["sample_rate_error_c_per_min"])
    ln2 = m["ln2_kg"] or 0.0
    lines.append("LN2 used:          %.2f kg (%.1f L)" % (ln2, ln2 / LN2_KG_PER_L))
    lines.append("Wall time:         %.1f s for %s of virtual time" % (wall_s, _hmm(summary.get("sim_s") or end_s)))
    lines.extend("%-19s%s" % (k + ":", v) for k, v in files)
    return lines


def run_demo(out_dir="runs", speed="max", plant=None):
    """Run hpc_bag on a 50 mL bag; write trajectory.csv + freeze_curve.png; print a summary."""
    plant = Path(plant) if plant else PLANTS_DIR / "bag_50ml.json"
    run_dir = Path(out_dir) / ("%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), PROFILE))
    print("Running %s on %s in the virtual freezer (speed %s)..." % (PROFILE, plant.name, speed))
    try:
        rows, summary, wall_s = run_virtual(plant, PROFILE, run_dir, speed=speed,
                                            batch="DEMO-0001", operator="demo")
    except (RuntimeError, OSError) as e:
        print("demo: %s" % e)
        return 1
    if not rows:
        print("demo: the run produced an empty trace")
        return 1
    trajectory = run_dir / "trajectory.csv"
    shutil.move(str(run_dir / "trace.csv"), str(trajectory))
    (run_dir / "flash.img").unlink(missing_ok=True)  # a scratch filesystem, not a result
    png = run_dir / "freeze_curve.png"
    m = metrics.compute(rows, summary, wall_s)
    plot_freeze_curve(rows, summary, png, "Profile %s on plant %s (virtual freezer)"
                      % (PROFILE, plant.stem), plateau_min=m["plateau_min"])
    record, ok = _export_record(run_dir, summary)
    files = [("Trajectory", trajectory), ("Freeze curve", png), ("Summary JSON", run_dir / "summary.json")]
    files += record
    for line in summary_lines(m, summary, wall_s, files):
        print(line)
    return 0 if ok else 1


def _export_record(run_dir, summary):
    """Verify the run's record copied out of the virtual flash; write CSV + JSON."""
    from crf_host.records import read_run

    run_id = summary.get("run_id")
    path = run_dir / ("%06d.run" % run_id) if run_id else None
    if path is None or not path.exists():
        print("demo: the run left no record on the virtual flash")
        return [], False
    run = read_run(path)
    csv_path, json_path = run_dir / "run_record.csv", run_dir / "run_record.json"
    run.to_csv(csv_path)
    run.to_json(json_path)
    if run.verified:
        print("Run record:        run %d verified (CRCs, %d-block chain, seal %s)"
              % (run_id, run.blocks, run.seal["status"]))
    else:
        print("Run record:        run %d does NOT verify:" % run_id)
        for p in run.problems:
            print("  %s" % p["text"])
    return [("Run record", path), ("Record CSV", csv_path), ("Record JSON", json_path)], run.verified
