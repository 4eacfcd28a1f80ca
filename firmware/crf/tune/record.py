# The tune's raw data as a run record (header "kind": "tune", one sample a
# second, phase changes as note events) and tune_status's reply with the
# live oscillation. Functions of the relay Session (relay.py).
import json
from crf.record import format as recfmt
from crf.tune.relay import SKIP, MEASURE, RING

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

LOG_MS = const(1000)        # the tune's record: one sample a second
STATUS_MAX = const(30)      # readings per tune_status reply


def open_record(self, a):
    app = self.app
    log = app.log
    if log is None:
        return
    rtc = app.clock.rtc_s()
    if log.f is not None:
        log.seal(app._interrupted_t(), rtc, recfmt.SEAL_INTERRUPTED)
    text = json.dumps({"tune": a})
    h = app._header("autotune", text, "", "", self.who, rtc)
    h["kind"] = "tune"
    try:
        self.run_id = log.open_run(h, len(self.at) * self.limit_ms // 1000, LOG_MS)
    except (OSError, ValueError) as ex:
        raise ValueError("the tune's record cannot be written: %s" % ex)


def status(self, since):
    """tune_status: progress and the readings since sample `since` (at most
    STATUS_MAX, the newest): chamber in 0.01 deg C and heat in W, as small
    integers, so the reply stays a few hundred bytes."""
    n = self.n
    first = since
    if first < n - STATUS_MAX:
        first = n - STATUS_MAX
    if first < 0:
        first = 0
    cs = []
    ws = []
    for k in range(first, n):
        i = k % RING
        cs.append(int(self.ring_c[i] * 100.0))
        ws.append(int(self.ring_w[i]))
    return {"state": self.state, "phase": self.phase, "at_c": self.target,
            "index": self.index + 1, "of": len(self.at), "t_s": self.t_ms // 1000,
            "phase_s": self.phase_ms // 1000,
            "half_cycles": self.nsw - 1 if self.phase == "relay" else 0,
            "half_cycles_needed": SKIP + MEASURE, "eps_c": round(self.eps, 3),
            "d_w": round(self.d, 1), "u0_w": round(self.u0, 1), "sp_c": round(self.sp, 2),
            "n": n, "first": first, "c_centi": cs, "w": ws, "run": self.run_id}
