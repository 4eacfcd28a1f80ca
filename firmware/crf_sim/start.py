# The virtual freezer's start (run.py): options, the flash image, the plant
# or its replay, the board and the App, the benchmark hooks. Loaded once
# and forgotten before the loop (crf_sim/loop.py), so its code does not sit
# in the 128 KiW heap the firmware runs in.
import gc
import os
import sys
import time
from crf import lazy
from crf.app import App
from crf.link import auth
from crf.profile import checked
from crf.record.runlog import exists
from crf_sim.board_virtual import VirtualBoard
from crf_sim import flashdev
# (the hooks live in the loop's module: a function keeps its module's code
# alive, and this one is forgotten once the loop starts)
from crf_sim.loop import nothing, timed, timed_service

USAGE = "usage: run.py [--plant P] [--seed N] [--speed max|X] [--flash IMG] [--trace CSV] " \
        "[--autostart NAME] [--batch B] [--operator O] [--exit-after-end S] [--summary JSON] " \
        "[--config JSON] [--export-runs DIR] [--log on|off] [--cut-at S] [--pin PIN] " \
        "[--autotune T1,T2 --tune-out JSON] [--panel on|off] [--fault F] [--outage S] [--run-for S] " \
        "[--replay FILE] [--time-panel on|off] [--warm on|off]"

TRACE_HEADER = ("t_s,state,step,kind,probe,rate_c_per_min,sp_chamber_c,sp_sample_c,chamber_c,sample_c,"
                "chamber_true_c,sample_true_c,valve_duty,heater_duty,ln2_kg,valve_cycles,comp\n")


class Run:
    """What the loop and the finish share (crf_sim/loop.py, finish.py)."""


def parse_args(argv, here):
    opts = {"plant": here + "/plants/bag_50ml.json", "seed": None, "speed": "1", "flash": None,
            "trace": None, "autostart": None, "exit_after_end": None, "summary": None, "config": None,
            "batch": "", "operator": "", "export_runs": None, "log": "on",
            "cut_at": None, "pin": None, "autotune": None, "tune_out": None, "panel": "on",
            "fault": None, "outage": "0", "run_for": None, "replay": None, "time_panel": "off",
            "warm": "off"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--") or i + 1 >= len(argv):
            raise ValueError(USAGE)
        key = a[2:].replace("-", "_")
        if key not in opts:
            raise ValueError("unknown option %s\n%s" % (a, USAGE))
        opts[key] = argv[i + 1]
        i += 2
    return opts


def seed_flash(board, firmware):
    # First boot of a fresh image: install the standard profiles, as the
    # deploy step does on a real board.
    root = board.storage_root
    pdir = root + "/profiles"
    if not exists(pdir):
        os.mkdir(pdir)
    src = firmware + "/profiles"
    for name in os.listdir(src):
        if name.endswith(".json") and not exists(pdir + "/" + name):
            with open(src + "/" + name) as f:
                text = f.read()
            with open(pdir + "/" + name, "w") as f:
                f.write(text)
            # Shipped profiles come validated, with their digest mark, as
            # `make deploy` stages them (crf/profile/checked.py).
            checked.mark(pdir, name[:-5], checked.digest(text))


def setup(argv, here, firmware):
    """-> a Run ready for the loop, or an exit status (bad options)."""
    try:
        opts = parse_args(argv, here)
        # The plant file's validation is not kept: only the model runs.
        from crf_sim.plantfile import load_plant
        spec = load_plant(opts["plant"])
        load_plant = None
        lazy.forget("crf_sim.plantfile")
        gc.collect()
        cfg = None
        if opts["config"]:
            cfg = lazy.load("crf.config").load(opts["config"])
            lazy.drop("crf.config")
    except ValueError as ex:       # (crf_sim.plantfile.PlantError is one)
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
    seed_flash(board, firmware)
    sim = None
    if opts["flash"]:
        board.cause_path = opts["flash"] + ".cause"
        if opts["fault"] or opts["cut_at"] or exists(opts["flash"] + ".rtc"):
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
    v = Run()
    v.opts = opts
    v.spec_name = spec.get("name")
    spec = None
    v.plant = plant
    v.board = board
    v.app = app
    v.dev = dev
    v.flash = flash
    v.sim = sim
    v.speed = speed
    v.boot_facts = app.log.interrupted if app.log else None
    v.free0 = os.statvfs(board.storage_root)[3]     # blocks free before this run's record
    v.log_us = [0]
    if opts["log"] == "off":
        # Benchmark baseline only: the run opens and seals its record, but
        # writes no samples or events in between.
        app.log.sample = nothing
        app.log.event = nothing
    elif app.log is not None:
        # Time spent in the run log's writes, measured inside the same run.
        app.log.sample = timed(app.log.sample, v.log_us)
        app.log.event = timed(app.log.event, v.log_us)
    v.panel_us = [0]
    if app.panel is not None and opts["time_panel"] == "on":
        # The panel's own time (buttons, redraws, transfers) inside the run;
        # the wrapper's call costs a little, so loop-time comparisons are
        # made from runs without it.
        app.panel.service = timed_service(app.panel.service, v.panel_us)
    v.trace = open(opts["trace"], "w") if opts["trace"] else None
    if v.trace:
        v.trace.write(TRACE_HEADER)
    return v
