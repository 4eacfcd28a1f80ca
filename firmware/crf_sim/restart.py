# The virtual freezer across a restart (simulation only): the emulated
# watchdog's reset, and the freezer's contents and RTC carried through a
# power cut or a reset in files beside the flash image (NAME.plant, NAME.rtc,
# NAME.cause: the chip's reset-cause register). Kept apart from
# crf_sim.faults so the boot after a restart loads little.
import json
import os
from crf_sim.board_virtual import EXIT_RESTART


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


def summary(app, board, inj, exit_code):
    """The fault run's part of run.py's summary."""
    return {"exit": exit_code, "fault": inj.report() if inj is not None else None,
            "alarms": [[r.code, r.since_s - board.clock._rtc_base, r.active, r.acked]
                       for r in app.alarms.active()],
            "state": app.engine.state, "no_sample": app.engine.no_sample,
            "transfer": app.safety.transfer, "run_ms": app.run_ms,
            "outputs": {"valve": board.valve, "heater": board.heater, "fan": board.fan,
                        "relay": board.alarm_relay, "buzzer": board.buzzer},
            "product_c": board.plant.sample_c}
