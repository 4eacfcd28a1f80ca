# Renders the panel's key screens with the real framebuf on the MicroPython
# unix port and prints one line per screen: "<name> <hex of the 1024-byte
# MONO_VLSB buffer>". tests/panel/test_panel_snapshots.py turns them into
# PNG images and compares them with the reviewed references in
# tests/panel_ref/.  Run from the repo root:
#   MICROPYPATH=firmware:tests/panel micropython tests/panel/render_mpy.py
import binascii
import sys
import panel_fake as F
from crf.panel import ui as U
from crf.panel import screens


def mod(name):
    __import__("crf.panel." + name)
    return sys.modules["crf.panel." + name]

ROOT = "/tmp/crf-panel-render"


def scene(name, setup):
    app, p = F.make(ROOT)
    now = app.clock.ticks_ms()
    setup(app, p, now)
    screens.draw(p)
    print(name, binascii.hexlify(p.disp.buf).decode())


def running(app, e, state="running"):
    app.start_run("hpc_bag", "B2027-0117", "HPC-bag-3", "ANNA")
    e.state = state
    e.index = 2
    e.kind = "ramp"
    e.step = e.profile["steps"][2]
    e.probe = "sample"
    e.sp_sample = -12.5
    e.rate_c_s = -1.0 / 60
    e.elapsed_ms = (41 * 60 + 12) * 1000
    app.chamber_c = -31.4
    app.sample_c = -12.8
    app.ctl.chamber_sp = -30.0


def home_idle(app, p, now):
    app.chamber_c = 21.7
    app.sample_c = 22.3


def home_running(app, p, now):
    running(app, app.engine)
    p.operator = "ANNA"


def home_alarm(app, p, now):
    running(app, app.engine)
    app.alarms.rows.append(F.Row("chamber_dev", "chamber dev 3.1C", 2460))
    app.alarms.rows.append(F.Row("ln2_low", "LN2 supply low", 2400))


def menu_running(app, p, now):
    running(app, app.engine)
    mod("menu").open(p, U.MENU, now)


def preview(app, p, now):
    mod("forms")._preview(p, "hpc_bag", now)


def entry_batch(app, p, now):
    mod("forms")._preview(p, "hpc_bag", now)
    e = mod("entry")
    e._entry(p, e.F_BATCH, "B2027-011", now)
    p.cand = 7


def confirm_start(app, p, now):
    mod("forms")
    p.profile = "hpc_bag"
    p.batch = "B2027-0117"
    p.product = "HPC-BAG-3"
    p.operator = "ANNA"
    p.go(U.CONFIRM_START, now)


def confirm_stop(app, p, now):
    running(app, app.engine)
    p.operator = "ANNA"
    p.go(U.CONFIRM_STOP, now)


def alarms(app, p, now):
    running(app, app.engine)
    app.alarms.rows.append(F.Row("chamber_dev", "chamber dev 3.1C", 2460))
    app.alarms.rows.append(F.Row("ln2_low", "LN2 supply low", 2400, acked=True))
    mod("menu").open(p, U.ALARMS, now)


def end_transfer(app, p, now):
    running(app, app.engine)
    app.engine.state = "end"
    app.sample_c = -86.4
    app.chamber_c = -90.1


def end_wait(app, p, now):
    end_transfer(app, p, now)
    app.sample_c = -71.9


def stuck(app, p, now):
    running(app, app.engine)
    p.stuck = "STOP"


SCENES = (("home_idle", home_idle), ("home_running", home_running), ("home_alarm", home_alarm),
          ("menu_running", menu_running), ("preview", preview), ("entry_batch", entry_batch),
          ("confirm_start", confirm_start), ("confirm_stop", confirm_stop), ("alarms", alarms),
          ("end_transfer", end_transfer), ("end_wait", end_wait), ("stuck", stuck))

F.write_profiles(ROOT)
for _name, _fn in SCENES:
    scene(_name, _fn)
