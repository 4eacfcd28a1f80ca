# Frame codec of serial protocol v1 on the MicroPython unix port (also
# collected by pytest): round trips, and a fuzz of 10,000 generated frames
# (valid and mutated) fed through one Decoder in random pieces. Deterministic:
# a fixed-seed xorshift32 drives everything.
import gc

from crf.link import frame as F
from crf_sim.sensor import XorShift32

FUZZ_FRAMES = 10000
_BATCH = 8
# Room for a batch of the largest items: a full frame with an oversize run in it.
_STREAM_MAX = _BATCH * (2 * F.MAX_WIRE + 101) + 1


class Rng(XorShift32):
    # the virtual freezer's PRNG: same numbers on both interpreters
    def next(self):
        return self.next_u32()

    def below(self, n):
        return self.next() % n

    def fill(self, n, zeros_one_in=0):
        b = bytearray(n)
        for i in range(n):
            v = self.next() & 0xFF
            if zeros_one_in and self.below(zeros_one_in) == 0:
                v = 0
            b[i] = v
        return b


def _payload(rng):
    r = rng.below(100)
    if r < 70:
        return bytes(rng.fill(rng.below(48), 4))
    if r < 80:
        return bytes(rng.below(600))                        # zeros: one block each
    if r < 90:
        return b"\xa5" * (240 + rng.below(300))             # full 255 blocks
    if r < 97:
        return bytes(rng.fill(200 + rng.below(600), 16))
    return bytes(rng.fill(F.MAX_PAYLOAD - rng.below(3)))    # at or near the maximum


def _frame(rng):
    return (1 + rng.below(4), rng.below(0x10000), rng.below(256), _payload(rng))


def _mutate(rng, wire):
    # Returns bytes that must not decode to a frame other than the original.
    w = bytearray(wire)
    kind = rng.below(6)
    if kind == 0:               # flip 1..4 bytes (the delimiter included)
        for _ in range(1 + rng.below(4)):
            w[rng.below(len(w))] ^= 1 + rng.below(255)
    elif kind == 1:             # truncate
        w = w[:rng.below(len(w))]
    elif kind == 2:             # insert a byte
        i = rng.below(len(w) + 1)
        w = w[:i] + bytes((rng.below(256),)) + w[i:]
    elif kind == 3:             # delete a byte
        i = rng.below(len(w))
        w = w[:i] + w[i + 1:]
    elif kind == 4:             # oversize: a long run of non-zero bytes inside
        i = rng.below(len(w))
        w = w[:i] + b"\x55" * (F.MAX_WIRE + rng.below(100)) + w[i:]
    else:                       # garbage instead
        w = rng.fill(rng.below(300), 8)
    return bytes(w)


def _feed_in_pieces(rng, dec, mv, rx):
    # The stream mv arrives in random pieces, as bytes, memoryview or through
    # a reused receive buffer with a count (the device's way).
    out = []
    i = 0
    while i < len(mv):
        k = 1 + rng.below(400)
        style = rng.below(3)
        if style == 0:
            got = dec.feed(bytes(mv[i:i + k]))
        elif style == 1:
            got = dec.feed(mv[i:i + k])
        else:
            k = min(k, len(rx), len(mv) - i)
            rx[0:k] = mv[i:i + k]
            got = dec.feed(rx, k)
        for f in got:
            out.append(f)
        i += k
    return out


def _check_sequence(out, items):
    # items: (frame, required) in stream order. Every decoded frame must be the
    # next required frame or a mutated frame that decoded to its own original
    # (e.g. an inserted 0x00 after the delimiter); no required frame is skipped.
    j = 0
    for f in out:
        while j < len(items) and items[j][0] != f:
            assert not items[j][1], "valid frame lost: %r" % (items[j][0][:3],)
            j += 1
        assert j < len(items), "decoded a frame that was never sent: %r" % (f[:3],)
        j += 1
    while j < len(items):
        assert not items[j][1], "valid frame lost at the end"
        j += 1


def _mem():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def test_round_trips():
    dec = F.Decoder()
    buf = bytearray(F.MAX_WIRE)
    cases = [b"", b"\x00", b"abc", bytes(300), b"\xff" * F.MAX_PAYLOAD, bytes(F.MAX_PAYLOAD),
             bytes(range(256)) * 8, b"z" * 254, b"z" * 253 + b"\x00", b"q" * 1000]
    for p in cases:
        for kind in (1, 2, 3, 4):
            fr = (kind, 0xBEEF, 0x31, p)
            wire = F.encode(*fr)
            n = F.encode_into(buf, kind, 0xBEEF, 0x31, p)
            assert bytes(buf[:n]) == wire
            assert wire[-1] == 0 and wire.count(b"\x00") == 1
            assert len(wire) <= F.MAX_WIRE
            assert dec.feed(wire) == [fr]
    assert sum(dec.errors) == 0
    assert dec.received == 4 * len(cases)


def test_encoder_refuses_oversize():
    big = bytearray(2 * F.MAX_WIRE)
    assert F.encode_into(big, 1, 1, 1, bytes(F.MAX_PAYLOAD)) > F.MAX_PAYLOAD
    for fn in (lambda: F.encode(1, 1, 1, bytes(F.MAX_PAYLOAD + 1)),
               lambda: F.encode_into(big, 1, 1, 1, bytes(F.MAX_PAYLOAD + 1))):
        try:
            fn()
        except ValueError:
            pass
        else:
            raise AssertionError("payload over MAX_PAYLOAD accepted")


def test_chunk_and_json_payloads():
    p = F.pack_chunk(4096, 10000, b"\x00\x01\x02")
    fr = F.Decoder().feed(F.encode(2, 9, F.COMMANDS["log_fetch"], p))[0]
    assert F.unpack_chunk(fr[3]) == (4096, 10000, b"\x00\x01\x02")
    obj = {"name": "hpc_bag", "rate": -1.5}
    assert F.unpack_json(F.pack_json(obj)) == obj
    assert F.unpack_json(b"") is None


def test_reply_cache():
    c = F.ReplyCache(2)
    c.put(5, 0x20, b"{}", 2, b"ok")
    assert c.get(5, 0x20, b"{}") == (2, b"ok")
    assert c.get(5, 0x20, b"{\"x\":1}") is None
    c.put(6, 0x20, b"", 2, b"a")
    c.put(7, 0x20, b"", 2, b"b")
    assert c.get(5, 0x20, b"{}") is None    # oldest of two slots replaced
    assert c.get(7, 0x20, b"") == (2, b"b")


def _fuzz_batch(rng, dec, rx, sbuf):
    # One batch: _BATCH frames, about half mutated, each after a 0x00, laid
    # out in the preallocated sbuf (no big concatenations: the heap is small).
    items = []
    valid = 0
    n = 0
    for _ in range(_BATCH):
        fr = _frame(rng)
        wire = F.encode(*fr)
        ok = rng.below(2) == 1      # valid frames must arrive whatever came before
        if not ok:
            wire = _mutate(rng, wire)
        items.append((fr, ok))
        valid += ok
        sbuf[n] = 0
        sbuf[n + 1:n + 1 + len(wire)] = wire
        n += 1 + len(wire)
    sbuf[n] = 0
    out = _feed_in_pieces(rng, dec, memoryview(sbuf)[:n + 1], rx)
    _check_sequence(out, items)
    return valid, len(out)


def test_fuzz_10000_frames():
    rng = Rng(0x2545F491)
    dec = F.Decoder()
    rx = bytearray(256)
    sbuf = bytearray(_STREAM_MAX)
    valid = decoded = 0
    mem = [0] * 10      # preallocated: a growing list would show up as growth
    for b in range(FUZZ_FRAMES // _BATCH):
        v, d = _fuzz_batch(rng, dec, rx, sbuf)
        valid += v
        decoded += d
        if b % 125 == 124:
            mem[b // 125] = _mem()
    assert valid > FUZZ_FRAMES // 3 and decoded >= valid
    assert sum(dec.errors) > FUZZ_FRAMES // 4
    assert dec.errors[F.ERR_TOO_LONG] > 0 and dec.errors[F.ERR_BAD_CRC] > 0
    assert dec.errors[F.ERR_BAD_FRAME] > 0 and dec.errors[F.ERR_TRUNCATED] > 0
    # bounded memory: nothing accumulates across the fuzz
    assert max(mem) - mem[0] <= 64, mem


def _garbage(rng, dec):
    for _ in range(20):
        dec.feed(rng.fill(500, 64))
    dec.feed(b"\x00" * 3)


def test_decoder_holds_one_buffer():
    m0 = _mem()
    dec = F.Decoder()
    m1 = _mem()
    if hasattr(gc, "mem_alloc"):
        # one MAX_WIRE buffer plus small bookkeeping
        assert F.MAX_WIRE <= m1 - m0 <= F.MAX_WIRE + 1024, m1 - m0
    rng = Rng(7)
    _garbage(rng, dec)
    m2 = _mem()
    for _ in range(5):
        _garbage(rng, dec)
    assert _mem() - m2 <= 256
    assert dec.feed(F.encode(4, 0, 0x61, b"ev")) == [(4, 0, 0x61, b"ev")]


def bench(reps=21):
    """Median microseconds to encode and decode one 2048-byte frame (device ticks)."""
    import time
    rng = Rng(99)
    dec = F.Decoder()
    buf = bytearray(F.MAX_WIRE)
    res = {}
    for name, p in (("random", bytes(rng.fill(2048))), ("json-like", (b'{"t":1,"c":-45.6},' * 120)[:2048]),
                    ("all zeros", bytes(2048))):
        enc = []
        de = []
        for _ in range(reps):
            t0 = time.ticks_us()
            n = F.encode_into(buf, 2, 1, 0x31, p)
            t1 = time.ticks_us()
            fr = dec.feed(buf, n)
            t2 = time.ticks_us()
            assert fr[0][3] == p
            enc.append(time.ticks_diff(t1, t0))
            de.append(time.ticks_diff(t2, t1))
        enc.sort()
        de.sort()
        res[name] = (enc[reps // 2], de[reps // 2])
    return res
