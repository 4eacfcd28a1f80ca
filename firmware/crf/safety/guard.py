# Safety evaluation, once per control tick (sense() before the profile engine
# and controller, act() after them) and once per pass (gate(), feed()):
# probe validity, deviations, interlocks, hard limits independent of the
# PID, degraded modes, the alarm outputs and the watchdog; and the alarm
# table (Alarms: one preallocated row per alarm, listed from raise until
# cleared and, if latching, acknowledged; raise, clear and acknowledge are
# events of the record and the link). Decisions, triggers, delays and
# clearing: docs/safety.md. Nothing here allocates in the steady state.
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_LO_C = const(-200)         # PT100 measuring range of the freezer
_HI_C = const(100)
_FAULT_MS = const(3000)     # a probe fault must persist this long
_CH_RATE = 5.0              # implausible: chamber reading moves > 5 degC in 1 s
_SA_RATE = 1.0              # ... sample (thermal mass of a bag or vial)
_CH_STUCK_MS = const(60000)     # identical means while the outputs drive the chamber
_SA_STUCK_MS = const(300000)    # ... while the sample setpoint moves
_WIN = const(7)             # chamber history: 7 points 10 s apart = 60 s
_WIN_MS = const(10000)
_SUPPLY_MS = const(5000)    # LN2 supply switch low this long
_DOOR_MS = const(30000)     # door open this long during a run: alarm (action at once)
_TREND_MS = const(60000)    # output held off/saturated this long before a trend counts
_RTC_VALID = 1704067200     # 2024-01-01: an RTC below this was never set
_FRESH_MS = const(3000)     # watchdog: probes answered within this
_WATCHDOG_MS = const(5000)   # hardware watchdog timeout (rp2 limit 8388 ms)
_FEED_MS = const(1000)      # fed at most this often
_DEGRADED_LN2 = 0.3         # chamber probe lost: LN2 duty cap, on the sample probe
_LATCH = const(0x3F7F)      # latching alarms (bit = index)
# the alarms' indices (Alarms.rows)
_CHAMBER_DEV = const(0)
_SAMPLE_DEV = const(1)
_CHAMBER_PROBE = const(2)
_SAMPLE_PROBE = const(3)
_LN2_SUPPLY = const(4)
_LN2_NO_COOL = const(5)
_VALVE_STUCK = const(6)
_DOOR = const(7)
_OVER_COOL = const(8)
_OVER_TEMP = const(9)
_HEATER = const(10)
_POWER = const(11)
_WATCHDOG = const(12)
_STORAGE = const(13)
_CLOCK = const(14)
_OUTAGE_HOLD = const(15)


class _Probe:
    def __init__(self, rate, stuck_ms):
        self.rate = rate
        self.stuck_ms = stuck_ms
        self.last = None        # last plausible reading
        self.bad_ms = 0
        self.same_ms = 0
        self.ok = True
        self.why = None

    def check(self, v, n, fault, dt_ms, driven):
        why = None
        if n == 0 or v is None:
            why = "open/short" if fault else "no reading"
        elif v < _LO_C or v > _HI_C:
            why = "out of range"
        elif self.last is not None and abs(v - self.last) > self.rate * dt_ms * 0.001:
            why = "implausible rate"
        if why is None:
            if v == self.last and (driven or self.same_ms >= self.stuck_ms):
                self.same_ms += dt_ms
            else:
                self.same_ms = 0
            self.last = v
            self.bad_ms = 0
            if self.same_ms >= self.stuck_ms:
                why = "stuck"
                self.bad_ms = _FAULT_MS
        else:
            self.bad_ms += dt_ms
        if why is not None:
            self.why = why
        self.ok = self.bad_ms < _FAULT_MS and self.same_ms < self.stuck_ms
        return self.ok


class Guard:
    def __init__(self, app):
        self.app = app
        self.alarms = Alarms(app)
        self.chamber = _Probe(_CH_RATE, _CH_STUCK_MS)
        self.sample = _Probe(_SA_RATE, _SA_STUCK_MS)
        self.chamber_ok = True
        self.sample_ok = True
        self.sample_lost = False    # sample-probe steps follow the chamber path
        self.cold_sp = None         # chamber probe lost: product held here (sample probe)
        self.block_ln2 = False
        self.block_heat = False
        self.door = False
        self.recover = None         # facts of an interrupted run, until decided
        self.transfer = None        # what the operator may do with the product now
        self._hist = [0.0] * _WIN
        self._hist_n = 0
        self._hist_ms = 0
        self._ln2_off = 0
        self._ln2_sat = 0
        self._heat_off = 0
        self._supply_ms = 0
        self._blink = False
        self.fresh = app.clock.ticks_ms()
        self._fed = self.fresh
        # boot: the reset cause, a run cut off by an outage or a watchdog reset
        al = self.alarms
        b = app.board
        cause = b.reset_cause() if hasattr(b, "reset_cause") else None
        log = app.log
        facts = log.interrupted if log is not None and log.f is not None else None
        # (events, not conditions: raised and cleared, listed until acknowledged)
        if cause == "watchdog":
            al.raise_(_WATCHDOG, "watchdog reset")
            al.clear(_WATCHDOG)
        if facts is not None:
            self.recover = facts    # decided at the first tick with a chamber reading
            try:
                from crf.safety import recovery     # now, while the heap is still in large pieces
                self._rec = recovery
            except MemoryError:
                self._rec = None
            al.raise_(_POWER, "outage_s=%s" % facts.get("outage_s"))
            al.clear(_POWER)
        if hasattr(b, "enable_watchdog"):
            b.enable_watchdog(_WATCHDOG_MS)
        self._outputs()

    # -- per pass ----------------------------------------------------------
    def gate(self):
        """Door interlock and output blocks, every pass (after the loop set the outputs)."""
        app = self.app
        b = app.board
        d = b.door_open()
        if d != self.door:
            self.door = d
            app.note("door_open" if d else "door_closed", "controller", "")
            if app.running():
                b.set_fan(not d)
        if d or self.block_ln2:
            app.valve_on = False
        if self.block_heat:
            b.set_heater(0.0)

    def feed(self):
        """Feed the hardware watchdog only if the control loop ran recently and its inputs are fresh."""
        app = self.app
        c = app.clock
        now = c.ticks_ms()
        if c.ticks_diff(now, self._fed) < _FEED_MS:
            return                  # (checked and fed once a second: cheap passes)
        period = app.cfg["control_period_ms"]
        if (c.ticks_diff(now, app._last_ctl) <= 2 * period + app.cfg["pass_ms"]
                and c.ticks_diff(now, self.fresh) <= _FRESH_MS + period):
            app.board.watchdog_feed()
            self._fed = now

    # -- per control tick ------------------------------------------------------
    def sense(self, dt_ms):
        """Before the engine: which probes can be used this tick."""
        app = self.app
        b = app.board
        ctl = app.ctl
        al = self.alarms
        if app.chamber_n or b.chamber_fault or app.sample_n or b.sample_fault:
            self.fresh = app.clock.ticks_ms()
        drive = ctl.ln2_duty > 0.05 or ctl.heater_duty > 0.05
        c_ok = self.chamber.check(app.chamber_c, app.chamber_n, b.chamber_fault, dt_ms, drive)
        e = app.engine
        s_ok = self.sample.check(app.sample_c, app.sample_n, b.sample_fault, dt_ms,
                                 app.running() and e.rate_sample_c_s() != 0.0)
        al.cond(_CHAMBER_PROBE, not c_ok, dt_ms, 0, self.chamber.why)
        al.cond(_SAMPLE_PROBE, not s_ok, dt_ms, 0, self.sample.why)
        running = app.running()
        if not c_ok and self.chamber_ok and running:
            # Chamber probe lost: hold the profile; the product is kept where it
            # is on the sample probe (act()), the heater stays off.
            app.hold("controller")
            self.cold_sp = ctl.sample_f if s_ok else None
        if c_ok:
            self.cold_sp = None
        if not s_ok and running and not self.sample_lost and (e.probe == "sample" or _sample_ahead(e)):
            self.sample_lost = True
            e.chamber_path(ctl.chamber_sp)
            app.note("note", "controller", "sample probe lost: chamber path")
        self.chamber_ok = c_ok
        self.sample_ok = s_ok
        if self.recover is not None and c_ok and app.chamber_c is not None:
            facts = self.recover
            self.recover = None
            rec = self._rec
            self._rec = None
            if rec is not None:     # (else it could not be loaded: outputs stay off, alarm stands)
                rec.apply(app, facts)
                from crf.lazy import forget
                forget("crf.safety.recovery")     # boot-time code: not kept resident

    def act(self, dt_ms):
        """After the controller: deviations, interlocks, hard limits, overrides."""
        app = self.app
        cfg = app.cfg
        ctl = app.ctl
        e = app.engine
        al = self.alarms
        b = app.board
        running = app.running()
        ch = app.chamber_c if self.chamber_ok else None
        sp = ctl.chamber_sp
        ctrl = running and e.mode and ch is not None
        door = self.door
        # trends over the last minute (chamber every 10 s), restarted by the door
        if door:
            self._hist_n = 0
        self._hist_ms += dt_ms
        if ch is not None and self._hist_ms >= _WIN_MS:
            self._hist_ms = 0
            h = self._hist
            h[self._hist_n % _WIN] = ch
            self._hist_n += 1
        slope = None        # degC/min over 60 s
        if self._hist_n >= _WIN and ch is not None:
            h = self._hist
            slope = (h[(self._hist_n - 1) % _WIN] - h[self._hist_n % _WIN]) * 1.0
        self._ln2_off = self._ln2_off + dt_ms if ctl.ln2_duty <= 0.0 else 0
        self._ln2_sat = self._ln2_sat + dt_ms if ctl.ln2_duty >= 0.9 else 0
        self._heat_off = self._heat_off + dt_ms if ctl.heater_duty <= 0.0 else 0
        # deviations
        al.cond(_CHAMBER_DEV, ctrl and not door and abs(ch - sp) > cfg["alarm_chamber_dev_c"],
                dt_ms, cfg["alarm_chamber_dev_s"] * 1000, None, ch, sp)
        sf = ctl.sample_f if self.sample_ok else None
        al.cond(_SAMPLE_DEV, running and e.mode and e.probe == "sample" and not e.comp and sf is not None
                and abs(sf - e.sp_sample) > cfg["alarm_sample_dev_c"],
                dt_ms, cfg["alarm_sample_dev_s"] * 1000, None, sf, e.sp_sample)
        # LN2 supply: the switch, or the valve open without the expected cooling
        ok = b.ln2_supply_ok()
        self._supply_ms = 0 if ok else self._supply_ms + dt_ms
        al.cond(_LN2_SUPPLY, self._supply_ms >= _SUPPLY_MS, dt_ms, 0, "supply switch")
        al.cond(_LN2_NO_COOL, ctrl and not door and self._ln2_sat >= _TREND_MS and slope is not None
                and slope > -0.5 and ch > sp + 2.0, dt_ms, 0, None, ch, sp)
        # valve stuck open: cooling with the valve closed
        al.cond(_VALVE_STUCK, ctrl and self._ln2_off >= _TREND_MS and slope is not None
                and slope < -2.0 and ch < sp - 3.0, dt_ms, 0, None, ch, sp)
        # heater runaway: the heater commanded off, yet the chamber warms, or
        # the loop (P + I, watts) fights more heat than the model explains while
        # LN2 still has room (saturated: ln2_no_cool's case). Not the door.
        # (Not in compensation nor on fast chamber ramps: there the model's
        # errors and the latent heat look alike.)
        hot_in = ctrl and (slope is not None and slope > 2.0 and ch > sp + 3.0 or
                           not e.comp and -0.05 < e.rate_chamber_c_s() < 0.05 and ctl.ln2_duty < 0.9
                           and cfg["chamber_kp"] * (sp - ch) + ctl.chamber_pid.integral
                           < -0.8 * cfg["heater_w"])
        al.cond(_HEATER, hot_in and not door and self._heat_off >= _TREND_MS, dt_ms, _TREND_MS // 2,
                None, ch, sp)
        # hard limits, independent of the PID
        cold = ch is not None and (ch < cfg["alarm_chamber_min_c"] or
                                   (ctrl and ch < sp - cfg["alarm_band_c"]))
        hot = ch is not None and (ch > cfg["alarm_chamber_max_c"] or
                                  (ctrl and not door and ch > sp + cfg["alarm_band_c"]))
        al.cond(_OVER_COOL, cold, dt_ms, 0, None, ch, sp)
        al.cond(_OVER_TEMP, hot, dt_ms, 0, None, ch, sp)
        # record storage, clock
        log = app.log
        al.cond(_STORAGE, log is None or log.failed is not None, dt_ms, 0,
                app.log_problem if log is None else log.failed)
        rtc = app.clock.rtc_s()     # None: an RTC that reports itself not set
        al.cond(_CLOCK, rtc is None or rtc < _RTC_VALID, dt_ms, 0, None)
        al.cond(_DOOR, running and door, dt_ms, _DOOR_MS, None)
        # output overrides
        self.block_ln2 = cold or door
        self.block_heat = hot
        if not self.chamber_ok:
            # Chamber probe lost: no heating; LN2 only on a valid sample reading
            # below which the product is kept, at most degraded_ln2_max.
            self.block_heat = True
            cs = self.cold_sp
            if running and cs is not None and sf is not None and sf > cs + 0.3:
                ctl.ln2_duty = _DEGRADED_LN2
            else:
                ctl.ln2_duty = 0.0
                self.block_ln2 = True
        if self.block_ln2:
            ctl.ln2_duty = 0.0
        if self.block_heat:
            ctl.heater_duty = 0.0
        if self.transfer is not None and e.state != "held" and e.state != "idle":
            self.transfer = None        # the operator decided (continue or stop), or a new run
        al.cond(_OUTAGE_HOLD, self.transfer is not None, dt_ms, 0, self.transfer)
        self._outputs()

    def _outputs(self):
        al = self.alarms
        b = self.app.board
        unacked = al.unacked()
        healthy = unacked == 0
        for r in al._list:
            if r.active:
                healthy = False
        b.set_alarm_relay(healthy)          # energised while healthy (fail-safe)
        b.set_buzzer(unacked > 0)
        self._blink = not self._blink
        b.set_led(True if healthy else self._blink)


def _sample_ahead(e):
    # A later sample-probe step would need the lost probe too.
    if e.profile is None:
        return False
    steps = e.profile["steps"]
    for i in range(e.index, len(steps)):
        if steps[i].get("probe") == "sample":
            return True
    return False


class Row:
    # Class-level defaults: a row holds only its code and text until first
    # raised (16 rows: ~1 KB less resident heap).
    since_s = 0                 # RTC seconds when raised
    acked = False
    active = False              # condition present (after its delay)

    def __init__(self, code, text):
        self.code = code
        self.text = text


class Alarms:
    def __init__(self, app):
        self.app = app
        # code (stable id), display text (<= 20 chars), in the order of the
        # indices at the top of this module; latching: _LATCH
        self.rows = [Row(c, t) for c, t in (
            ("chamber_dev", "Chamber deviation"),
            ("sample_dev", "Sample deviation"),
            ("chamber_probe", "Chamber probe fault"),
            ("sample_probe", "Sample probe fault"),
            ("ln2_supply", "LN2 supply low"),
            ("ln2_no_cool", "LN2 not cooling"),
            ("valve_stuck", "Valve stuck open"),
            ("door_open", "Door open"),
            ("over_cool", "Over-cooling"),
            ("over_temp", "Over-temperature"),
            ("heater_runaway", "Heater runaway"),
            ("power_fail", "Power restored"),
            ("watchdog", "Watchdog reset"),
            ("storage", "Record storage fault"),
            ("clock_unset", "Clock not set"),
            ("outage_hold", "Held after outage"),
        )]
        self._t = array("i", bytes(4 * len(self.rows)))     # ms each condition has held
        self._list = []         # listed rows; changes only on raise/clear/ack

    # -- the interface the panel, link and autotune read ---------------------
    def active(self):
        """Listed rows (condition present, or latched and not acknowledged)."""
        return self._list

    def unacked(self):
        n = 0
        for r in self._list:
            if not r.acked:
                n += 1
        return n

    # -- evaluation ------------------------------------------------------------
    def cond(self, i, on, dt_ms, delay_ms, detail=None, v=None, sp=None):
        """Condition of alarm i for this tick; raised once it held delay_ms.
        The detail (or reading v against setpoint sp) is formatted only on raise."""
        r = self.rows[i]
        if on:
            if not r.active:
                t = self._t[i] + dt_ms
                self._t[i] = t
                if t >= delay_ms:
                    if v is not None:
                        detail = "%.1f C vs %.1f C" % (v, sp)
                    self.raise_(i, detail)
            return r.active
        self._t[i] = 0
        if r.active:
            self.clear(i)
        return False

    def raise_(self, i, detail=None):
        r = self.rows[i]
        if r.active:
            return
        r.active = True
        r.acked = False
        r.since_s = self.app.clock.rtc_s()
        if r not in self._list:
            self._list.append(r)
        self.app.note("alarm_raised", "controller",
                      "%s: %s" % (r.code, detail) if detail else r.code)

    def clear(self, i):
        r = self.rows[i]
        if not r.active:
            return
        r.active = False
        self._t[i] = 0
        self.app.note("alarm_cleared", "controller", r.code)
        if r.acked or not (_LATCH >> i) & 1:
            self._list.remove(r)

    def ack(self, who, code=None):
        n = 0
        for r in self._list[:]:
            if not r.acked and (code is None or r.code == code):
                r.acked = True
                n += 1
                self.app.note("alarm_acked", who, r.code)
                if not r.active:
                    self._list.remove(r)
        return n
