# The main loop. Every pass (pass_ms): read the probes' last one-shot
# conversions and start the next ones, run the profile engine and the
# controller once per control period, time the LN2 valve, serve the link.
# Nothing here blocks; the only wait is the sleep to the next pass.
from crf import config
from crf.control.controller import Controller, MODE_OFF
from crf.control.valve import ValveDriver
from crf.profile import validate
from crf.profile.engine import Engine, RUNNING, HELD, END
from crf.link.commands import Link

FW_VERSION = "0.1.0"
MODEL = "CRF-1"


class _Mean:
    """Running mean of one probe's conversions within a control period."""

    def __init__(self):
        self.total = 0.0
        self.n = 0

    def add(self, v):
        self.total += v
        self.n += 1

    def take(self, last):
        # Mean since the last take, or `last` if nothing arrived; then restart.
        mean = self.total / self.n if self.n else last
        self.total = 0.0
        self.n = 0
        return mean


class App:
    def __init__(self, board, cfg=None):
        self.board = board
        self.clock = board.clock
        root = board.storage_root
        self.profiles_dir = root + "/profiles" if root != "/" else "/profiles"
        self.config_path = (root if root != "/" else "") + "/config.json"
        self.cfg = cfg if cfg is not None else config.load(self.config_path)
        self.engine = Engine()
        self.ctl = Controller(self.cfg)
        self.valve = ValveDriver(self.cfg["valve_period_ms"], self.cfg["valve_min_on_ms"],
                                 self.cfg["valve_min_off_ms"])
        self.link = Link(self)
        self.chamber_c = None
        self.sample_c = None
        self.chamber_faults = 0
        self.sample_faults = 0
        self._chamber_mean = _Mean()
        self._sample_mean = _Mean()
        self.profile_name = None
        self.valve_on = False
        now = self.clock.ticks_ms()
        self._last_ctl = now
        self._next_ctl = now
        self._next_pass = now
        board.start_chamber()
        board.start_sample()

    # -- operator actions (link and panel) ---------------------------------
    def load_profile(self, name):
        with open(self.profiles_dir + "/" + name + ".json") as f:
            prof = validate.loads(f.read())
        validate.validate(prof)
        return prof

    def start_run(self, name):
        if self.engine.state in (RUNNING, HELD):
            raise ValueError("a run is in progress")
        if self.chamber_c is None:
            raise ValueError("chamber probe has no reading")
        prof = self.load_profile(name)
        self.ctl.reset()
        self.valve.reset()
        self.profile_name = name
        self.ctl.chamber_sp = self.chamber_c
        self.engine.start(prof, self.chamber_c, self.ctl.filter_sample(self.sample_c, 0))
        self.board.set_fan(True)

    def running(self):
        return self.engine.state in (RUNNING, HELD, END)

    # -- the loop ----------------------------------------------------------
    def _read_probes(self):
        b = self.board
        c = b.read_chamber()
        s = b.read_sample()
        b.start_chamber()
        b.start_sample()
        # Each control period uses (and records) the mean of its conversions:
        # averaging ~10 one-shot readings cuts noise and quantization by ~3x.
        # None without a fault only means the conversion is not ready yet.
        if c is None:
            if b.chamber_fault:
                self.chamber_faults += 1
        else:
            self._chamber_mean.add(c)
            if self.chamber_c is None:
                self.chamber_c = c
        if s is None:
            if b.sample_fault:
                self.sample_faults += 1
        else:
            self._sample_mean.add(s)
            if self.sample_c is None:
                self.sample_c = s

    def _take_means(self):
        self.chamber_c = self._chamber_mean.take(self.chamber_c)
        self.sample_c = self._sample_mean.take(self.sample_c)

    def _control(self, dt_ms):
        e = self.engine
        ctl = self.ctl
        sample_f = ctl.filter_sample(self.sample_c, dt_ms)
        if not self.running():
            ctl.update(dt_ms, MODE_OFF, 0.0, 0.0, 0.0, 0.0, self.chamber_c, sample_f)
            return
        rate_before = e.rate_c_s
        n_events = len(e.events)
        e.update(dt_ms, self.chamber_c, sample_f, ctl.chamber_sp, self.cfg)
        if len(e.events) != n_events:
            for ev in e.events[n_events:]:
                if ev[1] == "nucleation":
                    ctl.learn_tau(rate_before)
                elif ev[1] == "compensation_end":
                    ctl.nucleated(e._peak)
        ctl.update(dt_ms, e.mode, e.sp_chamber, e.rate_chamber_c_s() if e.state == RUNNING else 0.0,
                   e.sp_sample, e.rate_sample_c_s() if e.state == RUNNING else 0.0,
                   self.chamber_c, sample_f)

    def pass_once(self):
        clock = self.clock
        now = clock.ticks_ms()
        self._read_probes()
        if clock.ticks_diff(now, self._next_ctl) >= 0:
            dt = clock.ticks_diff(now, self._last_ctl)
            self._last_ctl = now
            period = self.cfg["control_period_ms"]
            self._next_ctl = clock.ticks_add(self._next_ctl, period)
            if clock.ticks_diff(self._next_ctl, now) <= 0:
                self._next_ctl = clock.ticks_add(now, period)
            self._take_means()
            self._control(dt)
            self.link.tick()
        b = self.board
        if self.running():
            self.valve_on = self.valve.update(now, self.ctl.ln2_duty)
            b.set_heater(self.ctl.heater_duty)
        else:
            self.valve_on = False
            b.set_heater(0.0)
        b.set_valve(self.valve_on)
        self.link.service()
        b.poll()

    def wait_next_pass(self):
        clock = self.clock
        self._next_pass = clock.ticks_add(self._next_pass, self.cfg["pass_ms"])
        wait = clock.ticks_diff(self._next_pass, clock.ticks_ms())
        if wait < 0:
            # Fell behind (e.g. a slow flash write): do not try to catch up.
            self._next_pass = clock.ticks_ms()
            wait = 0
        clock.sleep_ms(wait)

    def run(self):
        while True:
            self.pass_once()
            self.board.watchdog_feed()
            self.wait_next_pass()
