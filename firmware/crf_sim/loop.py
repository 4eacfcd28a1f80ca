# The virtual freezer's loop (run.py): the firmware's passes in virtual
# time, the trace, the harness's exits (end of run, power cut, autotune,
# --run-for) and the figures the summary reports (crf_sim/finish.py).
import array
import gc
import time
from crf.profile.engine import END, STOPPED
from crf.record.runlog import copy_file

BINS = 1000               # tick-jitter histogram: 0.1 ms bins, the last one "100 ms or more"


# Benchmark hooks (set up by crf_sim/start.py)
def nothing(*a):
    return False


def timed(fn, acc):
    def call(*a):
        t0 = time.ticks_us()
        r = fn(*a)
        acc[0] += time.ticks_diff(time.ticks_us(), t0)
        return r
    return call


def timed_service(service, acc):
    def call(now, ticked):          # (no argument tuple: no garbage)
        t0 = time.ticks_us()
        service(now, ticked)
        acc[0] += time.ticks_diff(time.ticks_us(), t0)
    return call


def _f(v):
    return "" if v is None else "%.3f" % v


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


def run(v):
    """Pass after pass until the harness's exit; the figures go into v."""
    opts = v.opts
    app = v.app
    board = v.board
    plant = v.plant
    dev = v.dev
    sim = v.sim
    trace = v.trace
    speed = v.speed
    run_for = int(opts["run_for"]) * 1000 if opts["run_for"] else None
    exit_after = int(opts["exit_after_end"]) * 1000 if opts["exit_after_end"] else None
    # --cut-at: the power goes at this virtual second: no stop, no seal.
    cut_at = int(opts["cut_at"]) * 1000 if opts["cut_at"] else None
    cut = False
    tuned = False
    autostart = opts["autostart"]
    clock = board.clock
    gc.collect()
    v.heap_boot = gc.mem_alloc()    # firmware loaded, App and board set up, before the loop
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
    wear0 = emu0 = None
    exit_code = 0
    jit = [0, None]             # control tick count, wall us of the last one
    # Tick-jitter histogram (diagnostics only): 4 KB in one piece, which a
    # fragmented heap may not have; then the summary has no tick_jitter.
    try:
        hist = array.array("I", bytes(4 * BINS)) if speed > 0 and opts["summary"] else None
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
                hist[d if d < BINS else BINS - 1] += 1
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
    v.wall_ms = time.ticks_diff(time.ticks_ms(), wall0)
    v.exit_code = exit_code
    v.cut = cut
    v.started = started
    v.heap_peak = heap_peak
    v.end_ms = end_ms
    v.loop_us = loop_us
    v.pass_max_us = pass_max_us
    v.ticks0 = ticks0
    v.wear0 = wear0
    v.emu0 = emu0
    v.hist = hist
    v.period_us = period_us
