# Front-panel buttons: pure logic fed with the board's raw bitmask
# (UP=1, DOWN=2, OK=4, STOP=8; 1 = pressed) and the tick counter, once per
# loop pass. Never blocks, allocates nothing per call.
#
# - Debounce: a change of the raw mask is taken only once it has been seen
#   unchanged for _DEBOUNCE_MS (at a 100 ms pass: in two passes in a row), so
#   contact bounce or a one-sample glitch produces nothing.
# - UP / DOWN: PRESS when pressed, then REPEAT every _REPEAT_MS after
#   _REPEAT_DELAY_MS held (scrolling, letter entry).
# - OK / STOP: PRESS on release if held shorter than _LONG_MS; LONG once when
#   held _LONG_MS (then nothing on release). STOP's long press is the only way
#   to reach "stop the run?"; a short STOP is a "back" or a hint.
# - Two or more buttons at once (a glove on the panel, all four pressed): no
#   event at all, and nothing until every button is released.
# - Stuck: a button held _STUCK_MS is reported once (STUCK event, `stuck`
#   holds its bit) and ignored until it has been seen released, so the other
#   buttons keep working.
# update() returns one event code (button bit << 4 | kind), or 0.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

UP = const(1)
DOWN = const(2)
OK = const(4)
STOP = const(8)
ALL = const(15)

PRESS = const(1)
REPEAT = const(2)
LONG = const(3)
STUCK = const(4)

_DEBOUNCE_MS = const(30)
_REPEAT_DELAY_MS = const(600)
_REPEAT_MS = const(200)
_LONG_MS = const(2000)
_STUCK_MS = const(30000)


class Buttons:
    def __init__(self, ticks_diff, ticks_add):
        self._diff = ticks_diff
        self._add = ticks_add
        self._raw = 0           # last raw sample
        self._raw_t = 0         # when it last changed
        self.held = 0           # the single button being held, 0 if none
        self._t_down = 0
        self._next_rep = 0
        self._long_done = False
        self.chord = False      # several at once: wait until all are released
        self.stuck = 0          # bits reported stuck, ignored until released
        self.chords = 0         # chords seen (diagnostics, tests)
        self.quiet = True       # all up, nothing pending: update() may be skipped

    def update(self, raw, now):
        d = self._diff
        raw &= ALL
        if raw != self._raw:
            self.quiet = False
            self._raw = raw
            self._raw_t = now
            return 0
        if d(now, self._raw_t) < _DEBOUNCE_MS:
            return 0
        # Debounced. A stuck button counts as released only once it is.
        self.stuck &= raw
        m = raw & ~self.stuck
        self.quiet = raw == 0 and not self.held and not self.chord
        if self.chord:
            if m == 0:
                self.chord = False
            return 0
        held = self.held
        if m & (m - 1):                         # two or more buttons
            self.chord = True
            self.chords += 1
            self.held = 0
            return 0
        if held and m != held:                  # released (or changed to another)
            self.held = 0
            ev = 0
            if held & (OK | STOP) and not self._long_done:
                ev = held << 4 | PRESS
            if m:                               # (then the other one: a new press)
                self.held = m
                self._t_down = now
                self._next_rep = self._add(now, _REPEAT_DELAY_MS)
                self._long_done = False
            return ev
        if not held:
            if m:
                self.held = m
                self._t_down = now
                self._next_rep = self._add(now, _REPEAT_DELAY_MS)
                self._long_done = False
                if m & (UP | DOWN):
                    return m << 4 | PRESS
            return 0
        # The same single button still held.
        t = d(now, self._t_down)
        if t >= _STUCK_MS:
            self.stuck |= held
            self.held = 0
            return held << 4 | STUCK
        if held & (UP | DOWN):
            if d(now, self._next_rep) >= 0:
                self._next_rep = self._add(now, _REPEAT_MS)
                return held << 4 | REPEAT
        elif t >= _LONG_MS and not self._long_done:
            self._long_done = True
            return held << 4 | LONG
        return 0
