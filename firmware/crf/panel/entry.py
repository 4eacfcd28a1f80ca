# The panel's text entry (batch, product and operator ids, the engineer PIN)
# with UP / DOWN / OK: UP and DOWN choose the character under the cursor
# (auto-repeat when held), OK adds it, a long OK finishes, STOP deletes the
# last character or, on an empty line, goes back. Loaded with
# crf.panel.forms between runs only. Functions take the Panel as `self`.
from crf.panel import buttons as B
from crf.panel import screens as D
from crf.panel import ui as U

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

F_BATCH = const(1)          # the fields
F_PRODUCT = const(2)
F_OPERATOR = const(3)
F_PIN = const(4)
F_NEWPIN = const(5)
F_NEWPIN2 = const(6)
F_SETOP = const(7)
ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_."
PIN_CHARS = "0123456789"


def _setup():
    from crf.panel import setup
    return setup


def _draw_entry(p, fb):
    D.bar(fb, entry_title(p), 0)
    pin = p.field in (F_PIN, F_NEWPIN, F_NEWPIN2)
    t = "*" * len(p.text) if pin else p.text
    if p.field == F_BATCH and p.profile:
        fb.text(p.profile[:16], 0, 10, 1)
    y = 24
    t = t[-15:]
    fb.text(t, 0, y, 1)
    cx = 8 * len(t)
    fb.fill_rect(cx - 1, y - 2, 10, 12, 1)
    fb.text(p.chars[p.cand], cx, y, 0)
    fb.hline(0, y + 10, 128, 1)
    fb.text("UP/DN:char OK:+", 0, 38, 1)
    fb.text("hold OK: done", 0, 47, 1)
    fb.text("STOP: delete", 0, 56, 1)


def _entry(self, field, text, now):
    self.field = field
    self.text = text
    self.chars = PIN_CHARS if field in (F_PIN, F_NEWPIN, F_NEWPIN2) else ID_CHARS
    self.cand = 0
    self.go(U.ENTRY, now)


def entry_title(self):
    return ("", "BATCH ID", "PRODUCT (opt.)", "OPERATOR ID", "ENGINEER PIN", "NEW PIN",
            "NEW PIN AGAIN", "OPERATOR ID")[self.field]


def _entry_key(self, b, ev, now):
    k = ev & 15
    n = len(self.chars)
    if b == B.UP:
        self.cand = (self.cand + 1) % n
    elif b == B.DOWN:
        self.cand = (self.cand - 1) % n
    elif b == B.OK and k == B.PRESS:
        if len(self.text) < 16:         # ids: what one display line shows
            self.text += self.chars[self.cand]
    elif b == B.OK and k == B.LONG:
        _entry_done(self, now)
    elif b == B.STOP and k == B.PRESS:
        if self.text:
            self.text = self.text[:-1]
        else:
            _entry_back(self, now)


def _entry_back(self, now):
    f = self.field
    if f == F_BATCH:
        self.go(U.PREVIEW, now)
    elif f == F_PRODUCT:
        _entry(self, F_BATCH, self.batch, now)
    elif f == F_OPERATOR:
        _entry(self, F_PRODUCT, self.product, now)
    elif f in (F_NEWPIN, F_NEWPIN2):
        _setup()._settings(self, now)
    else:
        self.go(U.HOME, now)


def _entry_done(self, now):
    f = self.field
    t = self.text
    if f == F_BATCH:
        if not t:
            self.say_hint("a batch id is needed", now)
            return
        self.batch = t
        _entry(self, F_PRODUCT, self.product, now)
    elif f == F_PRODUCT:
        self.product = t
        _entry(self, F_OPERATOR, self.operator, now)
    elif f == F_OPERATOR or f == F_SETOP:
        if not t:
            self.say_hint("an operator id is needed", now)
            return
        if f == F_SETOP and t != self.operator:
            self.app.note("note", t, "front panel operator: %s" % t)
        self.operator = t
        self.go(U.CONFIRM_START if f == F_OPERATOR else U.MENU, now)
    elif f == F_PIN:
        _setup()._check_pin(self, t, now)
    elif f == F_NEWPIN:
        if len(t) < 4:
            self.say_hint("4 to 16 digits", now)
            return
        self.new_pin = t
        _entry(self, F_NEWPIN2, "", now)
    elif f == F_NEWPIN2:
        _setup()._set_pin(self, t, now)
