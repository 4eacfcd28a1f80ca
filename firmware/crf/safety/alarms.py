# The alarm table and its rows. One preallocated row per alarm; evaluation
# (crf.safety.guard) calls cond() once per control tick with whether the
# alarm's condition holds. Rows are listed (active()) from raise until cleared
# and, for latching alarms, acknowledged. Raise, clear and acknowledge are
# events of the run record and of the link (app.note). docs/safety.md has the
# trigger, delay, action and clearing of each.
from array import array

# (crf.safety.guard names the rows by their index in TABLE)
# code (stable id), display text (<= 20 chars), latching
TABLE = (
    ("chamber_dev", "Chamber deviation", 1),
    ("sample_dev", "Sample deviation", 1),
    ("chamber_probe", "Chamber probe fault", 1),
    ("sample_probe", "Sample probe fault", 1),
    ("ln2_supply", "LN2 supply low", 1),
    ("ln2_no_cool", "LN2 not cooling", 1),
    ("valve_stuck", "Valve stuck open", 1),
    ("door_open", "Door open", 0),
    ("over_cool", "Over-cooling", 1),
    ("over_temp", "Over-temperature", 1),
    ("heater_runaway", "Heater runaway", 1),
    ("power_fail", "Power restored", 1),
    ("watchdog", "Watchdog reset", 1),
    ("storage", "Record storage fault", 1),
    ("clock_unset", "Clock not set", 0),
    ("outage_hold", "Held after outage", 0),
)


class Row:
    def __init__(self, code, text):
        self.code = code
        self.text = text
        self.since_s = 0        # RTC seconds when raised
        self.acked = False
        self.active = False     # condition present (after its delay)


class Alarms:
    def __init__(self, app):
        self.app = app
        self.rows = [Row(c, t) for c, t, _ in TABLE]
        self._t = array("i", bytes(4 * len(TABLE)))    # ms each condition has held
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
        if r.acked or not TABLE[i][2]:
            self._list.remove(r)

    def listed(self, code):
        for r in self._list:
            if r.code == code:
                return True
        return False

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
