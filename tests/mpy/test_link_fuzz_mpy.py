# The link server inside a running App on the virtual board (MicroPython
# unix port, 128 KiW heap): 10,000 generated frames - requests of every
# command with plausible and absurd arguments, mutated frames, garbage with
# 0x03 bytes, oversize runs - arrive during an HPC bag run. Checked: no
# exception leaves a loop pass, the server's last-resort handler never ran,
# every frame it sends decodes, every request it decoded got exactly one
# answer, and the control trajectory is bit for bit that of the same run
# without link traffic. Deterministic (the simulator's xorshift32).
import sys

if sys.implementation.name != "micropython":
    import pytest
    pytest.skip("runs on the MicroPython unix port (tests/mpy/runner.py, make test-mpy)",
                allow_module_level=True)

import gc
import os
import struct
import hashlib
import binascii

for _m in ("crf.record.runlog", "crf.link.server", "crf.safety.guard", "crf.app"):
    __import__(_m)          # largest first, collected in between: a tidy heap
    gc.collect()

from crf.app import App
from crf.link import frame as F
from crf.link import auth
from crf_sim.board_virtual import VirtualBoard
from crf_sim.plant import Plant
from crf_sim.plantfile import load_plant
from crf_sim.sensor import XorShift32
from crf_sim.flashdev import FileBlockDevice
from crf.profile import validate

# The validator is loaded here, while the heap is in large pieces, and kept:
# the harness (two link rings, a host-side decoder, the plant) shares the
# 128 KiW heap with the firmware, which then starts its runs without loading
# it (the device loads it per use, crf/lazy.py).
with open("firmware/profiles/hpc_bag.json") as _f:
    validate.validate(validate.loads(_f.read()))
gc.collect()

FUZZ_FRAMES = 10000
PIN = "2468"
# Unique per process: suites running side by side must not share an image.
_IMG = "/tmp/crf-test-link-fuzz-%s.img" % binascii.hexlify(os.urandom(4)).decode()
_OUT_RING = 2 * F.MAX_WIRE + 600    # the least the link output may hold (the Pico's: 6 KB)
_DRAIN = 1200               # bytes the host takes per pass: slower than the device could send
_IN_MAX = 1024              # bytes queued towards the device before we wait
# Not sent at random: stop, hold, continue and sim_fault change the run on purpose;
# logins and logouts come from the harness (a few, or the session would
# rarely be open and the engineer commands never run).
_SKIP = ("run_stop", "run_hold", "run_continue", "auth_login", "auth_logout", "sim_fault")
_NAMES = [n for n in F.COMMANDS if n not in _SKIP]
_KEYS = ("name", "offset", "n", "profile", "operator", "run", "alarm", "rtc_s", "user", "mac",
         "values", "status_s", "events", "after")
_PROFILE = ('{"format":1,"name":"%s","description":"fuzz","steps":[{"kind":"hold","target_c":4,"duration_s":60},'
            '{"kind":"ramp","rate_c_per_min":1,"target_c":-%d},{"kind":"end"}]}')


class Rng(XorShift32):
    def below(self, n):
        return self.next_u32() % n

    def fill(self, n):
        return bytes(self.next_u32() & 0xFF for _ in range(n))


class Ring:
    """Preallocated byte FIFO: growing bytearrays would fragment the heap."""

    def __init__(self, size):
        self.b = bytearray(size)
        self.h = self.n = 0

    def room(self):
        return len(self.b) - self.n

    def put(self, data):
        assert len(data) <= self.room(), "ring full"
        for c in data:
            self.b[(self.h + self.n) % len(self.b)] = c
            self.n += 1

    def get(self, buf, k):
        k = min(k, self.n, len(buf))
        for i in range(k):
            buf[i] = self.b[self.h]
            self.h = (self.h + 1) % len(self.b)
        self.n -= k
        return k


class FuzzBoard(VirtualBoard):
    """The virtual board with an in-memory link and a bounded output queue."""

    def __init__(self, plant):
        VirtualBoard.__init__(self, plant, 0.0)
        self.inq = Ring(_IN_MAX + F.MAX_WIRE + 100)
        self.out = Ring(_OUT_RING)

    def link_read(self, buf):
        return self.inq.get(buf, len(buf))

    def link_write(self, data):
        assert len(data) <= self.out.room(), "the server queued more than fits"
        self.out.put(data)

    def link_room(self):
        return self.out.room()

    def link_pending(self):
        return self.out.n


def _app():
    import vfs
    dev = FileBlockDevice(_IMG, 256)
    vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256), "/flash")
    os.mkdir("/flash/profiles")
    for name in ("hpc_bag", "selftest"):
        with open("firmware/profiles/%s.json" % name) as f:
            text = f.read()
        with open("/flash/profiles/%s.json" % name, "w") as f:
            f.write(text)
    auth.set_pin(PIN, "/flash")
    board = FuzzBoard(Plant(load_plant("firmware/crf_sim/plants/bag_50ml.json"), 7))
    app = App(board)
    app.pass_once()
    app.wait_next_pass()
    assert app.start_run("hpc_bag", "B-fuzz", "", "ann") == 1
    return app, board


def _done():
    import vfs
    vfs.umount("/flash")
    os.remove(_IMG)
    gc.collect()


# -- generated traffic --------------------------------------------------------

def _value(rng, deep=False):
    r = rng.below(11)
    if r < 2:
        return (None, True)[r]
    if r < 5:
        return rng.below(3000) - 100
    if r == 5:
        return (rng.next_u32() << 8) - (1 << 38)            # far out of range
    if r == 6:
        return rng.below(10000) / 7.0
    if r < 9:
        return "abcdefghijklmnopqrstuvwxyz_-0123456789"[rng.below(30):rng.below(38)]
    if r == 9:
        return "é\x03\n" * rng.below(4)
    return 0 if deep else [_value(rng, True), {"k": _value(rng, True)}]


def _payload(rng, name):
    # Mostly plausible arguments (the commands' success paths), sometimes absurd.
    junk = rng.below(3) == 0
    if name == "profile_put":
        p = ("fz1", "fz2", "hpc_bag", "Bad Name")[rng.below(4) if junk else rng.below(2)]
        text = (_PROFILE % (p, 10 + rng.below(60))).encode()
        o = rng.below(len(text)) if junk else 0             # whole, or a piece somewhere
        total = 9000 if junk and rng.below(2) else len(text)
        return bytes((len(p),)) + p.encode() + F.pack_chunk(o, total, text[o:])
    if name == "profile_validate":
        text = (_PROFILE % ("v", rng.below(300))).encode()
        return text[:rng.below(len(text))] if junk else text
    if junk and rng.below(4) == 0:
        return rng.fill(rng.below(60))                     # not JSON
    a = {"run": 1, "offset": rng.below(700), "n": rng.below(2100),
         "name": ("selftest", "hpc_bag", "fz1", "fz2", "nope")[rng.below(5)],
         "rtc_s": 1800000000 + rng.below(100000), "status_s": rng.below(3),
         "events": rng.below(2) == 1, "operator": "op%d" % rng.below(9),
         "values": {("chamber_kp", "log_interval_ms", "nonsense")[rng.below(3)]: rng.below(200)}}
    for _ in range(rng.below(4) if junk else 0):
        a[_KEYS[rng.below(len(_KEYS))]] = _value(rng)
    return F.pack_json(a)


def _item(rng, rid):
    """One piece of link traffic."""
    r = rng.below(100)
    if r < 80:
        name = _NAMES[rng.below(len(_NAMES))]
        code = F.COMMANDS[name] if rng.below(20) else 0x7E       # some unknown commands
        kind = F.KIND_REQUEST if rng.below(25) else 1 + rng.below(4)
        w = F.encode(kind, rid, code, _payload(rng, name))
        if r < 55:
            return w
        i = rng.below(len(w))                                 # mutated: one of four ways
        return (w[:i] + bytes((w[i] ^ (1 + rng.below(255)),)) + w[i + 1:], w[:i],
                w[:i] + bytes((rng.below(256),)) + w[i:], w[:i] + w[i + 1:])[rng.below(4)]
    if r < 92:                                  # garbage, Ctrl-C bytes included
        g = bytearray(rng.fill(1 + rng.below(120)))
        for _ in range(rng.below(4)):
            g[rng.below(len(g))] = 3
        return g
    if r < 97:
        return F.MAX_WIRE + rng.below(50)                     # oversize: that many 0x55
    return b"\x00" * rng.below(5)


# -- the host end -------------------------------------------------------------

class Decoder(F.Decoder):
    # Checks every frame but copies payloads only when asked (the heap is
    # small; replies of up to 2 KB would fragment it).
    keep = False

    def _payload(self, nc, plen):
        return F.Decoder._payload(self, nc, plen) if self.keep else b""


class Host:
    """Puts bytes on the link and decodes all the device sends."""

    def __init__(self, app, board):
        self.app = app
        self.board = board
        self.h = hashlib.sha256()   # the control trajectory
        self.dec = Decoder()
        self.buf = bytearray(_DRAIN)
        self.u55 = b"\x55" * 64
        self.replies = 0
        self.last = {}              # req_id -> (kind, payload)
        self.unsolicited = 0
        self.passes = 0

    def put(self, data):
        if isinstance(data, int):   # a run of 0x55 longer than any frame, never allocated whole
            for _ in range(data // 64):
                self.put(self.u55)
            data = self.u55[:data % 64]
        self.board.inq.put(data)

    def passes_(self, n):
        app = self.app
        for _ in range(n):
            app.pass_once()         # an exception here fails the test
            e = app.engine
            c = app.ctl
            self.h.update(struct.pack("<iiidddB", app.ticks, e.index, len(e.state), c.chamber_sp,
                                      c.ln2_duty, c.heater_duty, 1 if app.valve_on else 0))
            self.drain()
            app.wait_next_pass()
            self.passes += 1

    def drain(self):
        k = self.board.out.get(self.buf, _DRAIN)
        for kind, rid, cmd, payload in self.dec.feed(self.buf, k):
            if kind == F.KIND_EVENT:
                assert rid == 0
                self.unsolicited += 1
            else:
                assert kind in (F.KIND_RESPONSE, F.KIND_ERROR), kind
                self.replies += 1
                if rid < 30000:     # the harness's own requests (logins)
                    self.last[rid] = (kind, payload)

    def ask(self, rid, name, args):
        self.last.pop(rid, None)
        self.put(b"\x00" + F.encode(F.KIND_REQUEST, rid, F.COMMANDS[name], F.pack_json(args)))
        self.dec.keep = True
        for _ in range(20):
            self.passes_(1)
            if rid in self.last:
                self.dec.keep = False
                return self.last[rid]
        raise AssertionError("no reply to %s" % name)

    def login(self, rid, pin=PIN):
        ch = F.unpack_json(self.ask(rid, "auth_challenge", {})[1])
        key = auth.pin_key(binascii.unhexlify(ch["salt"]), pin)
        mac = binascii.hexlify(auth.hmac_sha256(key, binascii.unhexlify(ch["nonce"]))).decode()
        return self.ask(rid + 1, "auth_login", {"user": "fuzz", "mac": mac})[0]


def _resident():
    # Code loaded per use must not stay in the heap (the validator is the
    # harness's own import here, see above).
    return [m for m in ("crf.record.reader", "crf.config", "crf.link.cmd_admin", "crf.link.cmd_profile",
                        "crf.link.cmd_tune") if m in sys.modules]


def _fuzz_run():
    app, board = _app()
    resident_at_start = _resident()
    host = Host(app, board)
    rng = Rng(0x5EED1E55)
    rid = 40000
    assert host.login(1) == F.KIND_RESPONSE
    sent = 0
    while sent < FUZZ_FRAMES:
        while board.inq.n < _IN_MAX and sent < FUZZ_FRAMES:
            if rng.below(8):        # else the same id again: reply-cache hits
                rid = rid + 1 if rid < 0xFFFF else 1000
            if rng.below(3):
                host.put(b"\x00")
            host.put(_item(rng, rid))
            sent += 1
            if sent % 1000 == 0:    # log out, a wrong PIN, and in again
                host.put(b"\x00")
                host.passes_(3)
                rid2 = 20000 + sent // 100
                assert host.ask(rid2, "auth_logout", {})[0] == F.KIND_RESPONSE
                assert host.login(rid2 + 2, "0000") == F.KIND_ERROR
                assert host.login(rid2 + 4) == F.KIND_RESPONSE
        host.passes_(1)
    host.put(b"\x00")
    host.passes_(50)                # every queued request answered
    while board.out.n:
        host.drain()
    s = app.link
    r = {"digest": host.h.digest(), "passes": host.passes, "state": app.engine.state,
         "ticks": app.ticks, "faults": s.faults, "last_fault": s.last_fault, "dropped": s.dropped,
         "decoded": s._dec.received, "answered": host.replies, "unsolicited": host.unsolicited,
         "out_errors": sum(host.dec.errors), "garbage": sum(s._dec.errors),
         "log_failed": app.log.failed, "resident": resident_at_start + _resident()}
    app = board = host = s = None
    _done()
    return r


def test_fuzz_10000_frames_during_a_run():
    r = _fuzz_run()
    assert r["faults"] == 0, "the server's last-resort handler caught: %s" % r["last_fault"]
    assert r["out_errors"] == 0, "the device sent frames that do not decode"
    # Every frame the device decoded was answered once, or dropped because it
    # was no request (or the request queue was full).
    assert r["answered"] + r["dropped"] == r["decoded"], r
    assert r["answered"] > FUZZ_FRAMES // 3 and r["garbage"] > FUZZ_FRAMES // 10, r
    assert r["unsolicited"] > 0                 # subscribe took effect at some point
    assert r["state"] == "running" and r["log_failed"] is None, (r["state"], r["log_failed"])
    assert r["resident"] == [], "loaded and not dropped: %s" % r["resident"]
    # The same run without the traffic: the same trajectory, bit for bit.
    app, board = _app()
    host = Host(app, board)
    host.passes_(r["passes"])
    assert (app.engine.state, app.ticks) == (r["state"], r["ticks"])
    assert host.h.digest() == r["digest"], "the link traffic changed the control trajectory"
    app = board = host = None
    _done()
