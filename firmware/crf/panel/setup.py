# The panel's engineer settings, behind the engineer PIN of the link
# (crf.link.auth: the device keeps salt and SHA-256(salt || PIN), never the
# PIN), and the device info. Loaded with crf.panel.forms between runs only.
# Functions take the Panel as `self`.
from crf.panel import buttons as B
from crf.panel import screens as D
from crf.panel import ui as U
from crf.panel import lists as L
from crf.panel import entry as E
from crf.panel.entry import _entry


def handle(self, b, now):
    sc = self.screen
    if sc == U.SETTINGS:
        if L.cursor(self, b, len(self.items)) and b == B.OK:
            _setting(self, self.items[self.sel], now)
        elif b == B.STOP:
            self.engineer_t = None
            self.go(U.HOME, now)
    elif sc == U.CONFIG:
        if b == B.STOP or b == B.OK:
            _settings(self, now)
        else:
            L.cursor(self, b, len(self.items))
    elif b == B.OK or b == B.STOP:          # INFO
        self.go(U.HOME, now)


def draw(self, fb):
    sc = self.screen
    if sc == U.SETTINGS:
        L.listing(fb, "SETTINGS", self.items, self.sel)
    elif sc == U.CONFIG:
        L.listing(fb, "CONFIG", self.items, self.sel)
    else:
        _draw_info(self, fb)


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
        free = "flash %d KB free" % (st[0] * st[3] // 1024)
    except OSError:
        free = "flash ?"
    return ("%s %s" % (MODEL, getattr(b, "serial", "?")), "fw " + FW_VERSION,
            "board " + b.name, free,
            "heap %d KB free" % (gc.mem_free() // 1024) if hasattr(gc, "mem_free") else "")


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
    if self.pin_fails >= auth.FAILS_MAX:
        self.pin_fails = 0
        self.pin_lock_t = now
        self.say("wrong PIN %d times: locked for %d s" % (auth.FAILS_MAX, auth.LOCK_MS // 1000), now)
    else:
        self.say("wrong PIN, %d attempts left" % (auth.FAILS_MAX - self.pin_fails), now)


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
        _entry(self, E.F_NEWPIN, "", now)
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
