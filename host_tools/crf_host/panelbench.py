"""Front-panel loop-time budget, measured on the virtual freezer (docs/panel.md:
drawing and button handling add at most 15 % to the loop's time per tick).

Each figure is the median over several runs of the HPC bag profile on the
50 ml bag, on the unix port at the board's 128 KiW heap, with the panel
fitted and without it:

- firmware alone: the probe readings are replayed from a closed-loop run
  (crf_sim/replay.py), so the heap is collected about as often as on the
  board; with the plant model in the process its float arithmetic makes
  several times the firmware's garbage, and every collection costs more
  with the panel's code resident;
- cold boot and steady state (crf_sim/warm.py): MicroPython's pools of
  names grow by doubling and never shrink; a freezer in service has loaded
  every module once, so its pools are at that size with or without the
  panel, while at a cold boot the smaller firmware may still sit under a
  doubling;
- the panel's own time (Panel.service) timed inside a separate run;
- the closed loop with the plant model, for reference.
"""

import csv
import json
import statistics
import struct
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crf_host.paths import PLANTS_DIR
from crf_host.runner import run_sim, why_failed

BUDGET = 0.15
PLANT = PLANTS_DIR / "bag_50ml.json"
PROFILE = "hpc_bag"
NO_READING = -32768


def write_replay(trace_csv, out):
    """A closed-loop trace (run.py --trace) -> the replay file: chamber and
    sample per virtual second in 0.01 degC, int16 little-endian."""
    data = bytearray()
    with open(trace_csv, newline="") as f:
        for row in csv.DictReader(f):
            pair = []
            for key in ("chamber_c", "sample_c"):
                text = row[key]
                pair.append(NO_READING if text in ("", "None") else
                            max(-32767, min(32767, int(round(float(text) * 100)))))
            data += struct.pack("<hh", *pair)
    Path(out).write_bytes(data)
    return len(data) // 4


def _run(tmp, tag, extra):
    d = Path(tmp) / tag
    d.mkdir()
    args = ["--plant", PLANT, "--speed", "max", "--flash", d / "flash.img", "--autostart", PROFILE,
            "--summary", d / "summary.json"] + extra
    proc, _ = run_sim(args, "panel bench run %s" % tag)
    if proc.returncode != 0:
        raise RuntimeError("panel bench run %s failed:\n%s" % (tag, why_failed(proc)))
    return json.loads((d / "summary.json").read_text())


def measure(runs=9):
    """-> dict of figures over `runs` runs of each configuration. Runs with
    and without the panel alternate, and the figure judged is the median of
    each pair's ratio (neighbouring runs share the machine's load)."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "closed.csv"
        s = _run(tmp, "record", ["--panel", "off", "--exit-after-end", "120", "--trace", trace])
        seconds = write_replay(trace, Path(tmp) / "replay.bin")
        replay = ["--replay", Path(tmp) / "replay.bin", "--run-for", str(seconds)]
        closed = ["--exit-after-end", "120"]
        configs = {
            "alone_warm": replay + ["--warm", "on"],
            "alone_cold": replay,
            "closed_cold": closed,
        }
        rows = {}
        for i in range(runs):
            for name, extra in configs.items():
                for panel in ("off", "on", "timed"):
                    if panel == "timed" and name == "closed_cold":
                        continue
                    more = ["--panel", "off"] if panel == "off" else ["--panel", "on"]
                    if panel == "timed":
                        more += ["--time-panel", "on"]
                    rows.setdefault((name, panel), []).append(
                        _run(tmp, "%s-%s-%d" % (name, panel, i), extra + more))
    med = lambda name, panel, key: statistics.median(r[key] for r in rows[(name, panel)])  # noqa: E731
    out = {"runs": runs, "plant": PLANT.name, "profile": PROFILE, "run_s": s.get("sim_s"),
           "heap": "128wK", "budget": BUDGET, "configs": {}}
    for name in configs:
        offs = [r["loop_us_per_tick"] for r in rows[(name, "off")]]
        ons = [r["loop_us_per_tick"] for r in rows[(name, "on")]]
        c = {
            "loop_us_per_tick_without_panel": statistics.median(offs),
            "loop_us_per_tick_with_panel": statistics.median(ons),
            "added": statistics.median(on / off - 1 for on, off in zip(ons, offs)),
            "added_per_pair": [round(on / off - 1, 4) for on, off in zip(ons, offs)],
            "heap_boot_bytes_without_panel": med(name, "off", "heap_boot_bytes"),
            "heap_boot_bytes_with_panel": med(name, "on", "heap_boot_bytes"),
            "heap_peak_bytes_with_panel": med(name, "on", "heap_peak_bytes"),
            "heap_total_bytes": rows[(name, "on")][0]["heap_total_bytes"],
            "runs_without_panel": offs,
            "runs_with_panel": ons,
        }
        if (name, "timed") in rows:
            own = med(name, "timed", "panel_us_per_tick")
            c["panel_own_us_per_tick"] = own
            c["panel_own_share"] = own / c["loop_us_per_tick_without_panel"]
        out["configs"][name] = c
    out["met_steady_state"] = out["configs"]["alone_warm"]["added"] <= BUDGET
    out["met_cold_boot"] = out["configs"]["alone_cold"]["added"] <= BUDGET
    return out


_TITLES = {
    "alone_warm": "alone, steady",
    "alone_cold": "alone, cold boot",
    "closed_cold": "with plant, cold",
}


def report(r, console=None):
    console = console or Console()
    t = Table(title="Front panel: loop time per control tick (%s on %s, unix port, 128 KiW, "
              "medians of %d runs)" % (r["profile"], r["plant"], r["runs"]))
    for col in ("configuration", "no panel", "panel", "added", "panel's own", "boot heap", "budget"):
        t.add_column(col, justify="left" if col == "configuration" else "right")
    for name, c in r["configs"].items():
        own = c.get("panel_own_us_per_tick")
        t.add_row(_TITLES[name], "%.1f us" % c["loop_us_per_tick_without_panel"],
                  "%.1f us" % c["loop_us_per_tick_with_panel"], "%+.1f %%" % (100 * c["added"]),
                  "-" if own is None else "%.1f us %.1f %%" % (own, 100 * c["panel_own_share"]),
                  "%.0f/%.0f KB" % (c["heap_boot_bytes_without_panel"] / 1024,
                                    c["heap_boot_bytes_with_panel"] / 1024),
                  "<= %d %%" % (100 * r["budget"]) if name.startswith("alone") else "ref.")
    console.print(t)
    console.print("added: median over the run pairs (panel / no panel) of their ratio; "
                  "panel's own: Panel.service timed inside a run")
    console.print("budget <= %d %%: steady state %s, cold boot %s"
                  % (100 * r["budget"], "met" if r["met_steady_state"] else "NOT met",
                     "met" if r["met_cold_boot"] else "NOT met"))
