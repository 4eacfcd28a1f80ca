# The front panel: four buttons (UP, DOWN, OK, STOP), a 128x64 display.
# One state machine on the same App as the serial link: a run started here
# is the run `crf status` shows, and the other way round; every operator
# action goes through app.start_run / stop / hold / resume / ack_alarms with
# the operator id entered here as `who`, so it is recorded like the link's.
#
# service(now, ticked) is called once per loop pass (App.pass_once):
#  - buttons: one debounced event at most (crf.panel.buttons), handled at
#    once (a state change; an operator action if confirmed);
#  - in a pass where the control tick ran: nothing else;
#  - otherwise either one redraw into the display's buffer (at most every
#    _MIN_MS, when something shown changed) or up to _PAGES pages of the
#    transfer to the display (display.show_step()).
# Screens are drawn by crf.panel.screens; this module holds the state.
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

# Text entry fields
F_BATCH = const(1)
F_PRODUCT = const(2)
F_OPERATOR = const(3)
F_PIN = const(4)
F_NEWPIN = const(5)
F_NEWPIN2 = const(6)
F_SETOP = const(7)

_MIN_MS = const(250)        # redraws at most 4 per second
_REFRESH_MS = const(3000)   # status screens: live values every 3 s (if changed)
_PAGES = const(4)           # display pages sent per pass (8 make a frame)
_CONFIRM_MS = const(15000)  # a confirmation not given in time is cancelled
_IDLE_MS = const(120000)    # menus fall back to the status screen
_MSG_MS = const(4000)
_HINT_MS = const(3000)
_PIN_FAILS = const(5)
_PIN_LOCK_MS = const(300000)
_ID_MAX = const(16)         # what the entry line shows (the link allows 32)

ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_."
PIN_CHARS = "0123456789"


class Panel:
    def __init__(self, app):
        from crf.panel.screens import Screens
        self.app = app
        self.board = app.board
        self.clock = app.clock
        self.disp = app.board.display
        self.btn = B.Buttons(self.clock.ticks_diff, self.clock.ticks_add)
        self.view = Screens(self)
        now = self.clock.ticks_ms()
        self.screen = HOME
        self.sel = 0                # cursor in the present list
        self.items = ()             # menu items / list rows of the screen
        self.operator = ""          # operator id entered at this panel
        self.profile = None         # start flow: name, batch, product
        self.steps = ()             # preview: text lines of the steps
        self.batch = ""
        self.product = ""
        self.field = 0              # text entry: which field
        self.text = ""
        self.cand = 0               # index of the candidate character
        self.chars = ID_CHARS
        self.msg = ()               # MESSAGE: lines of text
        self.hint = None            # one line over the status screen
        self.hint_t = 0
        self.stuck_note = None      # a stuck button, shown until released
        self.engineer_t = None      # settings unlocked (ticks), None if locked
        self.pin_fails = 0
        self.pin_lock_t = None
        self.new_pin = ""
        self.info = None
        self.entered = now          # ticks the screen was entered / last press
        self.dirty = True
        self.sending = False
        self.drawn_t = now
        self.last_unacked = 0
        self.forms = None           # crf.panel.forms while a form is open
        self.presses = 0            # button events handled (tests, diagnostics)
        self.faults = 0
        self.last_fault = None

    # -- the loop's entry ------------------------------------------------
    def service(self, now, ticked):
        """Once per loop pass: bounded work, never blocks, never raises."""
        try:
            self._service(now, ticked)
        except Exception as ex:     # a drawing bug must not stop the freezer
            self.faults += 1
            self.last_fault = repr(ex)
            self.screen = HOME
            self.sending = False

    def _service(self, now, ticked):
        raw = self.board.buttons()
        btn = self.btn
        if raw or not btn.quiet:
            ev = btn.update(raw, now)
            if ev:
                self.presses += 1
                self.entered = now
                self.handle(ev, now)
                self.dirty = True
        if ticked:
            self._timeouts(now)         # and nothing else in a control tick's pass
            return
        if self.sending:
            d = self.disp
            for _ in range(_PAGES):
                if d.show_step():
                    self.sending = False
                    break
            return
        diff = self.clock.ticks_diff
        if diff(now, self.drawn_t) < (_MIN_MS if self.dirty else _REFRESH_MS):
            return                      # the common case: cheap
        if not self.dirty and self.screen not in (HOME, ALARMS):
            return
        if not self.dirty and self.view.same():
            self.drawn_t = now          # nothing shown has changed
            return
        self.view.draw(now)
        self.disp.begin_show()
        self.sending = True
        self.dirty = False
        self.drawn_t = now

    def _alarm_changed(self):
        n = self.unacked()
        if n != self.last_unacked:
            self.last_unacked = n
            return True
        return False

    def _timeouts(self, now):
        if self._alarm_changed():
            self.dirty = True
        c = self.clock
        idle = c.ticks_diff(now, self.entered)
        sc = self.screen
        if sc == CONFIRM_STOP and idle >= _CONFIRM_MS:
            self.go(HOME, now)
            self.say_hint("stop cancelled", now)
        elif sc == MESSAGE and idle >= _MSG_MS:
            self.go(HOME, now)
        elif sc != HOME and idle >= _IDLE_MS:
            self.go(HOME, now)
        if self.hint is not None and c.ticks_diff(now, self.hint_t) >= _HINT_MS:
            self.hint = None
            self.dirty = True
        if self.engineer_t is not None and c.ticks_diff(now, self.engineer_t) >= _IDLE_MS \
                and sc not in (SETTINGS, CONFIG, ENTRY):
            self.engineer_t = None
        if self.pin_lock_t is not None and c.ticks_diff(now, self.pin_lock_t) >= _PIN_LOCK_MS:
            self.pin_lock_t = None
        if self.stuck_note is not None and not self.btn.stuck:
            self.stuck_note = None
            self.dirty = True

    # -- what the screens read -------------------------------------------
    def state(self):
        return self.app.engine.state

    def alarm_rows(self):
        al = getattr(self.app, "alarms", None)
        if al is None:
            return ()
        try:
            return al.active()
        except Exception:
            return ()

    def unacked(self):
        al = getattr(self.app, "alarms", None)
        if al is None:
            return 0
        try:
            return al.unacked()
        except Exception:
            return 0

    def who(self):
        return self.operator or "panel"

    # -- events ----------------------------------------------------------
    def go(self, screen, now, sel=0):
        if screen == HOME or screen == CONFIRM_STOP:
            self.drop_forms()
        self.screen = screen
        self.sel = sel
        self.entered = now
        self.dirty = True
        if screen == MENU:
            self.items = self._menu_items()
        elif screen == ALARMS:
            self.items = ()

    def say(self, text, now):
        self.msg = [text[i:i + 16] for i in range(0, min(len(text), 112), 16)]
        self.go(MESSAGE, now)

    def say_hint(self, text, now):
        self.hint = text
        self.hint_t = now
        self.dirty = True

    def handle(self, ev, now):
        b = B.button_of(ev)
        k = B.kind_of(ev)
        if k == B.STUCK:
            self._stuck(b)
            return
        running = self.app.running()
        if b == B.STOP and k == B.LONG:
            if running:
                self.go(CONFIRM_STOP, now)
            else:
                self.say_hint("no run to stop", now)
            return
        sc = self.screen
        if sc == HOME:
            self._home(b, now, running)
        elif sc == MENU:
            self._menu(b, now)
        elif sc == CONFIRM_STOP:
            if b == B.OK and k == B.PRESS:
                self._do(self.app.stop, "run stopped", "nothing to stop", now)
            elif b == B.STOP and k == B.PRESS:
                self.go(HOME, now)
                self.say_hint("stop cancelled", now)
        elif sc == ALARMS:
            self._alarms(b, now)
        elif sc == MESSAGE:
            if b == B.OK or b == B.STOP:
                self.go(HOME, now)
        elif self.forms is not None:
            self.forms.handle(self, b, k, ev, now)
        else:
            self.go(HOME, now)

    def _stuck(self, b):
        name = B.bit_name(b)
        self.stuck_note = "%s BUTTON STUCK" % name
        self.dirty = True
        try:
            self.app.note("note", "panel", "front panel: %s button held 30 s, ignored until released" % name)
        except Exception:
            pass

    def _list(self, b, n):
        """UP/DOWN move the cursor (clamped); True for OK and STOP."""
        if b == B.UP:
            if self.sel > 0:
                self.sel -= 1
            return False
        if b == B.DOWN:
            if self.sel < n - 1:
                self.sel += 1
            return False
        return True

    def _home(self, b, now, running):
        if b == B.OK:
            if self.unacked():
                self.go(ALARMS, now)
            else:
                self.go(MENU, now)
        elif b == B.STOP:
            if running:
                self.say_hint("hold STOP 2 s to stop", now)
        elif b == B.DOWN and self.alarm_rows():
            self.go(ALARMS, now)

    def _menu_items(self):
        app = self.app
        st = self.state()
        e = app.engine
        items = []
        if st == "held":
            items.append("Continue")
        elif st == "running":
            if e.kind == "hold" and e.step and e.step.get("until") == "operator":
                items.append("Continue")
            items.append("Hold")
        elif st == "end":
            items.append("Finish run")
        else:
            items.append("Start run")
        items.append("Alarms")
        if st not in ("running", "held", "end"):
            items.append("Operator")
            items.append("Device info")
            items.append("Settings")
        return items

    def _menu(self, b, now):
        if not self._list(b, len(self.items)):
            return
        if b == B.STOP:
            self.go(HOME, now)
            return
        it = self.items[self.sel]
        app = self.app
        if it == "Hold":
            self._do(app.hold, "run held", "cannot hold now", now)
        elif it == "Continue":
            self._do(app.resume, "run continues", "nothing to continue", now)
        elif it == "Finish run":
            self.go(CONFIRM_STOP, now)
        elif it == "Alarms":
            self.go(ALARMS, now)
        elif app.running():
            self.say("not during a run", now)
        else:
            self.load_forms().menu(self, it, now)

    def load_forms(self):
        if self.forms is None:
            from crf.panel import forms
            self.forms = forms
        return self.forms

    def drop_forms(self):
        # The forms' code is freed while a run is in progress (heap budget).
        if self.forms is not None:
            import sys
            self.forms = None
            sys.modules.pop("crf.panel.forms", None)
            try:
                delattr(sys.modules["crf.panel"], "forms")
            except (AttributeError, KeyError):
                pass

    def _do(self, fn, ok_text, no_text, now):
        try:
            done = fn(self.who())
        except Exception as ex:
            self.say("refused: %s" % ex, now)
            return
        self.go(HOME, now)
        self.say_hint(ok_text if done else no_text, now)

    def _alarms(self, b, now):
        rows = self.alarm_rows()
        if not self._list(b, len(rows)):
            return
        if b == B.STOP:
            self.go(HOME, now)
            return
        ack = getattr(self.app, "ack_alarms", None)
        if ack is None:
            self.say("no alarm system on this firmware", now)
            return
        try:
            n = ack(self.who())
        except Exception as ex:
            self.say("refused: %s" % ex, now)
            return
        self.say_hint("%d acknowledged" % n if n else "nothing to acknowledge", now)

