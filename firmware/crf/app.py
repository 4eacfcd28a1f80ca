# The main loop. Every pass (pass_ms): read the probes' last one-shot
# conversions and start the next ones, run the profile engine and the
# controller once per control period, time the LN2 valve, serve the link
# (crf.link.server, once per pass). Nothing here blocks; the only wait is the
# sleep to the next pass.
import gc

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from crf.control.controller import Controller, MODE_OFF
from crf.control.valve import ValveDriver
import json
from crf import lazy
from crf.profile import checked
from crf.profile.duration import estimate_duration_s
from crf.calibration import cal_coefficients
from crf.profile.engine import Engine, RUNNING, HELD, END, STOPPED  # noqa: F401
from crf.link.server import Server
from crf.record import format as recfmt
from crf.record.runlog import RunLog, LogError
from crf.safety.guard import Guard

# Loaded when needed, then dropped (crf.lazy): the configuration's checks
# (read at boot) and the profile validator (for text not yet validated).
_CONFIG = "crf.config"
_VALIDATE = "crf.profile.validate"
_ACCEPTANCE = "crf.profile.acceptance"    # imported by the validator
_START_RESERVE = const(6144)    # heap kept for a run's start (record header, file opens)
FW_VERSION = "0.1.0"
MODEL = "CRF-1"


class StorageError(ValueError):
    """A run refused because its record cannot be written (log area, space)."""


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


_STATE_BITS = {}
for _i, _name in enumerate(recfmt.STATE_CODES):
    _STATE_BITS[_name] = _i


class App:
    def __init__(self, board, cfg=None):
        self.board = board
        self.clock = board.clock
        root = board.storage_root
        self.profiles_dir = root + "/profiles" if root != "/" else "/profiles"
        self.config_path = (root if root != "/" else "") + "/config.json"
        if cfg is None:
            cfg = lazy.load(_CONFIG).load(self.config_path)
            lazy.drop(_CONFIG)      # read at boot; config_set loads it again
            gc.collect()
            cfg = dict(cfg)         # placed anew: the module's freed code is one hole, not two around it
        self.cfg = cfg
        self.engine = Engine()
        self.ctl = Controller(self.cfg)
        self._set_cal(self.cfg)
        self.valve = ValveDriver(self.cfg["valve_period_ms"], self.cfg["valve_min_on_ms"],
                                 self.cfg["valve_min_off_ms"])
        self.chamber_c = None
        self.sample_c = None
        self.chamber_faults = 0
        self.sample_faults = 0
        self.chamber_n = 0          # conversions in the last control period
        self.sample_n = 0
        self._chamber_mean = _Mean()
        self._sample_mean = _Mean()
        self.profile_name = None
        self.valve_on = False
        self.run_ms = 0             # run time incl. holds: the record's time base
        self.ticks = 0              # control periods since boot
        self._reached_end = False
        self.events_out = []        # (run_s, code, who, detail) for the link, bounded
        self.planned_s = 0          # the running profile's estimated duration
        self.tuning = None          # autotune session (crf.tune, lazy-loaded) deciding the outputs
        self.log = None
        self.log_problem = None
        self._reserve = None
        self.keep_reserve()
        try:
            self.log = RunLog(root)
            self.log.recover(self.clock.rtc_s())
        except (OSError, ValueError) as ex:
            # A broken log area must not stop the freezer from booting.
            self.log_problem = "run log: %s" % ex
        now = self.clock.ticks_ms()
        self._last_ctl = now
        self.safety = Guard(self)   # alarms, interlocks, watchdog, outage recovery
        self.alarms = self.safety.alarms
        self.link = Server(self)
        self.panel = None           # front panel, on boards with a display
        if getattr(board, "display", None) is not None:
            from crf.panel.ui import Panel
            from crf.link import cmd_panel
            self.panel = Panel(self)
            self.link.modules += (cmd_panel,)
        self._next_ctl = now
        self._next_pass = now
        board.start_chamber()
        board.start_sample()

    # -- operator actions (link and panel) ---------------------------------
    def load_profile_text(self, name, start_c=None):
        """(profile, its text, estimated duration from start_c or None);
        ProfileError (a ValueError with .problems) if it must not run.
        Text that already passed the validator (crf/profile/checked.py) is
        only parsed; other text is validated in full and then marked."""
        pdir = self.profiles_dir
        with open(pdir + "/" + name + ".json") as f:
            text = f.read()
        sha = checked.digest(text)
        if checked.passed(pdir, name, sha):
            prof = json.loads(text)
        else:
            v = lazy.load(_VALIDATE)
            try:
                prof = v.loads(text)
                v.validate(prof)
            finally:
                v = None
                lazy.drop(_VALIDATE, _ACCEPTANCE)
            try:
                checked.mark(pdir, name, sha)
            except OSError:
                pass                # validated again next time
        planned = None if start_c is None else estimate_duration_s(prof, start_c)
        return prof, text, planned

    def load_profile(self, name):
        return self.load_profile_text(name)[0]

    def start_run(self, name, batch="", product="", operator=""):
        """Start profile `name`; refused (ValueError) if it cannot be recorded to its end."""
        if self.engine.state in (RUNNING, HELD, END):
            raise ValueError("a run is in progress")
        if self.tuning is not None:
            raise ValueError("an autotune is in progress: stop it first (crf tune stop)")
        if self.chamber_c is None:
            raise ValueError("chamber probe has no reading")
        if not self.safety.chamber_ok:
            raise ValueError("chamber probe fault: %s" % self.safety.chamber.why)
        if self.log is None:
            raise StorageError(self.log_problem or "run log unavailable")
        # Reading the profile, building the header and opening the record
        # (each a piece of a KB or more: the profile's text, file buffers)
        # go into the room kept for them since boot, not into whatever a
        # divided heap has left; taken back at once after, in the room they
        # have just left.
        self.spend_reserve()
        try:
            prof, text, planned = self.load_profile_text(name, self.chamber_c)
            rtc = self.clock.rtc_s()
            log = self.log
            if log.f is not None:
                # A run cut off by a restart and not resumed: close its record.
                log.seal(self._interrupted_t(), rtc, recfmt.SEAL_INTERRUPTED)
            header = self._header(name, text, batch, product, operator, rtc)
            try:
                log.open_run(header, planned, self.cfg["log_interval_ms"])
            except (LogError, OSError) as ex:
                raise StorageError(str(ex))
            header = text = None
        finally:
            self.keep_reserve()
        self.planned_s = planned
        self.ctl.reset()
        self.valve.reset()
        self.profile_name = name
        self.run_ms = 0
        self._reached_end = False
        self.ctl.chamber_sp = self.chamber_c
        self.engine.start(prof, self.chamber_c, self.ctl.filter_sample(self.sample_c, 0))
        self._drain_events(operator or "operator")
        self._log_sample(True)      # the record starts from the conditions at start
        self.board.set_fan(True)
        return log.run_id

    def _interrupted_t(self):
        i = self.log.interrupted
        return i["last_t_ms"] if i else 0

    def _header(self, name, text, batch, product, operator, rtc):
        b = self.board
        return {"serial": getattr(b, "serial", "?"), "model": MODEL, "fw": FW_VERSION,
                "board": b.name, "profile_name": name, "profile_text": text,
                "profile_sha256": checked.digest(text),
                "batch": batch, "product": product, "operator": operator,
                "calibration": b.calibration() if hasattr(b, "calibration") else None,
                "config": self.cfg, "start_rtc_s": rtc}

    def stop(self, who="operator"):
        if not self.engine.stop():
            return False
        self._drain_events(who)
        self._close_record()
        return True

    def hold(self, who="operator"):
        if not self.engine.hold():
            return False
        self._drain_events(who)
        return True

    def resume(self, who="operator"):
        if not self.engine.resume():
            return False
        self._drain_events(who)
        return True

    def note(self, code, who, detail):
        """Record an event of the open run (alarms, door, configuration, ...)
        and pass it to the link; without an open run only the link sees it."""
        if self.log is not None:
            self.log.event(self.run_ms, self.clock.rtc_s(), code, who, detail)
        self._queue_event(code, who, detail)

    def ack_alarms(self, who="operator", code=None):
        """Acknowledge the listed alarms (or the one with `code`), one event
        each; the buzzer stops; returns how many."""
        n = self.alarms.ack(who, code)
        self.safety._outputs()
        return n

    def running(self):
        return self.engine.state in (RUNNING, HELD, END)

    def record_open(self):
        """The id of the run whose record is being written, or None."""
        log = self.log
        return log.run_id if log is not None and log.f is not None else None

    def apply_config(self, cfg):
        """Use a new, checked configuration (only while no run is in progress:
        the controller and valve driver start afresh)."""
        if self.running():
            raise ValueError("a run is in progress")
        self.cfg = cfg
        self.ctl = Controller(cfg)
        self._set_cal(cfg)
        self.valve = ValveDriver(cfg["valve_period_ms"], cfg["valve_min_on_ms"],
                                 cfg["valve_min_off_ms"])

    def _set_cal(self, cfg):
        # Two-point probe calibration, None while it is the identity (the
        # defaults: no arithmetic per reading); its readings are configuration,
        # so every run header records them.
        c = cal_coefficients(cfg["chamber_cal_ice_c"], cfg["chamber_cal_ln2_c"])
        self.cal_chamber = None if c == (1.0, 0.0) else c
        c = cal_coefficients(cfg["sample_cal_ice_c"], cfg["sample_cal_ln2_c"])
        self.cal_sample = None if c == (1.0, 0.0) else c

    # -- the record ----------------------------------------------------------
    def _queue_event(self, code, who, detail):
        q = self.events_out
        if len(q) >= 16:
            q.pop(0)
        q.append((self.run_ms // 1000, code, who, detail))

    def _drain_events(self, who):
        ev = self.engine.events
        log = self.log
        rtc = self.clock.rtc_s()
        while ev:
            _, code, detail = ev.pop(0)
            if code == "step":
                detail = "%d %s" % (detail + 1, self.engine.kind)    # numbered as people count
            elif code == "end":
                self._reached_end = True
            elif isinstance(detail, float):
                detail = "%.2f" % detail
            if log is not None:
                log.event(self.run_ms, rtc, code, who, detail)
            self._queue_event(code, who, detail)

    def _close_record(self):
        log = self.log
        if log is None or log.f is None:
            return
        self._log_sample(True)
        log.seal(self.run_ms, self.clock.rtc_s(),
                 recfmt.SEAL_COMPLETED if self._reached_end else recfmt.SEAL_STOPPED)
        self.keep_reserve()

    def spend_reserve(self):
        """Free the heap kept for occasional large work (a run's start, a
        profile's validation) just before it needs it."""
        self._reserve = None
        gc.collect()

    def keep_reserve(self):
        # Room for the next run's start, taken while it can be had in one
        # piece (boot, as soon as a start or a validation is done, the end of
        # a run if it was not had then); without it a start still tries.
        if self._reserve is None:
            gc.collect()
            try:
                self._reserve = bytearray(_START_RESERVE)
            except MemoryError:
                pass

    def _flags(self):
        e = self.engine
        f = _STATE_BITS.get(e.state, 0)
        if e.comp:
            f |= recfmt.F_COMP
        if e.probe == "sample" and e.mode:
            f |= recfmt.F_SAMPLE_CTL
        if self.alarms._list:
            f |= recfmt.F_ALARM
        if self.board.chamber_fault:
            f |= recfmt.F_CHAMBER_FAULT
        if self.board.sample_fault:
            f |= recfmt.F_SAMPLE_FAULT
        return f

    def _log_sample(self, force=False):
        log = self.log
        if log is None or log.f is None:
            return
        if force:
            log.next_sample_ms = 0
        elif self.run_ms < log.next_sample_ms:
            return              # the common case: cheap
        e = self.engine
        log.sample(self.run_ms, e.index, self.chamber_c, self.sample_c,
                   self.ctl.chamber_sp if e.mode else None,
                   e.sp_sample if e.probe == "sample" else None,
                   self.ctl.ln2_duty, self.ctl.heater_duty, self._flags())
        if log.pending_note:
            note = log.pending_note
            log.pending_note = None
            self.note("log_space", "controller", note)

    # -- the loop ----------------------------------------------------------
    def _read_probes(self):
        b = self.board
        c = b.read_chamber()
        s = b.read_sample()
        b.start_chamber()
        b.start_sample()
        if c is not None and self.cal_chamber is not None:   # two-point calibration
            c = self.cal_chamber[0] * c + self.cal_chamber[1]
        if s is not None and self.cal_sample is not None:
            s = self.cal_sample[0] * s + self.cal_sample[1]
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
        self.chamber_n = self._chamber_mean.n
        self.sample_n = self._sample_mean.n
        self.chamber_c = self._chamber_mean.take(self.chamber_c)
        self.sample_c = self._sample_mean.take(self.sample_c)

    def _control(self, dt_ms):
        e = self.engine
        ctl = self.ctl
        sf = self.safety
        sf.sense(dt_ms)             # probe validity; degraded modes
        sample_f = ctl.filter_sample(self.sample_c, dt_ms) if sf.sample_ok else None
        if self.tuning is not None:
            self.tuning.control(dt_ms, sample_f)
            sf.act(dt_ms)           # alarms and hard limits hold during a tune too
            return
        if not self.running():
            ctl.update(dt_ms, MODE_OFF, 0.0, 0.0, 0.0, 0.0, self.chamber_c, sample_f)
            sf.act(dt_ms)
            return
        rate_before = e.rate_c_s
        self.run_ms += dt_ms
        e.update(dt_ms, self.chamber_c, sample_f, ctl.chamber_sp, self.cfg)
        for ev in e.events:
            if ev[1] == "nucleation":
                ctl.learn_tau(rate_before)
            elif ev[1] == "compensation_end":
                ctl.nucleated(e._peak)
        if e.events:
            self._drain_events("controller")
        ctl.update(dt_ms, e.mode, e.sp_chamber, e.rate_chamber_c_s() if e.state == RUNNING else 0.0,
                   e.sp_sample, e.rate_sample_c_s() if e.state == RUNNING else 0.0,
                   self.chamber_c, sample_f)
        sf.act(dt_ms)               # alarms, interlocks, hard limits (may override the duties)
        self._log_sample()

    def pass_once(self):
        clock = self.clock
        now = clock.ticks_ms()
        ticks = self.ticks
        self._read_probes()
        if clock.ticks_diff(now, self._next_ctl) >= 0:
            dt = clock.ticks_diff(now, self._last_ctl)
            self._last_ctl = now
            period = self.cfg["control_period_ms"]
            self._next_ctl = clock.ticks_add(self._next_ctl, period)
            if clock.ticks_diff(self._next_ctl, now) <= 0:
                self._next_ctl = clock.ticks_add(now, period)
            self.ticks += 1
            self._take_means()
            self._control(dt)
        b = self.board
        if self.running() or self.tuning is not None:
            self.valve_on = self.valve.update(now, self.ctl.ln2_duty)
            b.set_heater(self.ctl.heater_duty)
        else:
            self.valve_on = False
            b.set_heater(0.0)
        self.safety.gate()          # door interlock, output blocks (every pass)
        b.set_valve(self.valve_on)
        self.link.service()
        pn = self.panel
        if pn is not None and (ticks != self.ticks or not pn.asleep or b.button_woke):
            pn.service(now, ticks != self.ticks)    # draws only in passes without a tick
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
            self.safety.feed()
            self.wait_next_pass()
