# The panel's forms, loaded only while no run is in progress and dropped
# when the operator is back on the status screen (crf.panel.ui.Panel.forms):
# the start flow (profile list, step preview, batch / product / operator
# entry, confirmation), the engineer settings behind the PIN, device info.
# Functions take the Panel as `self`.
from crf.panel import buttons as B
from crf.panel import draw as D
from crf.panel import ui as U


def handle(self, b, k, ev, now):
    sc = self.screen
    if sc == U.PROFILES:
        if self._list(b, len(self.items)) and b == B.OK and self.items:
            _preview(self, self.items[self.sel], now)
        elif b == B.STOP:
            self.go(U.MENU, now)
    elif sc == U.PREVIEW:
        if self._list(b, len(self.steps)) and b == B.OK:
            self.batch = ""
            self.product = ""
            _entry(self, U.F_BATCH, "", now)
        elif b == B.STOP:
            _profiles(self, now)
    elif sc == U.ENTRY:
        _entry_key(self, b, ev, now)
    elif sc == U.CONFIRM_START:
        if b == B.OK:
            _start(self, now)
        elif b == B.STOP:
            _entry(self, U.F_OPERATOR, self.operator, now)
    elif sc == U.SETTINGS:
        if self._list(b, len(self.items)) and b == B.OK:
            _setting(self, self.items[self.sel], now)
        elif b == B.STOP:
            self.engineer_t = None
            self.go(U.MENU, now)
    elif sc == U.CONFIG:
        if b == B.STOP or b == B.OK:
            _settings(self, now)
        else:
            self._list(b, len(self.items))
    elif b == B.OK or b == B.STOP:          # INFO
        self.go(U.MENU, now)


def menu(self, it, now):
    if it == "Start run":
        _profiles(self, now)
    elif it == "Operator":
        _entry(self, U.F_SETOP, self.operator, now)
    elif it == "Device info":
        self.info = None
        self.go(U.INFO, now)
    elif it == "Settings":
        if self.engineer_t is not None:
            _settings(self, now)
        elif self.pin_lock_t is not None:
            self.say("PIN locked: wrong 5 times. Try later.", now)
        else:
            _entry(self, U.F_PIN, "", now)


def draw(self, v):
    sc = self.screen
    if sc == U.PROFILES:
        v.listing("PROFILES", self.items, self.sel)
    elif sc == U.PREVIEW:
        v.listing(self.profile or "", self.steps, self.sel, "OK:use STOP:back")
    elif sc == U.ENTRY:
        _draw_entry(self, v.fb)
    elif sc == U.CONFIRM_START:
        _draw_confirm(self, v.fb)
    elif sc == U.SETTINGS:
        v.listing("SETTINGS", self.items, self.sel)
    elif sc == U.CONFIG:
        v.listing("CONFIG", self.items, self.sel)
    else:
        _draw_info(self, v.fb)


def _draw_entry(p, fb):
    D.bar(fb, entry_title(p), 0)
    pin = p.field in (U.F_PIN, U.F_NEWPIN, U.F_NEWPIN2)
    t = "*" * len(p.text) if pin else p.text
    if p.field == U.F_BATCH and p.profile:
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


def _draw_confirm(p, fb):
    D.bar(fb, "START RUN?", 0)
    fb.text(("P " + (p.profile or ""))[:16], 0, 11, 1)
    fb.text(("B " + p.batch)[:16], 0, 20, 1)
    fb.text(("  " + p.product)[:16] if p.product else "  (no product)", 0, 29, 1)
    fb.text(("O " + p.operator)[:16], 0, 38, 1)
    fb.text("OK: start", 0, 48, 1)
    fb.text("STOP: back", 0, 56, 1)


def _draw_info(p, fb):
    if p.info is None:
        p.info = _info(p.app)
    D.bar(fb, "DEVICE INFO", 0)
    y = 11
    for line in p.info:
        fb.text(line[:16], 0, y, 1)
        y += 9


def _info(app):
    import os
    import gc
    from crf.app import FW_VERSION, MODEL
    b = app.board
    try:
        st = os.statvfs(b.storage_root)
        free = "%d KB free" % (st[0] * st[3] // 1024)
    except OSError:
        free = "flash ?"
    return ("%s %s" % (MODEL, getattr(b, "serial", "?")), "fw " + FW_VERSION,
            "board " + b.name, free, "heap %d KB free" % (gc.mem_free() // 1024))

# start flow: profile list -> preview -> batch -> product -> operator -> confirm
def _profiles(self, now):
    import os
    names = []
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
    try:
        prof = self.app.load_profile(name)
    except Exception as ex:
        self.say("profile %s: %s" % (name, ex), now)
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

def _entry(self, field, text, now):
    self.field = field
    self.text = text
    self.chars = U.PIN_CHARS if field in (U.F_PIN, U.F_NEWPIN, U.F_NEWPIN2) else U.ID_CHARS
    self.cand = 0
    self.go(U.ENTRY, now)

def entry_title(self):
    return ("", "BATCH ID", "PRODUCT (opt.)", "OPERATOR ID", "ENGINEER PIN", "NEW PIN",
            "NEW PIN AGAIN", "OPERATOR ID")[self.field]

def _entry_key(self, b, ev, now):
    k = B.kind_of(ev)
    n = len(self.chars)
    if b == B.UP:
        self.cand = (self.cand + 1) % n
    elif b == B.DOWN:
        self.cand = (self.cand - 1) % n
    elif b == B.OK and k == B.PRESS:
        if len(self.text) < U._ID_MAX:
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
    if f == U.F_BATCH:
        self.go(U.PREVIEW, now)
    elif f == U.F_PRODUCT:
        _entry(self, U.F_BATCH, self.batch, now)
    elif f == U.F_OPERATOR:
        _entry(self, U.F_PRODUCT, self.product, now)
    elif f in (U.F_NEWPIN, U.F_NEWPIN2):
        _settings(self, now)
    else:
        self.go(U.MENU, now)

def _entry_done(self, now):
    f = self.field
    t = self.text
    if f == U.F_BATCH:
        if not t:
            self.say_hint("a batch id is needed", now)
            return
        self.batch = t
        _entry(self, U.F_PRODUCT, self.product, now)
    elif f == U.F_PRODUCT:
        self.product = t
        _entry(self, U.F_OPERATOR, self.operator, now)
    elif f == U.F_OPERATOR or f == U.F_SETOP:
        if not t:
            self.say_hint("an operator id is needed", now)
            return
        if f == U.F_SETOP and t != self.operator:
            self.app.note("note", t, "front panel operator: %s" % t)
        self.operator = t
        self.go(U.CONFIRM_START if f == U.F_OPERATOR else U.MENU, now)
    elif f == U.F_PIN:
        _check_pin(self, t, now)
    elif f == U.F_NEWPIN:
        if len(t) < 4:
            self.say_hint("4 to 16 digits", now)
            return
        self.new_pin = t
        _entry(self, U.F_NEWPIN2, "", now)
    elif f == U.F_NEWPIN2:
        _set_pin(self, t, now)

def _start(self, now):
    app = self.app
    if app.running():
        self.say("a run is in progress", now)
        return
    try:
        run = app.start_run(self.profile, self.batch, self.product, self.operator)
    except OSError:
        self.say("profile %s cannot be read" % self.profile, now)
        return
    except Exception as ex:
        self.say("not started: %s" % ex, now)
        return
    try:
        au = app.link.audit
        au.add(self.operator, "operator", "run_start",
               {"run": run, "profile": self.profile, "batch": self.batch,
                "product": self.product, "via": "panel"})
    except Exception:
        pass
    self.go(U.HOME, now)
    self.say_hint("run %s started" % run, now)

# settings: engineer PIN (the link's PIN store, crf.link.auth)
def _check_pin(self, pin, now):
    from crf.link import auth
    ok = _pin_ok(self.app, pin)
    if ok is None:
        self.say("no PIN set on this freezer", now)
        return
    if ok:
        self.pin_fails = 0
        self.engineer_t = now
        self.app.note("auth", "panel", "front panel settings: PIN accepted")
        _settings(self, now)
        return
    self.pin_fails += 1
    self.app.note("auth", "panel", "front panel settings: wrong PIN")
    if self.pin_fails >= U._PIN_FAILS:
        self.pin_fails = 0
        self.pin_lock_t = now
        self.say("wrong PIN %d times: locked for %d s" % (auth.FAILS_MAX, U._PIN_LOCK_MS // 1000), now)
    else:
        self.say("wrong PIN, %d attempts left" % (U._PIN_FAILS - self.pin_fails), now)

def _settings(self, now):
    self.go(U.SETTINGS, now)
    self.items = ["View config", "Change PIN", "Lock settings"]

def _setting(self, it, now):
    if it == "View config":
        cfg = self.app.cfg
        rows = []
        for k in sorted(cfg):
            rows.append(k[:16])
            rows.append("%16s" % str(cfg[k])[:16])
        self.go(U.CONFIG, now)
        self.items = rows
    elif it == "Change PIN":
        _entry(self, U.F_NEWPIN, "", now)
    else:
        self.engineer_t = None
        self.go(U.HOME, now)

def _set_pin(self, pin, now):
    if pin != self.new_pin:
        self.new_pin = ""
        self.say("the PINs differ: not changed", now)
        return
    from crf.link import auth
    try:
        auth.set_pin(pin, self.board.storage_root)
    except (ValueError, OSError) as ex:
        self.say("not changed: %s" % ex, now)
        return
    self.new_pin = ""
    self.app.note("auth", "panel", "engineer PIN changed at the front panel")
    self.say("engineer PIN changed", now)


def _pin_ok(app, pin):
    """True / False; None if no PIN is stored (the link's store)."""
    from crf.link import auth
    st = auth.Auth(app.board.storage_root, app.clock)._store()
    if st is None:
        return None
    return auth._same(auth.pin_key(st[0], pin), st[1])


def _hm(s):
    s = int(s)
    return "%dh%02dm" % (s // 3600, s // 60 % 60)


def _step_line(n, st):
    k = st.get("kind")
    probe = "S" if st.get("probe") == "sample" else ""
    if k == "ramp":
        return "%d ramp %g/m %g%s" % (n, -st.get("rate_c_per_min", 0), st.get("target_c", 0), probe)
    if k == "hold":
        if st.get("until") == "operator":
            return "%d hold %g op" % (n, st.get("target_c", 0))
        d = st.get("duration_s")
        return "%d hold %g %s" % (n, st.get("target_c", 0), "%dm" % (d // 60) if d else "")
    return "%d %s" % (n, k)
