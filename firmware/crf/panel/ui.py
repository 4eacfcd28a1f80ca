# The front panel: four buttons (UP, DOWN, OK, STOP), a 128x64 display.
# One state machine on the same App as the serial link: a run started here
# is the run `crf status` shows, and the other way round; every operator
# action goes through app.start_run / stop / hold / resume / ack_alarms with
# the operator id entered here as `who`, so it is recorded like the link's.
#
# service(now, ticked) runs in every control tick's pass and, between
# ticks, only while the panel is awake (App.pass_once checks `asleep` and
# the board's `button_woke`, set when a button goes down: a pin interrupt
# on the board, a queued press on the virtual freezer). So most passes cost
# the panel two attribute reads, not a call and four pin reads. Awake:
#  - buttons: one debounced event at most (crf.panel.buttons), handled at once;
#  - in a pass where the control tick ran: nothing else but timeouts and
#    the 5 s look at the status screen being made due;
#  - otherwise a module load asked for by the last event, or one redraw into
#    the display's buffer (at most every _MIN_MS after a press; the status
#    screen's values looked at every _REFRESH_MS, only the parts that
#    changed redrawn and only their display pages sent), or up to _PAGES
#    pages of the transfer (display.show_step()).
#
# Heap: only what a run cannot do without stays loaded - this module,
# crf.panel.screens (status, end, stop confirmation, messages) and
# crf.panel.buttons. The menu and alarm list (menu, lists) and, between
# runs, the start flow and settings (forms, entry, setup) are loaded when
# opened (on the next pass, with the other panel modules dropped and the
# heap collected) and dropped on the status screen. A load that finds no
# memory is retried for a few passes, then the status screen says so; the
# long STOP and its confirmation never need a load.
from crf.panel import buttons as B

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

HOME = const(0)
MENU = const(1)
PROFILES = const(2)
PREVIEW = const(3)
ENTRY = const(4)
CONFIRM_START = const(5)
CONFIRM_STOP = const(6)
ALARMS = const(7)
SETTINGS = const(8)
INFO = const(9)
MESSAGE = const(10)
CONFIG = const(11)

_MIN_MS = const(250)        # redraws at most 4 per second
_REFRESH_MS = const(5000)   # status screen: a look at its values every 5 s (redrawn if changed)
_PAGES = const(4)           # display pages sent per pass (8 make a frame)
_CONFIRM_MS = const(15000)  # a stop not confirmed in time is cancelled
_IDLE_MS = const(120000)    # other screens fall back to the status screen
_MSG_MS = const(4000)
_HINT_MS = const(3000)
_TRIES = const(5)           # passes a module load is tried while memory is short

_LAZY = ("setup", "forms", "entry", "menu", "lists")


class Panel:
    def __init__(self, app):
        self.app = app
        self.board = app.board
        self.clock = app.clock
        self.disp = app.board.display
        self.btn = B.Buttons(self.clock.ticks_diff, self.clock.ticks_add)
        now = self.clock.ticks_ms()
        self.screen = HOME
        self.sel = 0                # cursor in the present list
        self.items = ()             # rows of the present list
        self.operator = ""          # operator id entered at this panel
        self.profile = None         # start flow: profile, batch, product
        self.batch = ""
        self.product = ""
        self.msg = ()               # MESSAGE: lines
        self.engineer_t = None      # settings unlocked by the PIN (ticks), or None
        self.pin_lock_t = None      # PIN entry locked after wrong PINs (ticks), or None
        self.pin_fails = 0
        self.hint = None            # one line over the screen, for _HINT_MS
        self.hint_t = 0
        self.stuck = None           # a stuck button's name, shown until released
        self.pending = None         # (module, function, argument) for the next pass
        self.tries = 0
        self.start_req = False      # a confirmed start, done on the next pass
        self.entered = now          # ticks of the last press / screen change
        self.dirty = True
        self.sending = False
        self.drawn_t = now
        self.checked_t = now        # last look at the status screen's values
        self.due = True             # a look is due (set by a control tick every _REFRESH_MS)
        self.asleep = False         # nothing to do until a tick or a button (App.pass_once)
        self.layout = None          # the status screen as drawn whole (crf.panel.screens)
        self.keys = [0] * 6         # its changing values as shown, and a spare list
        self.keys_new = [0] * 6
        self.alarms = 0             # unacknowledged alarms last seen
        self.faults = 0
        self.last_fault = None

    # -- the loop's entry ------------------------------------------------
    def service(self, now, ticked):
        """In every control tick's pass, and in the passes between while
        awake (App.pass_once: `asleep` is False, or a button went down and
        the board set button_woke). Bounded work, never blocks, never raises."""
        try:
            b = self.board
            b.button_woke = False       # (first: a press after the read wakes the next pass)
            raw = b.buttons()
            btn = self.btn
            if raw or not btn.quiet:
                ev = btn.update(raw, now)
                if ev:
                    self.entered = now
                    self.dirty = True
                    self.handle(ev, now)
            if ticked:
                self._tick(now)         # timeouts only in a control tick's pass
            elif self.dirty or self.sending or self.due or self.pending is not None or self.start_req:
                self._work(now)
            self.asleep = btn.quiet and not (self.dirty or self.sending or self.due or
                                             self.pending is not None or self.start_req)
        except Exception as ex:     # a panel bug must not stop the freezer
            self.faults += 1
            self.last_fault = ex
            self.screen = HOME
            self.pending = None
            self.sending = False
            self.dirty = True
            self.asleep = False

    def _tick(self, now):
        n = self.unacked()
        if n != self.alarms:
            self.alarms = n
            self.dirty = True
        diff = self.clock.ticks_diff
        if diff(now, self.checked_t) >= _REFRESH_MS:
            self.due = True             # a look at the status screen's values
        sc = self.screen
        if sc == HOME and self.hint is None and self.stuck is None:
            return                      # (the common case: no timeout runs)
        idle = diff(now, self.entered)
        if sc == CONFIRM_STOP and idle >= _CONFIRM_MS:
            self.go(HOME, now)
            self.say_hint("stop cancelled", now)
        elif sc == MESSAGE and idle >= _MSG_MS or sc != HOME and idle >= _IDLE_MS:
            self.go(HOME, now)
        if self.hint is not None and diff(now, self.hint_t) >= _HINT_MS:
            self.hint = None
            self.dirty = True
        if self.stuck is not None and not self.btn.stuck:
            self.stuck = None
            self.dirty = True

    def _work(self, now):
        # A pass without a control tick: a load, a transfer or a redraw.
        if self.start_req:
            self._start(now)
        elif self.pending is not None:
            self._load(now)
        if self.sending:
            d = self.disp
            for _ in range(_PAGES):
                if d.show_step():
                    self.sending = False
                    break
            return
        if self.clock.ticks_diff(now, self.drawn_t) < _MIN_MS:
            return
        self.due = False
        self.checked_t = now
        from crf.panel import screens
        if self.dirty:
            screens.draw(self)
            pages = 0, 7
        elif self.screen != HOME:
            return                      # (other screens change on events)
        else:
            pages = screens.refresh(self)   # the parts that changed, if any
            if pages is None:
                return
        self.disp.begin_show(pages[0], pages[1])
        self.sending = True
        self.dirty = False
        self.drawn_t = now

    def _load(self, now):
        # Load the module an event asked for, with the others dropped.
        mod, fn, arg = self.pending
        drop()
        import gc
        import sys
        gc.collect()
        try:
            __import__("crf.panel." + mod)
        except MemoryError:
            self.tries += 1
            if self.tries >= _TRIES:
                self.pending = None
                self.go(HOME, now)
                self.say_hint("busy: try again", now)
            return
        self.pending = None
        getattr(sys.modules["crf.panel." + mod], fn)(self, arg, now)

    def _start(self, now):
        # The start confirmed in crf.panel.forms, now that its code is
        # dropped: the run's record needs the heap.
        self.start_req = False
        app = self.app
        import gc
        gc.collect()
        try:
            run = app.start_run(self.profile, self.batch, self.product, self.operator)
        except MemoryError:
            self.say("not started: no memory", now)
            return
        except OSError:
            self.say("profile cannot be read", now)
            return
        except Exception as ex:
            self.say("not started: %s" % ex, now)
            return
        try:
            app.link.audit.add(self.operator, "operator", "run_start",
                               {"run": run, "profile": self.profile, "batch": self.batch,
                                "product": self.product, "via": "panel"})
        except Exception:
            pass
        self.say_hint("run %d started" % run, now)

    # -- for the screens and the modules loaded on demand ------------------
    def unacked(self):
        al = getattr(self.app, "alarms", None)
        return al.unacked() if al is not None else 0

    def who(self):
        return self.operator or "panel"

    def go(self, screen, now):
        if screen == HOME or screen == CONFIRM_STOP:
            drop()
        self.screen = screen
        self.sel = 0
        self.hint = None
        self.entered = now
        self.dirty = True

    def say(self, text, now):
        self.msg = tuple(text[i:i + 16] for i in range(0, min(len(text), 112), 16))
        self.go(MESSAGE, now)

    def say_hint(self, text, now):
        self.hint = text
        self.hint_t = now
        self.dirty = True

    def load(self, mod, fn, arg):
        """Call crf.panel.<mod>.<fn>(panel, arg, now) on the next pass."""
        self.pending = (mod, fn, arg)
        self.tries = 0

    # -- events ----------------------------------------------------------
    def handle(self, ev, now):
        b = ev >> 4
        k = ev & 15
        app = self.app
        if k == B.STUCK:
            self.stuck = "UP" if b == B.UP else "DOWN" if b == B.DOWN else "OK" if b == B.OK else "STOP"
            app.note("note", "panel", "front panel: %s button held 30 s, ignored until released" % self.stuck)
            return
        if b == B.STOP and k == B.LONG:
            if app.running():
                self.go(CONFIRM_STOP, now)
            else:
                self.say_hint("no run to stop", now)
            return
        sc = self.screen
        if sc == HOME:
            if b == B.OK:
                self.load("menu", "open", ALARMS if self.unacked() else MENU)
            elif b == B.STOP and app.running():
                self.say_hint("hold STOP 2 s", now)
        elif sc == CONFIRM_STOP:
            if k != B.PRESS:
                return
            if b == B.OK:
                try:
                    done = app.stop(self.who())
                except Exception as ex:
                    self.say("refused: %s" % ex, now)
                    return
                self.go(HOME, now)
                self.say_hint("run stopped" if done else "nothing to stop", now)
            elif b == B.STOP:
                self.go(HOME, now)
                self.say_hint("stop cancelled", now)
        elif sc == MESSAGE:
            if b == B.OK or b == B.STOP:
                self.go(HOME, now)
        else:
            import sys
            m = sys.modules.get("crf.panel." + ("menu" if sc == MENU or sc == ALARMS else "forms"))
            if m is None:               # dropped (e.g. after a fault): start over
                self.go(HOME, now)
            else:
                m.handle(self, b, k, ev, now)


def drop():
    """Unload the panel modules loaded on demand (their code is freed)."""
    import sys
    mods = sys.modules
    pk = mods.get("crf.panel")
    for m in _LAZY:
        if mods.pop("crf.panel." + m, None) is not None:
            try:
                delattr(pk, m)
            except (AttributeError, KeyError):
                pass
