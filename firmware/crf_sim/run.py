# The virtual freezer on the MicroPython unix port:
#   micropython -X heapsize=128wK firmware/crf_sim/run.py [options]
# The unchanged firmware runs against VirtualBoard; the link is stdin/stdout.
# Options are listed in docs/architecture.md.
import sys
import os

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_FIRMWARE = _HERE.rsplit("/", 1)[0] if "/" in _HERE else ".."
if _FIRMWARE not in sys.path:
    sys.path.append(_FIRMWARE)      # after MICROPYPATH: build/mpy when the host set it

import array
import gc
# The firmware's largest modules first, with a collection after each: the
# compiler's garbage is freed before the next module's code is placed, so the
# heap stays in large pieces (128 KiW heap; see docs/architecture.md).
# The front panel (crf.panel) is fitted unless --panel off (loop-time
# comparisons without it).
_PANEL = not ("--panel" in sys.argv and sys.argv[sys.argv.index("--panel") + 1:][:1] == ["off"])
if "--warm" in sys.argv and sys.argv[sys.argv.index("--warm") + 1:][:1] == ["on"]:
    # Loop-time benchmarks in the steady state (crf_sim/warm.py).
    from crf_sim import warm
    warm.load_all(_FIRMWARE, _PANEL)
    del sys.modules["crf_sim.warm"]
    gc.collect()
for _m in ("crf.record.runlog", "crf.link.server", "crf.safety.guard", "crf.panel.ui",
           "crf.panel.screens", "crf.link.cmd_panel", "crf.app"):
    if _PANEL or "panel" not in _m:
        __import__(_m)
        gc.collect()
import json
import time
from crf_sim.board_virtual import VirtualBoard
from crf_sim import flashdev
from crf import lazy
from crf.app import App
from crf.profile.engine import END, STOPPED
from crf.record.runlog import copy_file, exists as _exists
from crf.link import auth
from crf.profile import checked

_USAGE = "usage: run.py [--plant P] [--seed N] [--speed max|X] [--flash IMG] [--trace CSV] " \
         "[--autostart NAME] [--batch B] [--operator O] [--exit-after-end S] [--summary JSON] " \
         "[--config JSON] [--export-runs DIR] [--log on|off] [--cut-at S] [--pin PIN] " \
         "[--autotune T1,T2 --tune-out JSON] [--panel on|off] [--fault F] [--outage S] [--run-for S] " \
         "[--replay FILE] [--time-panel on|off] [--warm on|off]"

TRACE_HEADER = ("t_s,state,step,kind,probe,rate_c_per_min,sp_chamber_c,sp_sample_c,chamber_c,sample_c,"
                "chamber_true_c,sample_true_c,valve_duty,heater_duty,ln2_kg,valve_cycles,comp\n")


def parse_args(argv):
    opts = {"plant": _HERE + "/plants/bag_50ml.json", "seed": None, "speed": "1", "flash": None,
            "trace": None, "autostart": None, "exit_after_end": None, "summary": None, "config": None,
            "batch": "", "operator": "", "export_runs": None, "log": "on",
            "cut_at": None, "pin": None, "autotune": None, "tune_out": None, "panel": "on",
            "fault": None, "outage": "0", "run_for": None, "replay": None, "time_panel": "off",
            "warm": "off"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--") or i + 1 >= len(argv):
            raise ValueError(_USAGE)
        key = a[2:].replace("-", "_")
        if key not in opts:
            raise ValueError("unknown option %s\n%s" % (a, _USAGE))
        opts[key] = argv[i + 1]
        i += 2
    return opts


def seed_flash(board):
    # First boot of a fresh image: install the standard profiles, as the
    # deploy step does on a real board.
    root = board.storage_root
    pdir = root + "/profiles"
    if not _exists(pdir):
        os.mkdir(pdir)
    src = _FIRMWARE + "/profiles"
    for name in os.listdir(src):
        if name.endswith(".json") and not _exists(pdir + "/" + name):
            with open(src + "/" + name) as f:
                text = f.read()
            with open(pdir + "/" + name, "w") as f:
                f.write(text)
            # Shipped profiles come validated, with their digest mark, as
            # `make deploy` stages them (crf/profile/checked.py).
            checked.mark(pdir, name[:-5], checked.digest(text))


_BINS = 1000              # tick-jitter histogram: 0.1 ms bins, the last one "100 ms or more"


def _jitter(hist, period_us):
    n = sum(hist)
    out = {"ticks": n, "period_ms": period_us / 1000.0}
    seen = 0
    for i in range(_BINS):
        seen += hist[i]
        if "p50_ms" not in out and seen * 2 >= n:
            out["p50_ms"] = (i + 1) / 10.0
        if "p99_ms" not in out and seen * 100 >= n * 99:
            out["p99_ms"] = (i + 1) / 10.0
        if hist[i]:
            out["max_ms"] = (i + 1) / 10.0      # upper edge of the bin
    return out


def _timed(fn, acc):
    def call(*a):
        t0 = time.ticks_us()
        r = fn(*a)
        acc[0] += time.ticks_diff(time.ticks_us(), t0)
        return r
    return call


def export_run(log, run_id, out_dir):
    # Copy a run's record out of the virtual flash to the host's file system:
    # the flash-side truth that tests compare fetched records against.
    src = log.file_of(run_id)
    copy_file(src, out_dir + "/" + src.rsplit("/", 1)[1])


def trace_row(app, board, t_s, valve_ms, ln2_kg):
    e = app.engine
    st = e.step
    rate = st.get("rate_c_per_min", 0.0) if (st and e.kind == "ramp") else 0.0
    p = board.plant
    return "%d,%s,%d,%s,%s,%.3f,%.3f,%.3f,%s,%s,%.3f,%.3f,%.3f,%.3f,%.5f,%d,%d\n" % (
        t_s, e.state, e.index + 1, e.kind or "-", (st.get("probe", "chamber") if st else "-"), rate,
        app.ctl.chamber_sp, e.sp_sample, _f(app.chamber_c), _f(app.sample_c),
        p.chamber_c, p.sample_c, valve_ms / 1000.0, app.ctl.heater_duty, ln2_kg,
        app.valve.cycles, 1 if e.comp else 0)


def _f(v):
    return "" if v is None else "%.3f" % v


def main(argv):
    try:
        opts = parse_args(argv)
        from crf_sim.plant import load_plant
        spec = load_plant(opts["plant"])
        if opts["replay"]:
            # The firmware alone: the plant model leaves the heap; its file
            # gave the probes' description (board.calibration).
            lazy.forget("crf_sim.plant")
            lazy.forget("crf_sim.sensor")
            load_plant = None
            gc.collect()
        cfg = None
        if opts["config"]:
            cfg = lazy.load("crf.config").load(opts["config"])
            lazy.drop("crf.config")
    except ValueError as ex:       # (crf_sim.plant.PlantError is one)
        sys.stderr.write("virtual freezer: %s\n" % ex)
        return 2
    seed = int(opts["seed"]) if opts["seed"] is not None else None
    if opts["replay"]:
        # Benchmarks of the firmware alone: probe readings from a recorded
        # run instead of the plant model (crf_sim/replay.py).
        from crf_sim.replay import ReplayPlant
        plant = ReplayPlant(opts["replay"], spec)
    else:
        from crf_sim.plant import Plant
        plant = Plant(spec, seed)
    speed = 0.0 if opts["speed"] == "max" else float(opts["speed"])
    board = VirtualBoard(plant, speed)
    # Without --flash the image is a scratch file, removed at exit.
    flash = opts["flash"] or "/tmp/crf-virtual-flash-%d.img" % (time.time_ns() % 1000000007)
    dev = flashdev.mount(flash, board.storage_root)
    seed_flash(board)
    sim = None
    if opts["flash"]:
        board.cause_path = opts["flash"] + ".cause"
        if opts["fault"] or opts["cut_at"] or _exists(opts["flash"] + ".rtc"):
            # Simulation only: restarts (the RTC and the freezer's contents
            # carry on through an outage) and fault injection (crf_sim.restart).
            from crf_sim import restart as sim
            sim.before_app(board, opts)
    gc.collect()
    if opts["pin"]:
        try:
            auth.set_pin(opts["pin"], board.storage_root)
        except ValueError as ex:
            sys.stderr.write("virtual freezer: %s\n" % ex)
            return 2
    if opts["panel"] == "on":
        board.fit_panel()
    app = App(board, cfg)
    if sim is not None:
        sim.after_app(app, board, opts)
    boot_facts = app.log.interrupted if app.log else None
    run_for = int(opts["run_for"]) * 1000 if opts["run_for"] else None
    free0 = os.statvfs(board.storage_root)[3]     # blocks free before this run's record
    log_us = [0]
    if opts["log"] == "off":
        # Benchmark baseline only: the run opens and seals its record, but
        # writes no samples or events in between.
        app.log.sample = lambda *a: False
        app.log.event = lambda *a: False
    elif app.log is not None:
        # Time spent in the run log's writes, measured inside the same run.
        app.log.sample = _timed(app.log.sample, log_us)
        app.log.event = _timed(app.log.event, log_us)
    panel_us = [0]
    if app.panel is not None and opts["time_panel"] == "on":
        # The panel's own time (buttons, redraws, transfers) inside the run;
        # the wrapper's call costs a little, so loop-time comparisons are
        # made from runs without it.
        service = app.panel.service

        def timed_service(now, ticked):     # (no argument tuple: no garbage)
            t0 = time.ticks_us()
            service(now, ticked)
            panel_us[0] += time.ticks_diff(time.ticks_us(), t0)
        app.panel.service = timed_service
    trace = open(opts["trace"], "w") if opts["trace"] else None
    if trace:
        trace.write(TRACE_HEADER)
    exit_after = int(opts["exit_after_end"]) * 1000 if opts["exit_after_end"] else None
    # --cut-at: the power goes at this virtual second: no stop, no seal.
    cut_at = int(opts["cut_at"]) * 1000 if opts["cut_at"] else None
    cut = False
    tuned = False
    autostart = opts["autostart"]
    clock = board.clock
    gc.collect()
    heap_boot = gc.mem_alloc()      # firmware loaded, App and board set up, before the loop
    wall0 = time.ticks_ms()
    next_trace = 0
    next_heap = 0
    heap_peak = 0
    last_valve_ms = 0
    end_ms = None
    started = False
    loop_us = 0
    pass_max_us = 0
    ticks0 = None
    exit_code = 0
    jit = [0, None]             # control tick count, wall us of the last one
    # Tick-jitter histogram (diagnostics only): 4 KB in one piece, which a
    # fragmented heap may not have; then the summary has no tick_jitter.
    try:
        hist = array.array("I", bytes(4 * _BINS)) if speed > 0 and opts["summary"] else None
    except MemoryError:
        hist = None
    period_us = app.cfg["control_period_ms"] * 1000 / speed if speed > 0 else 0
    while True:
        t0 = time.ticks_us()
        try:
            app.pass_once()
        except SystemExit as ex:
            # The link's restart / repl: leave as the board would, files intact.
            exit_code = ex.args[0] if ex.args else 0
            break
        t1 = time.ticks_us()
        dt = time.ticks_diff(t1, t0)
        if started:
            loop_us += dt
            if dt > pass_max_us:
                pass_max_us = dt
        if hist is not None and app.ticks != jit[0]:
            # Wall-clock spacing of control ticks (meaningful at --speed 1):
            # |gap - period| into a preallocated 0.1 ms histogram.
            if jit[1] is not None:
                d = int(abs(time.ticks_diff(t1, jit[1]) - period_us)) // 100
                hist[d if d < _BINS else _BINS - 1] += 1
            jit[0] = app.ticks
            jit[1] = t1
        app.safety.feed()
        if opts["autotune"] and app.chamber_c is not None:
            # Headless autotune through the link command's code path (crf.link.cmd_tune).
            if not tuned:
                from crf.link import cmd_tune
                cmd_tune.start(app, {"at": [float(t) for t in opts["autotune"].split(",")]}, "sim")
                tuned = True
            elif app.tuning is None:
                if opts["tune_out"]:
                    copy_file(board.storage_root + "/tune.json", opts["tune_out"])
                break
        if autostart and not started and app.chamber_c is not None:
            if not app.running():       # (a run recovered after a restart goes on)
                app.start_run(autostart, opts["batch"], "", opts["operator"])
            started = True
            if sim is not None:
                sim.started(app, board, opts)
            wear0 = (dev.progs, dev.prog_bytes, dev.erases, app.log.syncs, clock.ms)
            ticks0 = app.ticks
            emu0 = dev.emu_us
        ms = clock.ms
        if sim is not None and sim.poll(app, board, ms, cut_at):
            cut = sim.cut
            break
        if cut_at is not None and ms >= cut_at:
            cut = True
            break
        if run_for is not None and ms >= run_for:
            break
        if ms >= next_trace:
            if trace:
                trace.write(trace_row(app, board, ms // 1000, board.valve_on_ms - last_valve_ms, plant.ln2_kg))
            last_valve_ms = board.valve_on_ms
            next_trace += 1000
        if exit_after is not None and app.log is not None and app.log.run_id is not None:
            st = app.engine.state
            if st == END or st == STOPPED:
                if end_ms is None:
                    end_ms = ms
                elif ms - end_ms >= exit_after:
                    # The harness takes the product out: stop closes the record.
                    app.stop("sim")
                    break
        if ms >= next_heap:
            # Live heap high-water: collect, then measure what the firmware holds.
            gc.collect()
            used = gc.mem_alloc()
            if used > heap_peak:
                heap_peak = used
            next_heap += 60000
        if board.link_closed and not started and not opts["autotune"]:
            break
        app.wait_next_pass()
    wall_ms = time.ticks_diff(time.ticks_ms(), wall0)
    run_id = app.log.run_id if app.log else None
    app.link = None             # the loop is over: its buffers make room for the export
    gc.collect()
    if opts["export_runs"] and app.log and not cut:
        for rid, _, _ in app.log.runs():
            export_run(app.log, rid, opts["export_runs"])
    if not opts["flash"]:
        os.remove(flash)
    if trace:
        trace.close()
    if opts["summary"]:
        gc.collect()
        s = {
            "heap_peak_bytes": heap_peak,
            "heap_boot_bytes": heap_boot,
            "heap_total_bytes": gc.mem_alloc() + gc.mem_free(),
            "sim_s": clock.ms / 1000.0,
            "wall_s": wall_ms / 1000.0,
            "ln2_kg": plant.ln2_kg,
            "valve_cycles": app.valve.cycles,
            "nucleation_s": None if plant.nucleation_ms is None else plant.nucleation_ms / 1000.0,
            "nucleation_c": plant.nucleation_c,
            "tm_c": plant.tm_c,
            "run_end_s": None if end_ms is None else end_ms / 1000.0,
            "detected_nucleation_s": None if app.engine.nucleation_ms is None else app.engine.nucleation_ms / 1000.0,
            "profile": autostart,
            "run_id": run_id,
            "log_bytes": app.log.bytes if app.log else None,
            "log_problems": app.log.problems if app.log else app.log_problem,
            "log_failed": app.log.failed if app.log else None,
            "recovered": boot_facts,
            "cut": cut,
            "plant": spec.get("name"),
        }
        if sim is not None:
            s.update(sim.summary(app, board, exit_code))
        if started:
            ticks = app.ticks - ticks0
            s["loop_us_per_tick"] = loop_us / ticks if ticks else None
            if hist is not None and sum(hist):
                s["tick_jitter"] = _jitter(hist, period_us)
            s["log_us_per_tick"] = log_us[0] / ticks if ticks else None
            s["flash_emulation_us_per_tick"] = (dev.emu_us - emu0) / ticks if ticks else None
            s["pass_max_us"] = pass_max_us
            if opts["time_panel"] == "on":
                s["panel_us_per_tick"] = panel_us[0] / ticks if ticks else None
            st = os.statvfs(board.storage_root)
            s["log_flash_bytes"] = (free0 - st[3]) * st[0]
            hours = (clock.ms - wear0[4]) / 3600000.0
            s["flash_per_hour"] = {
                "record_syncs": (app.log.syncs - wear0[3]) / hours,
                "program_ops": (dev.progs - wear0[0]) / hours,
                "program_bytes": (dev.prog_bytes - wear0[1]) / hours,
                "block_erases": (dev.erases - wear0[2]) / hours}
        with open(opts["summary"], "w") as f:
            json.dump(s, f)
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
