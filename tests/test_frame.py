"""Frame codec of serial protocol v1 (firmware/crf/link/frame.py) on CPython.

The wire format is checked against a textbook byte-by-byte COBS and struct
packing written here, independently of the module's block-wise code.
"""

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crf.link import frame as F

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- independent reference -------------------------------------------------

def ref_cobs(data):
    """Textbook COBS; a full 254-byte run at the very end gets a final 0x01 code."""
    out = bytearray([0])
    cp = 0
    code = 1
    for b in data:
        if b == 0:
            out[cp] = code
            cp = len(out)
            out.append(0)
            code = 1
        else:
            out.append(b)
            code += 1
            if code == 255:
                out[cp] = code
                cp = len(out)
                out.append(0)
                code = 1
    out[cp] = code
    return bytes(out)


def ref_uncobs(enc):
    out = bytearray()
    i = 0
    while i < len(enc):
        c = enc[i]
        block = enc[i + 1:i + c]
        assert c != 0 and len(block) == c - 1 and 0 not in block
        out += block
        i += c
        if c < 255 and i < len(enc):
            out.append(0)
    return bytes(out)


def ref_raw(kind, req_id, cmd, payload, version=1, flags=0, length=None, crc_xor=0):
    body = struct.pack("<BBHBBH", version, kind, req_id, cmd, flags,
                       len(payload) if length is None else length) + payload
    return body + struct.pack("<I", zlib.crc32(body) ^ crc_xor)


def ref_wire(*args, **kw):
    return ref_cobs(ref_raw(*args, **kw)) + b"\x00"


def decode_all(stream, dec=None):
    dec = dec or F.Decoder()
    return list(dec.feed(stream)), dec


kinds = st.integers(F.KIND_REQUEST, F.KIND_EVENT)
ids = st.integers(0, 0xFFFF)
cmds = st.integers(0, 0xFF)
payloads = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=F.MAX_PAYLOAD - 40, max_size=F.MAX_PAYLOAD),
    st.builds(lambda n, b: bytes([b]) * n, st.integers(0, F.MAX_PAYLOAD), st.sampled_from([0, 1, 0xFF])),
    st.lists(st.sampled_from([b"\x00", b"\x41" * 253, b"\x42" * 254, b"\x43" * 255, b"x"]),
             max_size=7).map(b"".join),
)
frames = st.tuples(kinds, ids, cmds, payloads)


# -- sizes and tables ------------------------------------------------------

def test_size_constants():
    assert F.MAX_PAYLOAD == 2048
    assert F.MAX_RAW == 8 + 2048 + 4 == 2060
    assert F.MAX_ENCODED == 2060 + 1 + 8 == 2069
    assert F.MAX_WIRE == 2070
    assert F.max_wire_size(F.MAX_PAYLOAD) == F.MAX_WIRE
    assert F.MAX_CHUNK == F.MAX_PAYLOAD - 8


def test_command_table():
    required = ("identify status time_set profile_list profile_get profile_put profile_delete "
                "profile_validate run_start run_stop run_hold run_continue run_ack log_list "
                "log_fetch log_ack config_get config_set auth_challenge auth_login auth_logout "
                "audit_fetch subscribe restart repl screen button").split()
    for name in required:
        assert name in F.COMMANDS, name
    codes = list(F.COMMANDS.values())
    assert len(set(codes)) == len(codes)
    assert all(1 <= c <= 0xFF for c in codes)
    assert all(F.COMMAND_NAMES[c] == n for n, c in F.COMMANDS.items())


def test_error_table():
    for name in ("bad_frame", "bad_crc", "too_long", "bad_version", "truncated", "unknown_command",
                 "bad_args", "busy", "denied", "not_found", "conflict", "storage", "internal"):
        code = F.ERRORS[name]
        assert F.ERROR_NAMES[code] == name
        assert 1 <= code <= 0xFF
    assert F.ERRORS["bad_crc"] == F.ERR_BAD_CRC and F.ERRORS["internal"] == F.ERR_INTERNAL
    assert len(set(F.ERRORS.values())) == len(F.ERRORS)


# -- encoder ---------------------------------------------------------------

def test_known_vector():
    # header 01 01 3412 05 00 0000 + CRC; COBS: 06 |01 01 34 12 05| 01 | 01 | 05 |crc|
    crc = struct.pack("<I", zlib.crc32(bytes.fromhex("0101341205000000")))
    assert crc == bytes.fromhex("28a5eabd")
    assert F.encode(F.KIND_REQUEST, 0x1234, 5) == bytes.fromhex("060101341205" "01" "01" "05" "28a5eabd" "00")


@SETTINGS
@given(frames)
def test_encode_matches_reference(fr):
    kind, rid, cmd, payload = fr
    wire = F.encode(kind, rid, cmd, payload)
    assert wire == ref_wire(kind, rid, cmd, payload)
    assert wire.count(0) == 1 and wire[-1] == 0
    assert len(wire) <= F.max_wire_size(len(payload)) <= F.MAX_WIRE
    assert ref_uncobs(wire[:-1]) == ref_raw(kind, rid, cmd, payload)


@SETTINGS
@given(frames, st.binary(max_size=20))
def test_encode_into_same_bytes_and_partial_payload(fr, extra):
    kind, rid, cmd, payload = fr
    buf = bytearray(F.MAX_WIRE + 5)
    n = F.encode_into(buf, kind, rid, cmd, payload)
    assert bytes(buf[:n]) == F.encode(kind, rid, cmd, payload)
    # n < len(payload): only payload[:n] goes out (preallocated chunk buffer)
    if len(payload) + len(extra) <= F.MAX_PAYLOAD:
        big = bytearray(payload + extra)
        m = F.encode_into(buf, kind, rid, cmd, big, len(payload))
        assert bytes(buf[:m]) == F.encode(kind, rid, cmd, payload)
        m = F.encode_into(buf, kind, rid, cmd, memoryview(big), len(payload))
        assert bytes(buf[:m]) == F.encode(kind, rid, cmd, payload)


def test_encoder_refuses_bad_input():
    F.encode(1, 1, 1, bytes(F.MAX_PAYLOAD))
    with pytest.raises(ValueError):
        F.encode(1, 1, 1, bytes(F.MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        F.encode_into(bytearray(4000), 1, 1, 1, b"\x01" * (F.MAX_PAYLOAD + 1))
    for kind, rid, cmd in ((0, 1, 1), (5, 1, 1), (1, -1, 1), (1, 0x10000, 1), (1, 1, 256), (1, 1, -1)):
        with pytest.raises(ValueError):
            F.encode(kind, rid, cmd, b"x")
    with pytest.raises(ValueError):
        F.encode_into(bytearray(F.max_wire_size(10) - 1), 1, 1, 1, bytes(10))
    with pytest.raises(ValueError):
        F.encode_into(bytearray(100), 1, 1, 1, b"abc", 4)
    # exactly the worst-case size is enough
    buf = bytearray(F.max_wire_size(300))
    n = F.encode_into(buf, 1, 1, 1, b"\xff" * 300)
    assert n == len(buf)


# -- decoder ---------------------------------------------------------------

@SETTINGS
@given(frames)
def test_round_trip(fr):
    out, dec = decode_all(F.encode(*fr))
    assert out == [fr]
    assert type(out[0][3]) is bytes
    assert sum(dec.errors) == 0 and dec.received == 1


@pytest.mark.parametrize("payload", [
    b"", b"\x00", b"\x00" * F.MAX_PAYLOAD, b"\xff" * F.MAX_PAYLOAD, bytes(range(256)) * 8,
    b"a" * 246, b"a" * 247, b"a" * 248, b"a" * 500, b"a" * 1016, b"a" * 1017,
    (b"\x00" + b"z" * 254) * 8, b"z" * 254 + b"\x00" * 3 + b"y" * 600,
])
def test_round_trip_edges(payload):
    fr = (F.KIND_RESPONSE, 0xFFFF, 0xFF, payload)
    wire = F.encode(*fr)
    assert wire == ref_wire(*fr)
    out, dec = decode_all(wire)
    assert out == [fr] and sum(dec.errors) == 0


def test_accepts_cobs_without_final_code_after_full_block():
    # Other COBS encoders end a frame that ends in a full 254-byte run
    # without the extra 0x01 code; both forms decode.
    for n in range(250, 1200):
        payload = bytes((i % 255) + 1 for i in range(n))
        raw = ref_raw(1, 9, 9, payload)
        run = len(raw) - raw.rfind(b"\x00") - 1      # zero-free bytes at the end
        if run % 254:
            continue
        enc = ref_cobs(raw)
        assert enc[-1] == 1
        out, _ = decode_all(enc[:-1] + b"\x00")
        assert out == [(1, 9, 9, payload)], n
        break
    else:
        pytest.fail("no payload ends in a full block")


@SETTINGS
@given(st.lists(frames, min_size=1, max_size=6), st.data())
def test_arbitrary_fragmentation(frs, data):
    stream = b"".join(F.encode(*f) for f in frs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    dec = F.Decoder()
    out = []
    prev = 0
    style = data.draw(st.sampled_from(["bytes", "memoryview", "bytearray+n"]))
    for c in cuts + [len(stream)]:
        piece = stream[prev:c]
        if style == "bytes":
            out += dec.feed(piece)
        elif style == "memoryview":
            out += dec.feed(memoryview(stream)[prev:c])
        else:   # a larger reused buffer with stale bytes after n
            buf = bytearray(b"\x00\x55" * 40 + b"\x00" * (len(piece) + 1))
            buf[:len(piece)] = piece
            out += dec.feed(buf, len(piece))
        prev = c
    assert out == frs
    assert sum(dec.errors) == 0


def test_feed_one_byte_at_a_time_and_empty_feeds():
    frs = [(1, 1, 1, b""), (2, 2, 2, b"\x00" * 700), (4, 0, 0x61, b"\xff" * 2048)]
    dec = F.Decoder()
    out = []
    for b in b"".join(F.encode(*f) for f in frs):
        out += dec.feed(bytes([b]))
        assert dec.feed(b"") == ()
    assert out == frs


@SETTINGS
@given(st.lists(st.tuples(st.binary(max_size=60), frames), min_size=1, max_size=6))
def test_noise_between_frames(items):
    """Noise never yields a frame; a frame after a 0x00 always comes through."""
    stream = b""
    guaranteed = []
    for noise, fr in items:
        stream += noise
        if not stream or stream.endswith(b"\x00"):
            guaranteed.append(fr)
        stream += F.encode(*fr)
    out, dec = decode_all(stream)
    it = iter([fr for _, fr in items])
    assert all(any(o == s for s in it) for o in out), "decoded a frame not sent, or out of order"
    for fr in guaranteed:
        assert fr in out
    if any(noise and not noise.endswith(b"\x00") for noise, _ in items):
        assert sum(dec.errors) >= 1         # that noise merged with a frame


def test_resync_after_noise_example():
    a, b = (1, 7, 2, b"first"), (1, 8, 2, b"second")
    out, dec = decode_all(b"\x13\x37garbage" + F.encode(*a) + F.encode(*b))
    assert out == [b]                       # a merged with the noise: dropped
    assert dec.errors[F.ERR_BAD_FRAME] + dec.errors[F.ERR_BAD_CRC] + dec.errors[F.ERR_TRUNCATED] == 1
    out, dec = decode_all(b"\x13\x37garbage\x00" + F.encode(*a) + F.encode(*b))
    assert out == [a, b]                    # a leading 0x00 protects the first frame


@pytest.mark.parametrize("payload", [b"", b"\x00\x01", b"hello", b"\x00" * 40, b"A" * 300])
def test_every_single_byte_corruption_detected(payload):
    good = (2, 0x0102, 0x31, payload)
    nxt = (2, 0x0103, 0x31, b"next")
    wire = F.encode(*good)
    tail = F.encode(*nxt)
    dec = F.Decoder()
    for pos in range(len(wire) - 1):
        if len(wire) < 64:      # every other value
            values = [v for v in range(256) if v != wire[pos]]
        else:                   # zero, and flips of low, high and all bits
            values = {0, wire[pos] ^ 0x01, wire[pos] ^ 0x80, wire[pos] ^ 0xFF} - {wire[pos]}
        for x in values:
            bad = bytearray(wire)
            bad[pos] = x
            before = sum(dec.errors)
            out = dec.feed(bytes(bad) + tail)
            assert out == [nxt], (pos, x, out)
            assert sum(dec.errors) > before
    # the delimiter itself corrupted: the frame merges with the next; only later frames arrive
    last = (2, 0x0104, 0x31, b"last")
    for x in (1, 0x55, 0xFF):
        out = dec.feed(wire[:-1] + bytes([x]) + tail + F.encode(*last))
        assert out == [last]


@SETTINGS
@given(frames, st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=8))
def test_multi_byte_corruption_never_yields_wrong_frame(fr, flips):
    wire = bytearray(F.encode(*fr))
    for pos, x in flips:
        wire[pos % (len(wire) - 1)] ^= x
    if bytes(wire) == F.encode(*fr):
        return
    nxt = (1, 1, 1, b"n")
    out, _ = decode_all(bytes(wire) + b"\x00" + F.encode(*nxt))
    assert out == [nxt]


def test_truncated_frames():
    fr = (2, 5, 0x31, b"\x00\x01payload" + b"p" * 300)
    nxt = (2, 6, 0x31, b"ok")
    wire = F.encode(*fr)
    dec = F.Decoder()
    for cut in range(1, len(wire) - 1):
        before = list(dec.errors)
        assert dec.feed(wire[:cut] + b"\x00" + F.encode(*nxt)) == [nxt], cut
        new = [i for i in range(len(before)) if dec.errors[i] > before[i]]
        assert len(new) == 1 and new[0] in (F.ERR_TRUNCATED, F.ERR_BAD_FRAME, F.ERR_BAD_CRC), (cut, new)
    # a cut that leaves fewer bytes than header + CRC
    dec = F.Decoder()
    assert dec.feed(F.encode(1, 1, 1)[:6] + b"\x00") == ()
    assert dec.last_error in (F.ERR_TRUNCATED, F.ERR_BAD_FRAME)
    # cut exactly at a COBS block boundary: structure is fine, length field says more
    raw = ref_raw(1, 1, 1, b"abcdefgh\x00ijklmnop")
    dec = F.Decoder()
    assert dec.feed(ref_cobs(raw[:16]) + b"\x00") == ()     # ends before the payload zero
    assert dec.errors[F.ERR_TRUNCATED] == 1


def test_oversized_input_discarded_and_reported_once():
    good = (1, 3, 2, b"after")
    for piece in (1, 7, 1000, 100000):
        stream = bytes((i % 255) + 1 for i in range(5000)) + b"\x00" + F.encode(*good)
        dec = F.Decoder()
        out = []
        for i in range(0, len(stream), piece):
            out += dec.feed(stream[i:i + piece])
        assert out == [good]
        assert dec.errors[F.ERR_TOO_LONG] == 1 and sum(dec.errors) == 1
        assert dec.last_error == F.ERR_TOO_LONG


def test_largest_frame_fits_exactly_and_one_more_byte_does_not():
    # A raw frame with no zero byte at all has the largest COBS overhead.
    flags = 0x80
    for seed in range(256):
        payload = bytes(((i * 7 + seed) % 255) + 1 for i in range(F.MAX_PAYLOAD))
        raw = ref_raw(1, 0x0101, 0x31, payload, flags=flags)
        if 0 not in raw[8:]:    # only the length field's low byte (2048 = 00 08) is zero
            break
    enc = ref_cobs(raw) + b"\x00"
    assert len(enc) == F.MAX_WIRE
    dec = F.Decoder()
    assert dec.feed(enc) == [(1, 0x0101, 0x31, payload)]     # flags are ignored
    # payload one byte over the maximum, correctly encoded and CRC'd: refused
    raw = ref_raw(1, 0x0101, 0x31, payload + b"\x01", flags=flags)
    assert dec.feed(ref_cobs(raw) + b"\x00" + F.encode(1, 2, 3, b"ok")) == [(1, 2, 3, b"ok")]
    assert dec.errors[F.ERR_TOO_LONG] == 1
    # a short frame whose length field claims more than MAX_PAYLOAD
    dec = F.Decoder()
    assert dec.feed(ref_wire(1, 1, 1, b"", length=F.MAX_PAYLOAD + 1)) == ()
    assert dec.last_error == F.ERR_TOO_LONG


def test_header_errors_with_valid_crc():
    dec = F.Decoder()
    assert dec.feed(ref_wire(1, 1, 1, b"v2", version=2)) == ()
    assert dec.errors[F.ERR_BAD_VERSION] == 1
    assert dec.feed(ref_wire(1, 1, 1, b"abc", length=2)) == ()
    assert dec.errors[F.ERR_BAD_FRAME] == 1
    assert dec.feed(ref_wire(1, 1, 1, b"abc", length=4)) == ()
    assert dec.errors[F.ERR_TRUNCATED] == 1
    assert dec.feed(ref_wire(1, 1, 1, b"abc", crc_xor=1 << 31)) == ()
    assert dec.errors[F.ERR_BAD_CRC] == 1
    assert dec.feed(b"\x05\x01\x01\x00") == ()      # block claims more bytes than follow
    assert dec.errors[F.ERR_BAD_FRAME] == 2
    assert dec.received == 0
    assert dec.feed(F.encode(1, 1, 1, b"fine")) == [(1, 1, 1, b"fine")]
    assert dec.received == 1


@SETTINGS
@given(st.binary(max_size=6000), st.lists(st.integers(1, 3000), max_size=10))
def test_random_bytes_never_raise(noise, sizes):
    dec = F.Decoder()
    out = []
    i = 0
    for s in sizes + [len(noise)]:
        out += dec.feed(noise[i:i + s])
        i += s
    assert out == []
    # and the decoder is still in working order afterwards
    assert dec.feed(b"\x00" + F.encode(4, 0, 0x61, b"ev")) == [(4, 0, 0x61, b"ev")]


def test_empty_frames_ignored():
    dec = F.Decoder()
    assert dec.feed(b"\x00\x00\x00") == ()
    assert sum(dec.errors) == 0


# -- payload conventions ---------------------------------------------------

def test_json_payloads():
    obj = {"name": "hpc_bag", "rate": -1.5, "steps": [1, 2], "txt": "\u00b0C"}
    p = F.pack_json(obj)
    assert b" " not in p and p.startswith(b'{"name":"hpc_bag"')
    assert F.unpack_json(p) == obj
    assert F.unpack_json(bytearray(p)) == obj
    assert F.pack_json(None) == b"" and F.unpack_json(b"") is None
    with pytest.raises(ValueError):
        F.unpack_json(b"{bad")
    with pytest.raises(ValueError):
        F.unpack_json(b'"\xff"')


@SETTINGS
@given(st.integers(0, 2 ** 32 - 1), st.binary(max_size=F.MAX_CHUNK))
def test_chunk_round_trip(offset, data):
    total = min(2 ** 32 - 1, offset + len(data))
    offset = total - len(data)
    p = F.pack_chunk(offset, total, data)
    assert len(p) == 8 + len(data)
    assert F.unpack_chunk(p) == (offset, total, data)
    out, _ = decode_all(F.encode(2, 1, F.COMMANDS["log_fetch"], p))
    assert F.unpack_chunk(out[0][3]) == (offset, total, data)


def test_chunk_layout_and_limits():
    buf = bytearray(F.MAX_PAYLOAD)
    F.chunk_head_into(buf, 0x01020304, 0x0A0B0C0D)
    assert bytes(buf[:8]) == bytes.fromhex("040302010d0c0b0a")
    buf[8:] = b"\x00\x01" * (F.MAX_CHUNK // 2)
    assert F.unpack_chunk(bytes(buf)) == (0x01020304, 0x0A0B0C0D, b"\x00\x01" * (F.MAX_CHUNK // 2))
    F.encode(2, 1, 0x31, F.pack_chunk(0, F.MAX_CHUNK, bytes(F.MAX_CHUNK)))
    with pytest.raises(ValueError):
        F.encode(2, 1, 0x31, F.pack_chunk(0, F.MAX_CHUNK + 1, bytes(F.MAX_CHUNK + 1)))
    with pytest.raises(ValueError):
        F.unpack_chunk(b"\x00" * 7)
    with pytest.raises(ValueError):
        F.unpack_chunk(F.pack_chunk(10, 11, b"ab"))


def test_error_payloads():
    p = F.pack_error(F.ERR_NOT_FOUND, "no profile 'x'")
    assert p[0] == F.ERR_NOT_FOUND
    assert F.unpack_error(p) == (F.ERR_NOT_FOUND, "no profile 'x'")
    assert F.unpack_error(F.pack_error(F.ERR_BUSY)) == (F.ERR_BUSY, "")


# -- reply cache -----------------------------------------------------------

def test_reply_cache_replays_same_request_only():
    c = F.ReplyCache(3)
    start = F.COMMANDS["run_start"]
    args = F.pack_json({"name": "hpc_bag"})
    assert c.get(10, start, args) is None
    c.put(10, start, args, F.KIND_RESPONSE, b"started")
    assert c.get(10, start, args) == (F.KIND_RESPONSE, b"started")
    assert c.get(10, start, F.pack_json({"name": "vial"})) is None    # id reused, other args
    assert c.get(10, F.COMMANDS["run_stop"], args) is None            # other command
    assert c.get(11, start, args) is None
    c.put(0, start, args, F.KIND_RESPONSE, b"x")                      # id 0: never cached
    assert c.get(0, start, args) is None


def test_reply_cache_evicts_oldest():
    c = F.ReplyCache(3)
    for rid in range(1, 5):
        c.put(rid, 1, b"", F.KIND_RESPONSE, bytes([rid]))
    assert c.get(1, 1, b"") is None
    assert [c.get(r, 1, b"") for r in (2, 3, 4)] == [(2, b"\x02"), (2, b"\x03"), (2, b"\x04")]
    c.clear()
    assert c.get(4, 1, b"") is None
