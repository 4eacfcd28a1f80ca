# A fake App and board for the front panel's tests: the attributes and
# calls crf.panel uses, nothing else. Runs on CPython (with the framebuf
# stand-in next to this file) and on the MicroPython unix port (with the
# real framebuf, for the snapshot images).
from crf.clock import ticks_add, ticks_diff, TICKS_PERIOD
from crf_sim.display_virtual import VirtualDisplay

UP, DOWN, OK, STOP = 1, 2, 4, 8


class Clock:
    def __init__(self):
        self.ms = TICKS_PERIOD - 5000       # crosses a wrap early
        self.ticks_diff = ticks_diff
        self.ticks_add = ticks_add

    def ticks_ms(self):
        return self.ms & (TICKS_PERIOD - 1)

    def rtc_s(self):
        return 1798761600 + self.ms // 1000


class Display(VirtualDisplay):
    """The virtual freezer's display, counting the pages it was sent."""

    def __init__(self):
        VirtualDisplay.__init__(self)
        self.steps = 0

    def show_step(self):
        if self.page < self.end:
            self.steps += 1
        return VirtualDisplay.show_step(self)


class Board:
    name = "fake"
    serial = "fake-0001"
    storage_root = "/tmp"

    def __init__(self, root="/tmp"):
        self.storage_root = root
        self.display = Display()
        self.raw = 0
        self.buzzer = False
        self.button_woke = False

    def buttons(self):
        return self.raw

    def set_buzzer(self, on):
        self.buzzer = bool(on)


class Engine:
    def __init__(self):
        self.state = "idle"
        self.profile = None
        self.index = -1
        self.step = None
        self.kind = ""
        self.probe = "chamber"
        self.sp_sample = 0.0
        self.rate_c_s = 0.0
        self.elapsed_ms = 0


class Ctl:
    chamber_sp = 0.0


class Row:
    def __init__(self, code, text, since_s, acked=False, active=True):
        self.code = code
        self.text = text
        self.since_s = since_s
        self.acked = acked
        self.active = active


class Alarms:
    """The alarm layer's contract: active(), unacked(); app.ack_alarms(who)."""

    def __init__(self):
        self.rows = []

    def active(self):
        return self.rows

    def unacked(self):
        n = 0
        for r in self.rows:
            if not r.acked:
                n += 1
        return n


PROFILE = {"format": 1, "name": "hpc_bag", "steps": [
    {"kind": "hold", "target_c": 4, "duration_s": 600},
    {"kind": "ramp", "rate_c_per_min": 1, "target_c": -4, "probe": "sample"},
    {"kind": "ramp", "rate_c_per_min": 1, "target_c": -40, "probe": "sample"},
    {"kind": "ramp", "rate_c_per_min": 10, "target_c": -90},
    {"kind": "end"}], "acceptance": {"end_sample_max_c": -80}}


class App:
    def __init__(self, root="/tmp", alarms=True, profiles=("hpc_bag", "vial")):
        self.board = Board(root)
        self.clock = Clock()
        self.engine = Engine()
        self.ctl = Ctl()
        self.cfg = {"control_period_ms": 1000, "pass_ms": 100, "log_interval_ms": 10000}
        self.chamber_c = 4.2
        self.sample_c = 4.6
        self.profile_name = None
        self.planned_s = 0
        self.profiles_dir = root + "/profiles"
        self.names = list(profiles)
        self.calls = []             # (action, who, ...) in order
        self.notes = []
        self.refuse = None          # start_run raises ValueError(refuse) if set
        if alarms:
            self.alarms = Alarms()
        self.panel = None

    # what the panel calls
    def running(self):
        return self.engine.state in ("running", "held", "end")

    def load_profile(self, name):
        if name not in self.names:
            raise OSError(2)
        p = dict(PROFILE)
        p["name"] = name
        return p

    def start_run(self, name, batch="", product="", operator=""):
        if self.running():
            raise ValueError("a run is in progress")
        if self.refuse:
            raise ValueError(self.refuse)
        self.calls.append(("start", operator, name, batch, product))
        e = self.engine
        e.state = "running"
        e.profile = self.load_profile(name)
        e.index = 0
        e.step = e.profile["steps"][0]
        e.kind = "hold"
        self.profile_name = name
        self.planned_s = 5400
        return 7

    def stop(self, who="operator"):
        if not self.running():
            return False
        self.calls.append(("stop", who))
        self.engine.state = "stopped"
        return True

    def hold(self, who="operator"):
        if self.engine.state != "running":
            return False
        self.calls.append(("hold", who))
        self.engine.state = "held"
        return True

    def resume(self, who="operator"):
        if self.engine.state != "held":
            return False
        self.calls.append(("continue", who))
        self.engine.state = "running"
        return True

    def ack_alarms(self, who):
        n = 0
        for r in self.alarms.rows:
            if not r.acked:
                r.acked = True
                n += 1
        self.calls.append(("ack", who, n))
        self.board.buzzer = False
        return n

    def note(self, code, who, detail):
        self.notes.append((code, who, detail))


def write_profiles(root, names=("hpc_bag", "vial")):
    """Profile files where the panel lists and previews them."""
    import json
    import os
    for d in (root, root + "/profiles"):
        try:
            os.mkdir(d)
        except OSError:
            pass
    for n in names:
        p = dict(PROFILE)
        p["name"] = n
        with open(root + "/profiles/" + n + ".json", "w") as f:
            f.write(json.dumps(p))


def make(root="/tmp", alarms=True, **kw):
    from crf.panel.ui import Panel
    app = App(root, alarms, **kw)
    app.panel = Panel(app)
    return app, app.panel


def step(app, ms=100, raw=None, ticked=False):
    """One loop pass later: ms of time, the buttons as raw (None = unchanged)."""
    if raw is not None:
        app.board.raw = raw
    app.clock.ms += ms
    app.panel.service(app.clock.ticks_ms(), ticked)


def loop(app, passes, raw=None):
    """Passes as App.pass_once makes them: a control tick every 10th; the
    panel served in a tick's pass, and between ticks only while awake or
    after a button went down (the board's interrupt sets button_woke).
    -> how many passes served it."""
    b = app.board
    served = 0
    for _ in range(passes):
        if raw is not None:
            if raw & ~b.raw:
                b.button_woke = True
            b.raw = raw
        app.clock.ms += 100
        ticked = app.clock.ms // 100 % 10 == 0
        if ticked or not app.panel.asleep or b.button_woke:
            app.panel.service(app.clock.ticks_ms(), ticked)
            served += 1
    return served


def hold(app, raw, ms):
    """Hold buttons `raw` for ms (100 ms passes), then release them for 300 ms."""
    t = 0
    while t < ms:
        step(app, 100, raw)
        t += 100
    for _ in range(3):
        step(app, 100, 0)


def press(app, raw):
    hold(app, raw, 200)


def long_press(app, raw):
    hold(app, raw, 2500)


def settle(app, passes=12):
    """Passes without a tick until the display has been drawn and sent."""
    for _ in range(passes):
        step(app, 100, None)
