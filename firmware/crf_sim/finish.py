# The virtual freezer's finish (run.py): after the loop, the run records
# copied out of the virtual flash, the trace closed, the summary written.
import gc
import json
import os
from crf.record.runlog import copy_file
from crf_sim.loop import BINS


def export_run(log, run_id, out_dir):
    # Copy a run's record out of the virtual flash to the host's file system:
    # the flash-side truth that tests compare fetched records against.
    src = log.file_of(run_id)
    copy_file(src, out_dir + "/" + src.rsplit("/", 1)[1])


def _jitter(hist, period_us):
    n = sum(hist)
    out = {"ticks": n, "period_ms": period_us / 1000.0}
    seen = 0
    for i in range(BINS):
        seen += hist[i]
        if "p50_ms" not in out and seen * 2 >= n:
            out["p50_ms"] = (i + 1) / 10.0
        if "p99_ms" not in out and seen * 100 >= n * 99:
            out["p99_ms"] = (i + 1) / 10.0
        if hist[i]:
            out["max_ms"] = (i + 1) / 10.0      # upper edge of the bin
    return out


def finish(v):
    """-> the process's exit status."""
    opts = v.opts
    app = v.app
    board = v.board
    plant = v.plant
    dev = v.dev
    clock = board.clock
    run_id = app.log.run_id if app.log else None
    app.link = None             # the loop is over: its buffers make room for the export
    gc.collect()
    if opts["export_runs"] and app.log and not v.cut:
        for rid, _, _ in app.log.runs():
            export_run(app.log, rid, opts["export_runs"])
    if not opts["flash"]:
        os.remove(v.flash)
    if v.trace:
        v.trace.close()
    if opts["summary"]:
        gc.collect()
        s = {
            "heap_peak_bytes": v.heap_peak,
            "heap_boot_bytes": v.heap_boot,
            "heap_total_bytes": gc.mem_alloc() + gc.mem_free(),
            "sim_s": clock.ms / 1000.0,
            "wall_s": v.wall_ms / 1000.0,
            "ln2_kg": plant.ln2_kg,
            "valve_cycles": app.valve.cycles,
            "nucleation_s": None if plant.nucleation_ms is None else plant.nucleation_ms / 1000.0,
            "nucleation_c": plant.nucleation_c,
            "tm_c": plant.tm_c,
            "run_end_s": None if v.end_ms is None else v.end_ms / 1000.0,
            "detected_nucleation_s": None if app.engine.nucleation_ms is None else app.engine.nucleation_ms / 1000.0,
            "profile": opts["autostart"],
            "run_id": run_id,
            "log_bytes": app.log.bytes if app.log else None,
            "log_problems": app.log.problems if app.log else app.log_problem,
            "log_failed": app.log.failed if app.log else None,
            "recovered": v.boot_facts,
            "cut": v.cut,
            "plant": v.spec_name,
        }
        if v.sim is not None:
            s.update(v.sim.summary(app, board, v.exit_code))
        if v.started:
            ticks = app.ticks - v.ticks0
            s["loop_us_per_tick"] = v.loop_us / ticks if ticks else None
            if v.hist is not None and sum(v.hist):
                s["tick_jitter"] = _jitter(v.hist, v.period_us)
            s["log_us_per_tick"] = v.log_us[0] / ticks if ticks else None
            s["flash_emulation_us_per_tick"] = (dev.emu_us - v.emu0) / ticks if ticks else None
            s["pass_max_us"] = v.pass_max_us
            if opts["time_panel"] == "on":
                s["panel_us_per_tick"] = v.panel_us[0] / ticks if ticks else None
            st = os.statvfs(board.storage_root)
            s["log_flash_bytes"] = (v.free0 - st[3]) * st[0]
            wear0 = v.wear0
            hours = (clock.ms - wear0[4]) / 3600000.0
            s["flash_per_hour"] = {
                "record_syncs": (app.log.syncs - wear0[3]) / hours,
                "program_ops": (dev.progs - wear0[0]) / hours,
                "program_bytes": (dev.prog_bytes - wear0[1]) / hours,
                "block_erases": (dev.erases - wear0[2]) / hours}
        with open(opts["summary"], "w") as f:
            json.dump(s, f)
    return v.exit_code
