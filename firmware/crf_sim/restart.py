# The virtual freezer across a restart (simulation only): the emulated
# watchdog's reset, and the freezer's contents and RTC carried through a
# power cut or a reset in files beside the flash image (NAME.plant, NAME.rtc,
# NAME.cause: the chip's reset-cause register). Kept apart from
# crf_sim.faults so the boot after a restart loads little.
import json
import os
from crf_sim.board_virtual import EXIT_RESTART


def read_cause(board):
    path = board.cause_path
    try:
        with open(path) as f:
            cause = f.read().strip()
        os.remove(path)
        return cause or None
    except OSError:
        return None


def restore_rtc(board, path, outage_s):
    """After a restart the RTC (battery-backed) went on through the outage."""
    try:
        with open(path) as f:
            rtc = int(f.read())
        os.remove(path)
    except (OSError, ValueError):
        return False
    board.clock.set_rtc_s(rtc + outage_s)
    return True


_PLANT_KEYS = ("t_ms", "_carry_ms", "_ring_i", "ln2_kg", "supply_factor", "_h", "units_c", "_x",
               "_s", "_sum_tg", "_blk", "chamber_c", "wall_c", "sample_c", "_hw", "q_ln2_j",
               "q_heater_j", "q_fan_j", "q_ambient_j", "q_samples_j", "nucleation_ms",
               "nucleation_c")


def save_state(board, cause=None):
    """The freezer's contents and the RTC survive the controller's restart."""
    path = board.cause_path
    if not path:
        return
    p = board.plant
    st = {k: getattr(p, k) for k in _PLANT_KEYS}
    st["ring"] = list(p._ring)
    st["probes"] = [p._chamber_probe.lagged_c, p._sample_probe.lagged_c]
    with open(path[:-6] + ".plant", "w") as f:
        f.write(json.dumps(st))
    with open(path[:-6] + ".rtc", "w") as f:
        f.write(str(board.clock.rtc_s()))
    if cause:
        with open(path, "w") as f:
            f.write(cause)


def boot(board, flash, outage_s):
    """Before the first pass: restore the plant, advanced through the outage
    with every output off (the RTC: VirtualBoard.restore_rtc, before the App)."""
    path = flash + ".plant"
    try:
        with open(path) as f:
            st = json.loads(f.read())
    except OSError:
        return None
    os.remove(path)
    p = board.plant
    for k in _PLANT_KEYS:
        setattr(p, k, st[k])
    ring = st["ring"]
    for i in range(len(ring)):
        p._ring[i] = ring[i]
    p._chamber_probe.lagged_c, p._sample_probe.lagged_c = st["probes"]
    if outage_s:
        p.step(outage_s * 1000, False, 0.0, False)
    return st


def watchdog_reset(board):
    """The emulated watchdog expired: outputs drop, the chip resets."""
    board.safe_outputs()
    save_state(board, "watchdog")
    raise SystemExit(EXIT_RESTART)


# -- run.py's hooks ------------------------------------------------------------
restarted = False
cut = False
inj = None


def before_app(board, opts):
    """Before the firmware boots: after a cut or a watchdog reset the RTC went on."""
    global restarted
    restarted = restore_rtc(board, opts["flash"] + ".rtc", int(opts["outage"]))


def after_app(app, board, opts):
    if restarted:
        boot(board, opts["flash"], int(opts["outage"]))
    if opts["fault"]:
        import gc
        gc.collect()
        from crf_sim import faults      # noqa: F401  (loaded now, while the heap is tidy)


def started(app, board, opts):
    global inj
    if opts["fault"]:
        from crf_sim.faults import Injector
        inj = Injector(app, board, opts["fault"])


def poll(app, board, ms, cut_at):
    """After each pass: True when run.py should stop (cut: a power cut)."""
    global cut
    if inj is not None:
        inj.poll(ms)
        if inj.done:
            app.stop("sim")             # seen enough: close the record as the harness does
            return True
        cut = inj.cut
    if cut_at is not None and ms >= cut_at:
        cut = True
    if cut:
        save_state(board)
        return True
    return False


def summary(app, board, exit_code):
    """The fault run's part of run.py's summary."""
    return {"exit": exit_code, "fault": inj.report() if inj is not None else None,
            "alarms": [[r.code, r.since_s - board.clock._rtc_base, r.active, r.acked]
                       for r in app.alarms.active()],
            "state": app.engine.state, "no_sample": app.engine.no_sample,
            "transfer": app.safety.transfer, "run_ms": app.run_ms,
            "outputs": {"valve": board.valve, "heater": board.heater, "fan": board.fan,
                        "relay": board.alarm_relay, "buzzer": board.buzzer},
            "product_c": board.plant.sample_c}
