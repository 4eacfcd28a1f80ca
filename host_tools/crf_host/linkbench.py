"""Link budgets, measured on the virtual freezer (`make bench-link`).

1. Fetching the record of a 4-hour run over a link limited to 115200 baud
   must take <= 1.5 x the time its raw bytes need at that rate. The virtual
   freezer's pty relay emulates the UART (8N1: baud/10 bytes/s toward the
   host); the freezer runs in real time with a run in progress.
2. The control loop's period jitter while the host streams status (1 s) and
   fetches that record: <= 10 % of the period. The firmware's control ticks
   are timed on the wall clock inside the virtual freezer (run.py's
   `tick_jitter`: |gap between ticks - period|).
Each figure is the median over several sessions.
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crf_host.logbench import four_hour_run
from crf_host.records import read_run
from crf_host.simlaunch import VirtualFreezer

BAUD = 115200
SESSION_S = 30          # virtual (= wall, at speed 1) seconds each session runs
RATIO_BUDGET = 1.5
JITTER_BUDGET = 0.10


def _session(img, summary, baud):
    from crf_host.link import Client

    args = ["--autostart", "selftest", "--cut-at", str(SESSION_S), "--summary", str(summary)]
    statuses = 0
    with VirtualFreezer(speed="1", flash=img, baud=baud, extra_args=args) as vf:
        with Client(vf.port, timeout_s=5.0) as c:
            c.identify()
            c.subscribe(status_s=1, events=True)
            t0 = time.monotonic()
            data = c.fetch_log(1)
            fetch_s = time.monotonic() - t0
            while vf.running():
                statuses += sum(1 for cmd, _ in c.poll_unsolicited(0.2) if cmd == "status")
        vf.wait(10)
    with open(summary) as f:
        s = json.load(f)
    return data, fetch_s, statuses, s


def measure(sessions=3, baud=BAUD):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        img = tmp / "flash.img"
        four_hour_run(tmp / "four_hours", flash=img)
        truth = (tmp / "four_hours" / "000001.run").read_bytes()
        for i in range(sessions):
            data, fetch_s, statuses, s = _session(img, tmp / ("s%d.json" % i), baud)
            raw_s = len(data) / (baud / 10.0)
            rows.append({"bytes": len(data), "identical": data == truth,
                         "verified": read_run(data).verified, "fetch_s": fetch_s,
                         "raw_s": raw_s, "ratio": fetch_s / raw_s, "statuses": statuses,
                         "jitter": s.get("tick_jitter")})
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    jit = lambda key: statistics.median(r["jitter"][key] for r in rows)  # noqa: E731
    period = rows[0]["jitter"]["period_ms"]
    return {"sessions": sessions, "baud": baud, "record_bytes": rows[0]["bytes"],
            "all_identical": all(r["identical"] for r in rows),
            "all_verified": all(r["verified"] for r in rows),
            "fetch_s": med("fetch_s"), "raw_s": rows[0]["raw_s"], "ratio": med("ratio"),
            "statuses_per_session": med("statuses"), "period_ms": period,
            "jitter_p50_ms": jit("p50_ms"), "jitter_p99_ms": jit("p99_ms"),
            "jitter_max_ms": jit("max_ms"), "jitter_max_share": jit("max_ms") / period,
            "per_session": rows}


def report(r, console=None):
    console = console or Console()
    t = Table(title="Link budgets (%d sessions at %d baud, medians)" % (r["sessions"], r["baud"]))
    t.add_column("figure")
    t.add_column("measured", justify="right")
    t.add_column("budget", justify="right")
    t.add_column("")
    ok = lambda c: "[green]met[/]" if c else "[red]missed[/]"  # noqa: E731
    t.add_row("4-hour record fetched", "%d B, %s, %s" % (
        r["record_bytes"], "byte-identical" if r["all_identical"] else "DIFFERENT",
        "verifies" if r["all_verified"] else "DOES NOT VERIFY"), "", "")
    t.add_row("fetch time / raw byte time", "%.2f s / %.2f s = %.2f x" % (r["fetch_s"], r["raw_s"], r["ratio"]),
              "<= %.1f x" % RATIO_BUDGET, ok(r["ratio"] <= RATIO_BUDGET))
    t.add_row("status frames received per %d s session" % SESSION_S, "%d" % r["statuses_per_session"], "", "")
    t.add_row("control tick jitter p50 / p99", "%.2f / %.2f ms" % (r["jitter_p50_ms"], r["jitter_p99_ms"]), "", "")
    t.add_row("control tick jitter max", "%.2f ms = %.1f %% of %d ms" % (
        r["jitter_max_ms"], 100 * r["jitter_max_share"], r["period_ms"]),
        "<= 10 %", ok(r["jitter_max_share"] <= JITTER_BUDGET))
    console.print(t)
