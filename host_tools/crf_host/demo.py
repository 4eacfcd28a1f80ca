"""Demo: an HPC bag run on the virtual freezer, driven over the serial link with `crf`:
push, start, follow, stop, fetch and verify the record, batch report (PDF + PNG)."""

import shutil
import time
from pathlib import Path

from crf_host import metrics
from crf_host.paths import PLANTS_DIR

LN2_KG_PER_L = 0.807
PROFILE = "hpc_bag"


def _hmm(seconds):
    m = int(round(seconds / 60.0))
    return "%d:%02d" % (m // 60, m % 60)


def plot_freeze_curve(rows, summary, path, title, plateau_min=None):
    """The trace's freeze curve as a PNG (drawn by crf_host.report, the batch report's plotter)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crf_host.report import freeze_curve_figure

    nuc_s, nuc_c = summary.get("nucleation_s"), summary.get("nucleation_c")
    nucleation = None
    if nuc_s is not None:
        nucleation = (nuc_s, nuc_c, None if nuc_c is None
                      else "nucleation %.1f °C at %.0f min" % (nuc_c, nuc_s / 60.0))
    fig = freeze_curve_figure(rows, title, nucleation=nucleation, tm_c=summary.get("tm_c"),
                              plateau_min=plateau_min)
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


DEMO_PIN = "2468"          # the engineer PIN the demo's virtual freezer is given
DEMO_SPEED = "200"         # virtual seconds per wall second: logins and sessions stay valid
SETTLE_AFTER_END_S = 600   # the product sits at the end temperature before it is taken out
EXIT_AFTER_END_S = 1800    # the virtual freezer ends its process this long after the end step


def _crf(port, *args):
    """Run one `crf` command against the freezer; its output goes to the terminal."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, CRF_PORT=port, CRF_PIN=DEMO_PIN, CRF_USER="demo-engineer")
    cmd = [sys.executable, "-m", "crf_host.cli", "--port", port, *[str(a) for a in args]]
    print("$ crf " + " ".join(str(a) for a in args), flush=True)
    res = subprocess.run(cmd, env=env)
    if res.returncode != 0:
        raise RuntimeError("crf %s failed (exit %d)" % (args[0], res.returncode))


def _wait_for_end(port):
    """Follow the run over the link until it has sat SETTLE_AFTER_END_S at its end step."""
    from crf_host.link import Client

    last_print = -1e9
    end_at = None
    with Client(port, timeout_s=5.0) as c:
        while True:
            st = c.status()
            el = st.get("elapsed_s") or 0
            if st.get("state") == "end" and end_at is None:
                end_at = el
            if el - last_print >= 900 or (end_at is not None and last_print < end_at):
                print("  %s  step %s/%s %-5s chamber %7s  sample %7s" % (
                    _hmm(el), st.get("step"), st.get("steps"), st.get("kind") or "",
                    _c(st.get("chamber_c")), _c(st.get("sample_c"))), flush=True)
                last_print = el
            if end_at is not None and el - end_at >= SETTLE_AFTER_END_S:
                return
            if st.get("state") not in ("running", "held", "end"):
                raise RuntimeError("the run left the profile: state %s" % st.get("state"))
            time.sleep(0.25)


def _c(v):
    return "-" if v is None else "%.1f °C" % v


def run_demo(out_dir="runs", speed=DEMO_SPEED, plant=None):
    """The main job end to end through the serial link, as an engineer would do it:
    virtual freezer on a pty; `crf` pushes the HPC bag profile, starts the run,
    follows it, stops it once the product is at the end temperature, fetches and
    verifies the record and writes the batch report (PDF + PNG) under runs/."""
    import json

    from crf_host.paths import PROFILES_DIR
    from crf_host.runner import read_trace
    from crf_host.simlaunch import VirtualFreezer

    plant = Path(plant) if plant else PLANTS_DIR / "bag_50ml.json"
    run_dir = Path(out_dir) / ("%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), PROFILE))
    run_dir.mkdir(parents=True, exist_ok=True)
    trace, summary_path = run_dir / "trace.csv", run_dir / "summary.json"
    args = ["--pin", DEMO_PIN, "--trace", trace, "--summary", summary_path,
            "--exit-after-end", EXIT_AFTER_END_S]
    print("Virtual freezer: plant %s, speed %s x real time" % (plant.name, speed))
    t0 = time.monotonic()
    vf = VirtualFreezer(plant=plant, speed=speed, flash=run_dir / "flash.img",
                        extra_args=args, log=run_dir / "virtual-freezer.log")
    try:
        vf.start()
        print("virtual freezer on %s" % vf.port)
        time.sleep(0.3)
        _crf(vf.port, "info")
        _crf(vf.port, "profile", "push", PROFILES_DIR / (PROFILE + ".json"))
        _crf(vf.port, "run", "start", PROFILE, "--batch", "DEMO-0001", "--product", "HPC-A",
             "--operator", "demo")
        _wait_for_end(vf.port)
        _crf(vf.port, "run", "stop", "--yes", "--operator", "demo")
        _crf(vf.port, "logs", "fetch", "1", "-o", run_dir)
        record = run_dir / "000001.run"
        _crf(vf.port, "report", record, "-o", run_dir)
        _crf(vf.port, "logs", "export", record, "--csv", run_dir / "run_record.csv",
             "--json", run_dir / "run_record.json")
        vf.wait(120)
    except (RuntimeError, OSError) as e:
        print("demo: %s (the virtual freezer's output: %s)" % (e, run_dir / "virtual-freezer.log"))
        return 1
    finally:
        vf.stop()
        vf.close_log()
    wall_s = time.monotonic() - t0
    (run_dir / "flash.img").unlink(missing_ok=True)  # a scratch filesystem, not a result
    rows = read_trace(trace)
    with open(summary_path) as f:
        summary = json.load(f)
    trajectory = run_dir / "trajectory.csv"
    shutil.move(str(trace), str(trajectory))
    png = run_dir / "freeze_curve.png"
    m = metrics.compute(rows, summary, wall_s)
    plot_freeze_curve(rows, summary, png, "Profile %s on plant %s (virtual freezer, plant truth)"
                      % (PROFILE, plant.stem), plateau_min=m["plateau_min"])
    files = [("Batch report", run_dir / "000001-report.pdf"),
             ("Report chart", run_dir / "000001-freeze-curve.png"),
             ("Run record", run_dir / "000001.run"),
             ("Record CSV", run_dir / "run_record.csv"), ("Record JSON", run_dir / "run_record.json"),
             ("Plant trajectory", trajectory), ("Plant chart", png), ("Summary JSON", summary_path)]
    for line in summary_lines(m, summary, wall_s, files):
        print(line)
    return 0
