# The panel's forms, loaded only while no run is in progress and dropped
# when the operator is back on the status screen (crf.panel.ui.Panel.forms):
# the start flow (profile list, step preview, batch / product / operator
# entry, confirmation) and text entry; crf.panel.setup (settings behind the
# engineer PIN, device info) is loaded from here when asked for.
# Functions take the Panel as `self`.
from crf.panel import buttons as B
from crf.panel import screens as D
from crf.panel import ui as U
from crf.panel import lists as L
from crf.panel import entry as E


def handle(self, b, k, ev, now):
    sc = self.screen
    if sc == U.PROFILES:
        if L.cursor(self, b, len(self.items)) and b == B.OK and self.items:
            _preview(self, self.items[self.sel], now)
        elif b == B.STOP:
            self.go(U.HOME, now)
    elif sc == U.PREVIEW:
        if L.cursor(self, b, len(self.steps)) and b == B.OK:
            self.batch = ""
            self.product = ""
            E._entry(self, E.F_BATCH, "", now)
        elif b == B.STOP:
            _profiles(self, now)
    elif sc == U.ENTRY:
        E._entry_key(self, b, ev, now)
    elif sc == U.CONFIRM_START:
        if b == B.OK:
            _start(self, now)
        elif b == B.STOP:
            E._entry(self, E.F_OPERATOR, self.operator, now)
    else:                                   # SETTINGS, CONFIG, INFO
        _setup().handle(self, b, now)


def _setup():
    from crf.panel import setup
    return setup


def menu(self, it, now):
    if it == "Start run":
        _profiles(self, now)
    elif it == "Operator":
        E._entry(self, E.F_SETOP, self.operator, now)
    elif it == "Device info":
        self.info = None
        self.go(U.INFO, now)
    elif it == "Settings":
        from crf.link.auth import LOCK_MS
        c = self.clock
        if self.pin_lock_t is not None and c.ticks_diff(now, self.pin_lock_t) < LOCK_MS:
            self.say("PIN locked: wrong 5 times. Try later.", now)
        elif self.engineer_t is not None and c.ticks_diff(now, self.engineer_t) < 120000:
            _setup()._settings(self, now)
        else:
            self.engineer_t = None
            self.pin_lock_t = None
            E._entry(self, E.F_PIN, "", now)


def draw(self, fb):
    sc = self.screen
    if sc == U.PROFILES:
        L.listing(fb, "PROFILES", self.items, self.sel)
    elif sc == U.PREVIEW:
        L.listing(fb, self.profile or "", self.steps, self.sel, "OK:use STOP:back")
    elif sc == U.ENTRY:
        E._draw_entry(self, fb)
    elif sc == U.CONFIRM_START:
        _draw_confirm(self, fb)
    else:
        _setup().draw(self, fb)


def _draw_confirm(p, fb):
    D.bar(fb, "START RUN?", 0)
    fb.text(("P " + (p.profile or ""))[:16], 0, 11, 1)
    fb.text(("B " + p.batch)[:16], 0, 20, 1)
    fb.text(("  " + p.product)[:16] if p.product else "  (no product)", 0, 29, 1)
    fb.text(("O " + p.operator)[:16], 0, 38, 1)
    fb.text("OK: start", 0, 48, 1)
    fb.text("STOP: back", 0, 56, 1)


# start flow: profile list -> preview -> batch -> product -> operator -> confirm
def _profiles(self, now):
    import os
    names = []  # type: list[str]
    try:
        for n in os.listdir(self.app.profiles_dir):
            if n.endswith(".json") and len(names) < 24:
                names.append(n[:-5])
    except OSError:
        pass
    names.sort()
    self.items = names
    self.steps = ()
    self.go(U.PROFILES, now)
    self.items = names
    if not names:
        self.say("no profiles stored: load one with crf profile push", now)

def _preview(self, name, now):
    # Only read for the preview: the start validates it (crf.app.start_run)
    # once this module is unloaded.
    import json
    try:
        with open(self.app.profiles_dir + "/" + name + ".json") as f:
            prof = json.loads(f.read())
        prof["steps"][0]
    except MemoryError:
        self.go(U.HOME, now)
        self.say_hint("busy: try again", now)
        return
    except Exception:
        self.say("profile %s cannot be read" % name, now)
        return
    self.profile = name
    lines = []
    for i, st in enumerate(prof["steps"]):
        lines.append(_step_line(i + 1, st))
    try:
        from crf.profile.validate import estimate_duration_s
        c = self.app.chamber_c
        lines.append("total ~%s" % _hm(estimate_duration_s(prof, c if c is not None else 20.0)))
    except Exception:
        pass
    self.steps = lines
    self.go(U.PREVIEW, now)

def _start(self, now):
    # Confirmed. The start itself runs on the next pass from crf.panel.ui,
    # once this module's code is freed (the run's record needs the heap).
    self.start_req = True
    self.go(U.HOME, now)
    self.say_hint("starting...", now)


def _hm(s):
    s = int(s)
    return "%dh%02dm" % (s // 3600, s // 60 % 60)


def _step_line(n, st):
    # "2 -4C 1/min S": step, target, rate, S if the sample probe leads
    k = st.get("kind")
    if k == "ramp":
        return "%d %gC %g/min%s" % (n, st.get("target_c", 0), st.get("rate_c_per_min", 0),
                                    " S" if st.get("probe") == "sample" else "")
    if k == "hold":
        d = st.get("duration_s")
        return "%d hold %gC %s" % (n, st.get("target_c", 0),
                                   "op" if st.get("until") == "operator" else "%dmin" % (d // 60) if d else "")
    return "%d %s" % (n, k)
