"""The pieces of `make bench-panel` (crf_host.panelbench): the replay of a
recorded run's probe readings in place of the plant model, the steady-state
warm-up of MicroPython's name pools, the panel's own time, and the report."""

import json
import struct

from crf_host import panelbench
from crf_host.paths import PLANTS_DIR
from crf_host.runner import read_trace, run_sim, why_failed

PLANT = PLANTS_DIR / "bag_50ml.json"


def _trace_csv(path, pairs):
    cols = ("t_s", "state", "chamber_c", "sample_c")
    lines = [",".join(cols)]
    for t, (c, s) in enumerate(pairs):
        lines.append("%d,running,%s,%s" % (t, "" if c is None else c, "" if s is None else s))
    path.write_text("\n".join(lines) + "\n")


def test_replay_file_holds_tenths_of_a_degree_and_no_reading(tmp_path):
    _trace_csv(tmp_path / "t.csv", [(4.031, 4.0), (-80.126, None), (None, -327.68)])
    n = panelbench.write_replay(tmp_path / "t.csv", tmp_path / "r.bin")
    assert n == 3
    data = (tmp_path / "r.bin").read_bytes()
    assert struct.unpack("<6h", data) == (403, 400, -8013, -32768, -32768, -32767)


def _sim(tmp_path, tag, extra):
    d = tmp_path / tag
    d.mkdir()
    proc, _ = run_sim(["--plant", PLANT, "--speed", "max", "--flash", d / "f.img",
                       "--summary", d / "s.json", "--trace", d / "t.csv"] + extra, tag)
    assert proc.returncode == 0, why_failed(proc)
    return json.loads((d / "s.json").read_text()), read_trace(d / "t.csv")


def test_the_firmware_reads_the_replayed_temperatures(tmp_path):
    # steps every 10 s, a chamber probe that fails for 3 s, then the file ends
    pairs = [(20.0 - 5 * (t // 10), 21.0 - 2.5 * (t // 10)) for t in range(40)]
    for t in (20, 21, 22):
        pairs[t] = (None, pairs[t][1])
    _trace_csv(tmp_path / "t.csv", pairs)
    panelbench.write_replay(tmp_path / "t.csv", tmp_path / "r.bin")
    s, rows = _sim(tmp_path, "replay", ["--replay", tmp_path / "r.bin", "--run-for", "60", "--panel", "off",
                                           "--autostart", "hpc_bag"])
    by_t = {int(r["t_s"]): r for r in rows}
    for t in (5, 15, 35):
        assert abs(by_t[t]["chamber_c"] - pairs[t][0]) < 0.011, (t, by_t[t])
        assert abs(by_t[t]["sample_c"] - pairs[t][1]) < 0.011, (t, by_t[t])
    assert abs(by_t[55]["chamber_c"] - pairs[-1][0]) < 0.011     # the last readings hold
    assert s["ln2_kg"] == 0.0                                      # no plant: nothing acts


def test_warm_start_grows_the_name_pools_and_the_panel_times_itself(tmp_path):
    pairs = [(4.0, 4.0)] * 30
    _trace_csv(tmp_path / "t.csv", pairs)
    panelbench.write_replay(tmp_path / "t.csv", tmp_path / "r.bin")
    base = ["--replay", tmp_path / "r.bin", "--run-for", "30", "--autostart", "hpc_bag"]
    cold, _ = _sim(tmp_path, "cold", base + ["--panel", "off"])
    warm, _ = _sim(tmp_path, "warm", base + ["--panel", "off", "--warm", "on"])
    # every module's names interned once: the pools hold more than a cold boot's
    assert warm["heap_boot_bytes"] > cold["heap_boot_bytes"] + 8 * 1024
    timed, _ = _sim(tmp_path, "timed", base + ["--warm", "on", "--time-panel", "on"])
    assert "panel_us_per_tick" not in cold
    assert 0 < timed["panel_us_per_tick"] < timed["loop_us_per_tick"]


def test_report_names_both_states_and_the_verdict():
    from rich.console import Console

    def cfg(off, on):
        return {"loop_us_per_tick_without_panel": off, "loop_us_per_tick_with_panel": on,
                "added": on / off - 1, "heap_boot_bytes_without_panel": 180000,
                "heap_boot_bytes_with_panel": 200000, "panel_own_us_per_tick": 9.0,
                "panel_own_share": 9.0 / off}
    r = {"runs": 3, "profile": "hpc_bag", "plant": "bag_50ml.json", "budget": 0.15,
         "configs": {"alone_warm": cfg(100.0, 112.0), "alone_cold": cfg(100.0, 118.0),
                     "closed_cold": cfg(150.0, 190.0)},
         "met_steady_state": True, "met_cold_boot": False}
    con = Console(record=True, width=200)
    panelbench.report(r, con)
    out = con.export_text()
    assert "steady state" in out and "cold boot" in out and "+12.0 %" in out and "+18.0 %" in out
    assert "steady state met, cold boot NOT met" in out
