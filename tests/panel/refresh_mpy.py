# The status screen's partial refresh against a whole redraw, with the real
# framebuf on the MicroPython unix port: a random walk through what the
# screen shows (temperatures, setpoint, rate, times, states, hints, alarms);
# after every refresh the buffer must equal the whole screen drawn afresh,
# and every display page that changed must be among the pages it sends.
# Prints "ok <steps> <partial refreshes> <pages sent> <pages of whole
# redraws>" or the first difference. tests/panel/test_panel_refresh.py runs it:
#   MICROPYPATH=firmware:tests/panel micropython tests/panel/refresh_mpy.py SEED STEPS
import sys
import panel_fake as F
from crf.panel import screens

_seed = [int(sys.argv[1]) if len(sys.argv) > 1 else 1]
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3000


def rnd(n):
    # xorshift32: the same walk on every port
    x = _seed[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _seed[0] = x
    return x % n


def temp(v):
    # small drifts, now and then a jump, a probe fault or a big value
    r = rnd(100)
    if r < 3:
        return None
    if r < 5:
        return (rnd(4000) - 2000) / 10.0
    if v is None:
        v = 0.0
    return v + (rnd(41) - 20) / 100.0


def main():
    app, p = F.make("/tmp/crf-panel-refresh")
    app.start_run("hpc_bag", "B1", "P1", "ANNA")
    e = app.engine
    e.state = "running"
    e.index = 1
    buf = p.disp.buf
    screens.draw(p)
    partial = sent = whole = 0
    for i in range(STEPS):
        app.chamber_c = temp(app.chamber_c)
        app.sample_c = temp(app.sample_c)
        r = rnd(100)
        if r < 30:
            app.ctl.chamber_sp += (rnd(21) - 10) / 10.0
            e.sp_sample += (rnd(21) - 10) / 10.0
        if r < 20:
            e.rate_c_s = (rnd(400) - 200) / 6000.0
        e.elapsed_ms += rnd(20000)
        if rnd(50) == 0:
            e.probe = "sample" if e.probe == "chamber" else "chamber"
        if rnd(80) == 0:
            e.state = ("running", "held", "end", "idle", "stopped")[rnd(5)]
        if rnd(60) == 0:
            e.index = rnd(4)
        if rnd(70) == 0:
            p.hint = None if p.hint is not None else "hold STOP 2 s"
        if rnd(90) == 0:
            p.alarms = rnd(3)
            app.alarms.rows[:] = [F.Row("x%d" % k, "alarm %d" % k, 100) for k in range(p.alarms)]
        before = bytes(buf)
        got = screens.refresh(p)
        after = bytes(buf)
        if got is not None:
            first, last = got
            if (first, last) == (0, 7):
                whole += 1
            else:
                partial += 1
                sent += last - first + 1
        else:
            first, last = 8, -1
        for pg in range(8):
            a = pg * 128
            if before[a:a + 128] != after[a:a + 128] and not first <= pg <= last:
                print("FAIL step %d: page %d changed, not sent (%s)" % (i, pg, got))
                return
        screens.draw(p)
        if bytes(buf) != after:
            for k in range(1024):
                if buf[k] != after[k]:
                    print("FAIL step %d: refresh differs from a whole redraw at byte %d (page %d, x %d)"
                          " state %s texts %s" % (i, k, k // 128, k % 128, e.state, p.keys))
                    return
    print("ok %d %d %d %d" % (STEPS, partial, sent, whole))


main()
