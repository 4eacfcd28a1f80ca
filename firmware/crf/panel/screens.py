# What each panel screen shows (crf.panel.ui holds the state). 128x64:
# eight 8-pixel text lines of 16 characters, or a status screen with the
# chamber and sample temperatures in 24-pixel digits.
from crf.panel import draw as D
from crf.panel import ui as U

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_ROWS = const(6)            # list rows under a title bar
_END_SAMPLE_C = -80.0       # transfer threshold when the profile names none

_STATE = {"idle": "IDLE", "running": "RUN", "held": "HELD", "end": "END", "stopped": "STOPPED"}


class Screens:
    def __init__(self, panel):
        self.p = panel
        self.fb = panel.disp.fb
        self.big = D.Big()
        self.key = None

    def same(self):
        """True if the status screen would show what it shows (cheap)."""
        a = self.p.app
        e = a.engine
        c = a.chamber_c
        s = a.sample_c
        k = (e.state, e.index, e.elapsed_ms // 60000, None if c is None else int(c * 10),
             None if s is None else int(s * 10), self.p.unacked())
        if k == self.key:
            return True
        self.key = k
        return False

    def draw(self, now):
        p = self.p
        fb = self.fb
        fb.fill(0)
        sc = p.screen
        if sc == U.HOME:
            self.home(now)
        elif sc == U.MENU:
            self.listing("MENU", p.items, p.sel)
        elif sc == U.CONFIRM_STOP:
            self.confirm_stop()
        elif sc == U.ALARMS:
            self.alarms()
        elif sc == U.MESSAGE or p.forms is None:
            self.message()
        else:
            p.forms.draw(p, self)
        self.overlays(now)

    # -- pieces ------------------------------------------------------------
    def overlays(self, now):
        p = self.p
        fb = self.fb
        n = p.unacked()
        if n:
            rows = p.alarm_rows()
            text = "ALARM"
            for r in rows:
                if not r.acked:
                    text = "!" + r.text
                    break
            if n > 1:
                text = text[:13] + " +%d" % (n - 1)
            D.bar(fb, text[:16], 0)
        if p.stuck_note is not None:
            D.bar(fb, p.stuck_note[:16], 55)
        elif p.hint is not None:
            D.bar(fb, p.hint[:16], 55)

    def listing(self, title, rows, sel, foot=None):
        fb = self.fb
        D.bar(fb, title[:16], 0)
        n = len(rows)
        top = sel - _ROWS + 1 if sel >= _ROWS else 0
        last = _ROWS - 1 if foot else _ROWS
        for i in range(last):
            j = top + i
            if j >= n:
                break
            y = 10 + 9 * i
            if j == sel:
                fb.fill_rect(0, y - 1, 128, 9, 1)
                fb.text(rows[j][:16], 0, y, 0)
            else:
                fb.text(rows[j][:16], 0, y, 1)
        if foot:
            fb.text(foot, 0, 56, 1)
        if n > last:
            # scroll position: a short mark on the right edge
            h = 54 * last // n
            fb.fill_rect(126, 9 + (54 - h) * top // max(1, n - last), 2, h, 1)

    def _temps(self, y, chamber, sample):
        fb = self.fb
        fb.text("CHAMBER", 0, y, 1)
        fb.text("SAMPLE", 68, y, 1)
        big = self.big
        y += 10
        x = big.number(fb, D.temp_text(chamber), 0, y)
        if chamber is not None:
            D.degree(fb, x - 1, y)
        x = big.number(fb, D.temp_text(sample), 68, y)
        if sample is not None:
            D.degree(fb, x - 1, y)
        fb.vline(64, y - 10, 34, 1)

    def home(self, now):
        p = self.p
        app = p.app
        e = app.engine
        fb = self.fb
        st = e.state
        if st == "end":
            self.end_screen()
            return
        if st in ("running", "held"):
            steps = len(e.profile["steps"]) if e.profile else 0
            head = "%s %d/%d %s" % (_STATE.get(st, st), e.index + 1, steps, app.profile_name or "")
        else:
            head = "%s  %s" % (_STATE.get(st, st), (app.profile_name or "") if st == "stopped" else "")
        fb.text(head[:16], 0, 0, 1)
        self._temps(10, app.chamber_c, app.sample_c)
        if st in ("running", "held"):
            if e.probe == "sample":
                sp = "SP S%.1f" % e.sp_sample
            else:
                sp = "SP %.1f" % app.ctl.chamber_sp
            rate = "" if st == "held" else "%+.1f/m" % (e.rate_c_s * 60.0)
            fb.text(sp, 0, 46, 1)
            D.right(fb, rate, 46)
            el = e.elapsed_ms // 1000
            rem = app.planned_s - el if app.planned_s else None
            fb.text(D.hm(el), 0, 56, 1)
            D.right(fb, "rem " + D.hm(rem), 56)
        else:
            fb.text("ready", 0, 46, 1)
            fb.text("OK: menu", 0, 56, 1)

    def end_screen(self):
        p = self.p
        app = p.app
        fb = self.fb
        s = app.sample_c
        limit = _END_SAMPLE_C
        prof = app.engine.profile
        if prof:
            acc = prof.get("acceptance")
            if acc and acc.get("end_sample_max_c") is not None:
                limit = acc["end_sample_max_c"]
        fb.text("END  %s" % (app.profile_name or ""), 0, 0, 1)
        fb.text("SAMPLE", 0, 10, 1)
        x = self.big.number(fb, D.temp_text(s), 0, 20)
        if s is not None:
            D.degree(fb, x - 1, 20)
        fb.text("lim", 88, 20, 1)
        fb.text("%d" % limit, 88, 30, 1)
        if s is not None and s <= limit:
            D.bar(fb, "TRANSFER TO LN2", 46)
            D.bar(fb, "STORAGE NOW", 55)
        else:
            fb.text("WAIT: sample", 0, 46, 1)
            fb.text("above %d C" % limit, 0, 56, 1)

    def confirm_stop(self):
        p = self.p
        fb = self.fb
        end = p.state() == "end"
        D.bar(fb, "FINISH RUN?" if end else "STOP THE RUN?", 0)
        if end:
            fb.text("product removed", 0, 12, 1)
            fb.text("record closed", 0, 21, 1)
        else:
            fb.text("cooling ends,", 0, 12, 1)
            fb.text("record closed", 0, 21, 1)
        fb.text(("as " + p.who())[:16], 0, 32, 1)
        D.bar(fb, "OK: STOP NOW" if not end else "OK: finish", 45)
        fb.text("STOP: go back", 0, 56, 1)

    def alarms(self):
        p = self.p
        fb = self.fb
        rows = p.alarm_rows()
        n = len(rows)
        D.bar(fb, "ALARMS %d" % n, 0)
        if not n:
            fb.text("no alarms", 0, 14, 1)
            if getattr(p.app, "alarms", None) is None:
                fb.text("(not fitted)", 0, 23, 1)
            fb.text("STOP: back", 0, 56, 1)
            return
        sel = p.sel if p.sel < n else n - 1
        top = sel - 3 if sel > 3 else 0
        for i in range(4):
            j = top + i
            if j >= n:
                break
            r = rows[j]
            y = 10 + 9 * i
            mark = " " if r.acked else "!"
            line = (mark + r.text)[:16]
            if j == sel:
                fb.fill_rect(0, y - 1, 128, 9, 1)
                fb.text(line, 0, y, 0)
            else:
                fb.text(line, 0, y, 1)
        r = rows[sel]
        fb.text(("%s %s" % (r.code, D.hms(r.since_s)))[:16], 0, 47, 1)
        fb.text("OK:ack STOP:back", 0, 56, 1)

    def message(self):
        fb = self.fb
        y = 0
        for line in self.p.msg:
            fb.text(line, 0, y, 1)
            y += 9

