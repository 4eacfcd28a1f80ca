# The panel's menu and alarm list, loaded when the operator presses OK on
# the status screen and dropped back there (crf.panel.ui). During a run the
# menu holds / continues / finishes the run and lists the alarms; between
# runs it opens the start flow, operator id, device info and settings
# (crf.panel.forms, loaded on the next pass after this module is dropped,
# so that both never take the heap together). Functions take the Panel as
# `self`.
from crf.panel import buttons as B
from crf.panel import screens as D
from crf.panel import ui as U
from crf.panel import lists as L


def open(self, screen, now):
    self.go(screen, now)
    if screen == U.MENU:
        self.items = _items(self)


def _rows(self):
    al = getattr(self.app, "alarms", None)
    return al.active() if al is not None else ()


def _items(self):
    st = self.app.engine.state
    e = self.app.engine
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


def handle(self, b, k, ev, now):
    if self.screen == U.ALARMS:
        _alarms(self, b, now)
        return
    if not L.cursor(self, b, len(self.items)):
        return
    if b == B.STOP:
        self.go(U.HOME, now)
        return
    it = self.items[self.sel]
    app = self.app
    if it == "Hold":
        _do(self, app.hold, "run held", "cannot hold now", now)
    elif it == "Continue":
        _do(self, app.resume, "run continues", "nothing to continue", now)
    elif it == "Finish run":
        self.go(U.CONFIRM_STOP, now)
    elif it == "Alarms":
        self.go(U.ALARMS, now)
    elif app.running():
        self.say("not during a run", now)
    else:
        self.load("forms", "menu", it)  # once this module is dropped


def _do(self, fn, ok_text, no_text, now):
    try:
        done = fn(self.who())
    except Exception as ex:
        self.say("refused: %s" % ex, now)
        return
    self.go(U.HOME, now)
    self.say_hint(ok_text if done else no_text, now)


def _alarms(self, b, now):
    rows = _rows(self)
    if not L.cursor(self, b, len(rows)):
        return
    if b == B.STOP:
        self.go(U.HOME, now)
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
    self.say_hint("%d acknowledged" % n if n else "nothing to ack", now)


def draw(self, fb):
    if self.screen == U.MENU:
        L.listing(fb, "MENU", self.items, self.sel)
        return
    rows = _rows(self)
    n = len(rows)
    D.bar(fb, "ALARMS %d" % n, 0)
    if not n:
        fb.text("no alarms", 0, 14, 1)
        if getattr(self.app, "alarms", None) is None:
            fb.text("(not fitted)", 0, 23, 1)
        fb.text("STOP: back", 0, 56, 1)
        return
    sel = self.sel if self.sel < n else n - 1
    top = sel - 3 if sel > 3 else 0
    for i in range(4):
        j = top + i
        if j >= n:
            break
        r = rows[j]
        L.row(fb, (" " if r.acked else "!") + r.text, 11 + 9 * i, j == sel)
    r = rows[sel]
    fb.text(("%s %s" % (r.code, D.hm(r.since_s)))[:16], 0, 47, 1)
    fb.text("OK:ack STOP:back", 0, 56, 1)
