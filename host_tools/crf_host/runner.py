"""Run the virtual freezer headless on the MicroPython unix port and read its output."""

import csv
import json
import os
import subprocess
import time
from pathlib import Path

from crf_host.paths import FIRMWARE, REPO, micropython, micropython_env

# Trace columns, in the order the firmware's virtual freezer writes them.
TRACE_COLUMNS = (
    "t_s", "state", "step", "kind", "probe", "rate_c_per_min",
    "sp_chamber_c", "sp_sample_c", "chamber_c", "sample_c",
    "chamber_true_c", "sample_true_c", "valve_duty", "heater_duty",
    "ln2_kg", "valve_cycles", "comp",
)
TEXT_COLUMNS = frozenset(("state", "kind", "probe"))

# A full HPC bag run takes well under a minute at --speed max; anything past
# this is a hung firmware, not a slow one.
TIMEOUT_S = 900


def _cell(name, text):
    if name in TEXT_COLUMNS:
        return text
    if text is None or text == "" or text.lower() in ("none", "nan"):
        return None  # probe fault or "not applicable" in this state
    return float(text)


def read_trace(path):
    """Trace CSV -> list of dicts: numbers as float (None when empty), text as str."""
    with open(path, newline="") as f:
        return [{k: _cell(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_trace(path, rows):
    """Rows (dicts) -> trace CSV with the firmware's column order."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TRACE_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in TRACE_COLUMNS})


def run_virtual(plant, profile_name, out_dir, seed=None, heap="128wK",
                exit_after_end_s=120, config=None, speed="max", batch="", operator="",
                flash=None, cut_at_s=None, log="on", outage_s=None, run_for_s=None):
    """Run one profile in the virtual freezer; return (rows, summary, wall_s).

    Each run gets a fresh flash image (unless `flash` names one to reuse) so
    earlier runs cannot leak state into it. The run's record is copied out of
    the virtual flash into out_dir (NNNNNN.run). Raises RuntimeError with the
    firmware's stderr if the process fails.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trace, summary_path = out / "trace.csv", out / "summary.json"
    fresh = flash is None
    flash = Path(flash) if flash else out / "flash.img"
    for p in (trace, summary_path) + ((flash,) if fresh else ()):
        if p.exists():
            p.unlink()
    cmd = [
        micropython(), "-X", "heapsize=%s" % heap,
        str(FIRMWARE / "crf_sim" / "run.py"),
        "--plant", str(Path(plant).resolve()),
        "--speed", str(speed),
        "--flash", str(flash),
        "--autostart", profile_name,
        "--exit-after-end", str(exit_after_end_s),
        "--trace", str(trace),
        "--summary", str(summary_path),
        "--export-runs", str(out),
        "--log", log,
    ]
    if batch:
        cmd += ["--batch", batch]
    if operator:
        cmd += ["--operator", operator]
    if cut_at_s is not None:
        cmd += ["--cut-at", str(int(cut_at_s))]
    if outage_s is not None:        # boot after a cut: the freezer was off this long
        cmd += ["--outage", str(int(outage_s))]
    if run_for_s is not None:
        cmd += ["--run-for", str(int(run_for_s))]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if config is not None:
        cmd += ["--config", str(Path(config).resolve())]
    env = micropython_env()
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=str(REPO), env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError("virtual freezer timed out after %d s: %s" % (TIMEOUT_S, e.stderr or ""))
    wall_s = time.monotonic() - t0
    (out / "link.log").write_text(proc.stdout or "")
    if proc.returncode != 0 or not trace.exists() or not summary_path.exists():
        # The unix port may print a traceback on the link (stdout) rather than stderr.
        why = (proc.stderr or "").strip()
        if not why:
            why = "\n".join((proc.stdout or "").strip().splitlines()[-12:]) or "(no output)"
        raise RuntimeError("virtual freezer failed (exit %d) running %s on %s:\n%s"
                           % (proc.returncode, profile_name, plant, why))
    with open(summary_path) as f:
        summary = json.load(f)
    return read_trace(trace), summary, wall_s
