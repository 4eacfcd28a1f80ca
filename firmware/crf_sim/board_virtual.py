# The virtual freezer's board: the plant model behind the same boundary as the
# real hardware. Time is virtual: sleep_ms() is the only way it passes, and it
# advances the plant, so the firmware cannot tell the difference except
# through the clock. The link is the process's stdin/stdout.
import sys
import select
import time
from crf.clock import ticks_add, ticks_diff, TICKS_PERIOD

# Start the tick counter 30 s before it wraps, so every run crosses a wrap.
_TICKS_START = TICKS_PERIOD - 30000
_RTC_START_S = 1798761600   # 2027-01-01T00:00:00Z, fixed for determinism
# Exit statuses of the process for the link's restart and repl commands.
EXIT_RESTART = 75
EXIT_REPL = 76


class VirtualClock:
    def __init__(self, board, speed=0.0):
        self.board = board
        self.speed = speed          # 0 = as fast as possible
        self.ms = 0                 # virtual milliseconds since boot (int)
        self._rtc_base = _RTC_START_S
        self._wall0 = time.ticks_ms()
        self.ticks_diff = ticks_diff
        self.ticks_add = ticks_add

    def ticks_ms(self):
        return (_TICKS_START + self.ms) & (TICKS_PERIOD - 1)

    def sleep_ms(self, ms):
        if ms <= 0:
            return
        self.board.advance(ms)
        self.ms += ms
        if self.speed > 0.0:
            due = int(self.ms / self.speed)
            lag = due - time.ticks_diff(time.ticks_ms(), self._wall0)
            if lag > 0:
                time.sleep_ms(lag)

    def rtc_s(self):
        return self._rtc_base + self.ms // 1000

    def set_rtc_s(self, s):
        self._rtc_base = s - self.ms // 1000


class VirtualBoard:
    name = "virtual"
    storage_root = "/flash"
    display = None
    panel_buttons = None        # fit_panel(): pressed by the link's `button` command
    button_woke = False         # a press was queued: the panel wakes (crf.panel.ui)
    serial = "virtual-0001"
    # emulated hardware watchdog and reset-cause register (crf_sim.restart)
    wdt_ms = None
    cause_path = None           # host file standing in for the reset-cause register
    # injected faults (simulation only: crf_sim.faults, link command sim_fault)
    f_door = False
    f_ln2_low = False
    f_valve_stuck = False
    f_heater_stuck = False
    hang = False

    def __init__(self, plant, speed=0.0, link_in=None, link_out=None):
        self.plant = plant
        self.clock = VirtualClock(self, speed)
        self.valve = False
        self.heater = 0.0
        self.fan = False
        self.buzzer = False
        self.alarm_relay = False
        self.led = False
        self.chamber_fault = None
        self.sample_fault = None
        self.valve_on_ms = 0        # cumulative, for the trace
        self.valve_cycles = 0
        self.last_feed_ms = 0
        self.link_closed = False
        self._in = link_in if link_in is not None else sys.stdin.buffer
        self._out = link_out if link_out is not None else sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._one = bytearray(1)
        self._chamber_pending = False
        self._sample_pending = False

    def calibration(self):
        """The measurement chain in force, for the run record."""
        se = self.plant.spec["sensors"]
        return {"chamber": {"converter": "virtual", "tau_s": se["chamber"]["tau_s"],
                            "resolution_c": se["resolution_c"], "correction": "none"},
                "sample": {"converter": "virtual", "tau_s": se["sample"]["tau_s"],
                           "resolution_c": se["resolution_c"], "correction": "none"}}

    def advance(self, ms):
        p = self.plant
        if self.valve:
            self.valve_on_ms += ms
        p.step(ms, self.valve or self.f_valve_stuck, 1.0 if self.f_heater_stuck else self.heater, self.fan)
        if self.wdt_ms is not None and self.clock.ms + ms - self.last_feed_ms > self.wdt_ms:
            import sys
            sys.modules["crf_sim.restart"].watchdog_reset(self)

    # probes: one-shot conversions, read on a later pass
    def start_chamber(self):
        self._chamber_pending = True

    def start_sample(self):
        self._sample_pending = True

    def read_chamber(self):
        while self.hang:            # a hung driver: only the watchdog gets out
            self.clock.sleep_ms(10)
        if not self._chamber_pending:
            return None
        self._chamber_pending = False
        v = self.plant.read_chamber_probe()
        self.chamber_fault = None if v is not None else "open/short"
        return v

    def read_sample(self):
        if not self._sample_pending:
            return None
        self._sample_pending = False
        v = self.plant.read_sample_probe()
        self.sample_fault = None if v is not None else "open/short"
        return v

    # outputs
    def set_valve(self, on):
        if on and not self.valve:
            self.valve_cycles += 1
        self.valve = bool(on)

    def set_heater(self, duty):
        self.heater = duty

    def set_fan(self, on):
        self.fan = bool(on)

    def set_buzzer(self, on):
        self.buzzer = bool(on)

    def set_alarm_relay(self, healthy):
        self.alarm_relay = bool(healthy)

    def set_led(self, on):
        self.led = bool(on)

    def safe_outputs(self):
        self.valve = False
        self.heater = 0.0

    # inputs
    def door_open(self):
        return self.f_door

    def ln2_supply_ok(self):
        return not self.f_ln2_low

    def buttons(self):
        vb = self.panel_buttons
        if vb is None or not vb.queue:
            return 0
        self.button_woke = True     # presses still queued keep the panel awake
        return vb.read(self.clock.ms)

    def fit_panel(self):
        """The front panel's display and buttons (run.py --panel on)."""
        from crf_sim.display_virtual import VirtualDisplay, VirtualButtons
        self.display = VirtualDisplay()
        self.panel_buttons = VirtualButtons()

    def watchdog_feed(self):
        self.last_feed_ms = self.clock.ms

    def enable_watchdog(self, timeout_ms):
        # Emulated when the simulator asks for it (run.py: cause_path set);
        # tests that drive the App pass by pass do without.
        if self.cause_path is not None:
            self.wdt_ms = int(timeout_ms)
            self.last_feed_ms = self.clock.ms

    def reset_cause(self):
        """'watchdog' after an emulated watchdog reset (crf_sim.restart), else None."""
        import os
        try:
            os.stat(self.cause_path)
        except (OSError, TypeError):
            return None
        from crf_sim.restart import read_cause
        return read_cause(self)

    def sim_fault(self, kind, on):
        """Link command sim_fault (simulation only): a fault on or off."""
        from crf_sim.simfault import sim_fault
        sim_fault(self, kind, on)

    # link: non-blocking read of what the host sent
    def link_read(self, buf):
        # One byte per readiness check (a read never blocks); ipoll and the
        # one-byte buffer allocate nothing, so an idle link adds no garbage
        # to the loop's (the board's link makes none either).
        if self.link_closed:
            return 0
        n = 0
        size = len(buf)
        one = self._one
        p = self._poll
        while n < size:
            ready = False
            for _ in p.ipoll(0):
                ready = True
            if not ready:
                break
            if not self._in.readinto(one):
                self.link_closed = True
                break
            buf[n] = one[0]
            n += 1
        return n

    def link_write(self, data):
        # The host side of the pty always drains; virtual time stands still
        # while this writes, so the firmware's timing is unaffected.
        if isinstance(data, str):
            data = data.encode()
        self._out.write(data)

    def link_room(self):
        return 1 << 20          # writes go straight out

    def link_pending(self):
        return 0

    # restart / repl: the process ends with a status saying which
    def restart(self):
        self.safe_outputs()
        raise SystemExit(EXIT_RESTART)

    def repl(self):
        self.safe_outputs()
        raise SystemExit(EXIT_REPL)

    def poll(self):
        pass
