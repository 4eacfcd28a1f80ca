"""Run the virtual freezer headless on the MicroPython unix port and read its output."""

import csv
import json
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
RUN_PY = FIRMWARE / "crf_sim" / "run.py"


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


def run_sim(args, what, heap="128wK", timeout_s=TIMEOUT_S):
    """Run the virtual freezer (firmware/crf_sim/run.py ARGS) headless on the
    unix port, the firmware loaded as bytecode (build/mpy); -> (the finished
    process, wall seconds). RuntimeError naming `what` if it times out."""
    cmd = [micropython(), "-X", "heapsize=%s" % heap, str(RUN_PY)] + [str(a) for a in args]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=str(REPO), env=micropython_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError("%s timed out after %d s: %s" % (what, timeout_s, e.stderr or ""))
    return proc, time.monotonic() - t0


def why_failed(proc):
    """What a failed run said: its stderr, else the last lines it printed
    (the unix port may print a traceback on the link, stdout)."""
    why = (proc.stderr or "").strip()
    return why or "\n".join((proc.stdout or "").strip().splitlines()[-12:]) or "(no output)"


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
    args = [
        "--plant", Path(plant).resolve(),
        "--speed", speed,
        "--flash", flash,
        "--autostart", profile_name,
        "--exit-after-end", exit_after_end_s,
        "--trace", trace,
        "--summary", summary_path,
        "--export-runs", out,
        "--log", log,
    ]
    if batch:
        args += ["--batch", batch]
    if operator:
        args += ["--operator", operator]
    if cut_at_s is not None:
        args += ["--cut-at", int(cut_at_s)]
    if outage_s is not None:        # boot after a cut: the freezer was off this long
        args += ["--outage", int(outage_s)]
    if run_for_s is not None:
        args += ["--run-for", int(run_for_s)]
    if seed is not None:
        args += ["--seed", seed]
    if config is not None:
        args += ["--config", Path(config).resolve()]
    proc, wall_s = run_sim(args, "virtual freezer", heap)
    (out / "link.log").write_text(proc.stdout or "")
    if proc.returncode != 0 or not trace.exists() or not summary_path.exists():
        raise RuntimeError("virtual freezer failed (exit %d) running %s on %s:\n%s"
                           % (proc.returncode, profile_name, plant, why_failed(proc)))
    with open(summary_path) as f:
        summary = json.load(f)
    return read_trace(trace), summary, wall_s
