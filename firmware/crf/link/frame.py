# Serial link protocol v1: the binary frame codec, one source for the firmware
# (MicroPython) and the host tools (CPython). The format is in docs/protocol.md.
#
# Wire: COBS(frame) 0x00. Frame, little-endian:
#   version u8 | kind u8 | req_id u16 | command u8 | flags u8 | length u16 |
#   payload[length] | crc32 u32 (over everything before it)
# COBS leaves no 0x00 inside a frame, so a receiver resynchronises at the next
# 0x00 after noise; the CRC catches what COBS and the length check let through.
import binascii
import json
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

VERSION = const(1)

KIND_REQUEST = const(1)
KIND_RESPONSE = const(2)
KIND_ERROR = const(3)       # error response: payload = error code u8 + UTF-8 detail
KIND_EVENT = const(4)       # unsolicited event or status, req_id 0

HEADER_SIZE = const(8)
CRC_SIZE = const(4)
MAX_PAYLOAD = const(2048)
MAX_RAW = const(HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE)
# COBS adds one code byte per started run of 254 non-zero bytes: n + 1 + n // 254.
MAX_ENCODED = const(MAX_RAW + 1 + MAX_RAW // 254)
MAX_WIRE = const(MAX_ENCODED + 1)               # with the 0x00 delimiter

# Transfer chunks: offset u32 + total u32 + data.
CHUNK_HEAD = const(8)
MAX_CHUNK = const(MAX_PAYLOAD - CHUNK_HEAD)

_MIN_RAW = const(HEADER_SIZE + CRC_SIZE)
# Code bytes a decoded frame may drop: the first one plus one after every
# full (255) block; one more slot holds the frame end.
_MAX_CUTS = const(MAX_WIRE // 255 + 2)

# Numeric command codes, grouped by area (high nibble). Codes never change
# meaning within a protocol version; new commands take unused codes.
COMMANDS = {
    "identify": 0x01,
    "status": 0x02,
    "time_set": 0x03,
    "profile_list": 0x10,
    "profile_get": 0x11,
    "profile_put": 0x12,
    "profile_delete": 0x13,
    "profile_validate": 0x14,
    "run_start": 0x20,
    "run_stop": 0x21,
    "run_hold": 0x22,
    "run_continue": 0x23,
    "run_ack": 0x24,
    "log_list": 0x30,
    "log_fetch": 0x31,
    "log_ack": 0x32,
    "config_get": 0x40,
    "config_set": 0x41,
    "auth_challenge": 0x50,
    "auth_login": 0x51,
    "auth_logout": 0x52,
    "audit_fetch": 0x53,
    "subscribe": 0x60,
    "event": 0x61,          # command of unsolicited event frames (kind 4)
    "restart": 0x70,
    "repl": 0x71,
    "screen": 0x78,
    "button": 0x79,         # simulation only
    "sim_fault": 0x7A,      # simulation only: fault injection (docs/safety.md)
    "tune_start": 0x80,     # chamber-loop autotune (docs/commissioning.md)
    "tune_status": 0x81,
    "tune_stop": 0x82,
    "tune_result": 0x83,
    "tune_apply": 0x84,
}
COMMAND_NAMES = {v: k for k, v in COMMANDS.items()}

# Error codes (payload byte 0 of an error response); the decoder counts its
# own errors under the first five.
ERR_BAD_FRAME = const(1)      # bad COBS, length field disagrees with the frame
ERR_BAD_CRC = const(2)
ERR_TOO_LONG = const(3)       # more than MAX_WIRE bytes, or payload > MAX_PAYLOAD
ERR_BAD_VERSION = const(4)
ERR_TRUNCATED = const(5)      # fewer bytes than header + length + CRC
ERR_UNKNOWN_COMMAND = const(6)
ERR_BAD_ARGS = const(7)
ERR_BUSY = const(8)
ERR_DENIED = const(9)
ERR_NOT_FOUND = const(10)
ERR_CONFLICT = const(11)
ERR_STORAGE = const(12)
ERR_INTERNAL = const(13)
ERROR_NAMES = ("", "bad_frame", "bad_crc", "too_long", "bad_version", "truncated",
               "unknown_command", "bad_args", "busy", "denied", "not_found",
               "conflict", "storage", "internal")
ERRORS = {name: i for i, name in enumerate(ERROR_NAMES) if name}


def max_wire_size(n):
    """Largest wire size of a frame with an n-byte payload (incl. the delimiter)."""
    raw = n + _MIN_RAW
    return raw + 2 + raw // 254


# Header and CRC scratch for encode_into: the device encodes without allocating
# them per frame (encode_into is not re-entrant; encode() uses its own).
_HDR = bytearray(HEADER_SIZE)
_TRL = bytearray(CRC_SIZE)


def encode_into(buf, kind, req_id, command, payload=b"", n=-1):
    """Write one wire frame (COBS + 0x00) to buf[0:]; returns its length.

    payload: bytes or bytearray (memoryview costs a copy); n: payload bytes to
    send (default all), so a preallocated chunk buffer can be sent partly full.
    """
    return _encode(buf, kind, req_id, command, payload, n, _HDR, _TRL)


def encode(kind, req_id, command, payload=b""):
    """One wire frame as bytes (host side; allocates)."""
    n = len(payload)
    buf = bytearray(max_wire_size(min(n, MAX_PAYLOAD)))    # oversize is refused below
    k = _encode(buf, kind, req_id, command, payload, n,
                bytearray(HEADER_SIZE), bytearray(CRC_SIZE))
    return bytes(memoryview(buf)[:k])


def _encode(buf, kind, req_id, command, payload, n, hdr, trl):
    if n < 0:
        n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too long")
    if n > len(payload):
        raise ValueError("n > len(payload)")
    if not (KIND_REQUEST <= kind <= KIND_EVENT and 0 <= req_id <= 0xFFFF and 0 <= command <= 0xFF):
        raise ValueError("kind, req_id or command out of range")
    if len(buf) < max_wire_size(n):
        raise ValueError("buffer too small")
    if isinstance(payload, memoryview):
        payload = bytes(payload[:n])        # find() below needs bytes/bytearray
    struct.pack_into("<BBHBBH", hdr, 0, VERSION, kind, req_id, command, 0, n)
    crc = binascii.crc32(hdr)
    if n:
        crc = binascii.crc32(payload if n == len(payload) else memoryview(payload)[:n], crc)
    struct.pack_into("<I", trl, 0, crc)
    # COBS over header, payload, CRC in turn (a block may span them): every
    # block is a code byte (1 + count of non-zero bytes that follow, 1..255)
    # then those bytes; a code below 255 also stands for the zero after them.
    cp = 0      # where the open block's code byte goes
    o = 1       # next output position
    for seg, m in ((hdr, HEADER_SIZE), (payload, n), (trl, CRC_SIZE)):
        mv = memoryview(seg)
        i = 0
        while i < m:
            if seg[i] == 0:     # zero: close the block (fast path, zeros are common)
                buf[cp] = o - cp
                cp = o
                o += 1
                i += 1
                continue
            z = seg.find(b"\x00", i, m)
            if z < 0:
                z = m
            while i < z:        # copy the non-zero run, closing full blocks
                k = z - i
                room = 255 - (o - cp)
                if k > room:
                    k = room
                if k == 1:      # no memoryview for a single byte
                    buf[o] = seg[i]
                else:
                    buf[o:o + k] = mv[i:i + k]
                o += k
                i += k
                if o - cp == 255:
                    buf[cp] = 255
                    cp = o
                    o += 1
            if z < m:           # a zero: ends the block
                buf[cp] = o - cp
                cp = o
                o += 1
                i = z + 1
    buf[cp] = o - cp
    buf[o] = 0
    return o + 1


class Decoder:
    """Streaming frame decoder: feed() bytes in any fragmentation, get checked frames.

    Never raises on input. Bad frames are dropped and counted in
    errors[ERR_*] (last_error holds the latest); good frames in `received`.
    Holds one MAX_WIRE buffer; frames are decoded in place.
    """

    def __init__(self):
        self._buf = bytearray(MAX_WIRE)
        self._mv = memoryview(self._buf)
        self._cut = [0] * _MAX_CUTS     # positions of dropped code bytes, then the end
        self._n = 0                     # bytes of an unfinished frame at _buf[0:]
        self._skip = False              # discarding a too long frame up to the next 0x00
        self.errors = [0] * len(ERROR_NAMES)
        self.last_error = 0
        self.received = 0

    def reset(self):
        self._n = 0
        self._skip = False

    def feed(self, data, n=-1):
        """Take data[0:n] (bytes, bytearray or memoryview; n defaults to all).

        Returns a list of (kind, req_id, command, payload) for the frames
        completed, or () when none (no allocation then).
        """
        size = len(data)
        if n < 0 or n > size:
            n = size
        buf = self._buf
        out = ()  # type: tuple | list
        src = None
        i = 0
        while i < n:
            have = self._n
            k = n - i
            if k > MAX_WIRE - have:
                k = MAX_WIRE - have
            if k == size:
                buf[have:have + k] = data
            else:
                if src is None:
                    src = data if isinstance(data, memoryview) else memoryview(data)
                buf[have:have + k] = src[i:i + k]
            end = have + k
            start = 0
            z = buf.find(b"\x00", have, end)
            while z >= 0:
                if self._skip:
                    self._skip = False
                elif z > start:         # an empty frame (extra 0x00) is ignored
                    f = self._frame(start, z)
                    if f is not None:
                        if out:
                            out.append(f)  # type: ignore[union-attr]
                        else:
                            out = [f]
                start = z + 1
                z = buf.find(b"\x00", start, end)
            if start:
                # The tail after the last delimiter is copied again from the
                # input to the buffer start: no overlapping move in the buffer.
                i += start - have
                self._n = 0
            else:
                i += k
                if end == MAX_WIRE:     # full and no delimiter: too long
                    if not self._skip:
                        self._skip = True
                        self._error(ERR_TOO_LONG)
                    self._n = 0
                else:
                    self._n = end
        return out

    def _error(self, code):
        self.errors[code] += 1
        self.last_error = code
        return None

    def _frame(self, s, e):
        # COBS-decode _buf[s:e] in place without moving data: a code byte that
        # stands for a zero becomes that zero; the first code byte and those
        # after full (255) blocks are dropped ("cut"). The decoded frame is
        # _buf[s+1:e] minus the cuts, in at most _MAX_CUTS - 1 segments.
        buf = self._buf
        cut = self._cut
        cut[0] = s
        nc = 1
        c = buf[s]                      # never 0: the frame holds no 0x00
        q = s + c
        while q < e:
            nxt = buf[q]                # the next code byte, read before it may be zeroed
            if c == 255:
                cut[nc] = q
                nc += 1
            else:
                buf[q] = 0
            c = nxt
            q += c
        if q > e:                       # last block runs past the delimiter
            return self._error(ERR_BAD_FRAME)
        cut[nc] = e
        d = e - s - nc                  # decoded size
        if d < _MIN_RAW:
            return self._error(ERR_TRUNCATED)
        # The header lies in the first segment (>= 254 bytes when cuts exist).
        h = s + 1
        plen = buf[h + 6] | buf[h + 7] << 8
        if plen > MAX_PAYLOAD:
            return self._error(ERR_TOO_LONG)
        if d - _MIN_RAW != plen:
            return self._error(ERR_TRUNCATED if d - _MIN_RAW < plen else ERR_BAD_FRAME)
        # CRC over all decoded bytes but the last four, segment by segment.
        mv = self._mv
        crc = 0
        left = d - CRC_SIZE
        j = 0
        while left > 0:
            a = cut[j] + 1
            b = cut[j + 1]
            if b - a > left:
                b = a + left
            crc = binascii.crc32(mv[a:b], crc)
            left -= b - a
            j += 1
        # Received CRC: the last four decoded bytes, read backwards past cuts;
        # compared in 16-bit halves (no long ints on 32-bit ports).
        hi = lo = 0
        got = 0
        p = e
        j = nc - 1
        while got < 4:
            p -= 1
            if p == cut[j]:
                j -= 1
                continue
            if got < 2:
                hi = hi << 8 | buf[p]
            else:
                lo = lo << 8 | buf[p]
            got += 1
        if crc & 0xFFFF != lo or crc >> 16 != hi:
            return self._error(ERR_BAD_CRC)
        if buf[h] != VERSION:
            return self._error(ERR_BAD_VERSION)
        self.received += 1
        return (buf[h + 1], buf[h + 2] | buf[h + 3] << 8, buf[h + 4], self._payload(nc, plen))

    def _payload(self, nc, plen):
        if not plen:
            return b""
        cut = self._cut
        mv = self._mv
        if nc == 1:
            a = cut[0] + 1 + HEADER_SIZE
            return bytes(mv[a:a + plen])
        out = bytearray(plen)
        skip = HEADER_SIZE
        o = 0
        j = 0
        while o < plen:
            a = cut[j] + 1
            b = cut[j + 1]
            j += 1
            if skip:
                t = b - a if b - a < skip else skip
                a += t
                skip -= t
            t = b - a
            if t > plen - o:
                t = plen - o
            if t > 0:
                out[o:o + t] = mv[a:a + t]
                o += t
        return bytes(out)


class ReplyCache:
    """The last few replies, so a retried request is answered again, not run twice.

    A request matches an entry by request id, command and CRC-32 of its
    payload (a reused id with other content runs normally). Request id 0 is
    never cached. Fixed slots, oldest replaced first.
    """

    def __init__(self, slots=4):
        self._id = [-1] * slots
        self._cmd = [0] * slots
        self._crc = [0] * slots
        self._reply = [None] * slots  # type: list
        self._next = 0

    def get(self, req_id, command, payload):
        """The stored (kind, payload) reply for this request, or None."""
        if req_id:
            crc = binascii.crc32(payload)
            for i in range(len(self._id)):
                if self._id[i] == req_id and self._cmd[i] == command and self._crc[i] == crc:
                    return self._reply[i]
        return None

    def put(self, req_id, command, payload, kind, reply):
        """Remember the reply (kind, reply payload) sent to this request."""
        if not req_id:
            return
        i = self._next
        self._next = (i + 1) % len(self._id)
        self._id[i] = req_id
        self._cmd[i] = command
        self._crc[i] = binascii.crc32(payload)
        self._reply[i] = (kind, reply)

    def clear(self):
        for i in range(len(self._id)):
            self._id[i] = -1
            self._reply[i] = None


# Payload conventions.

def pack_json(obj):
    """Compact UTF-8 JSON; None (no arguments) is the empty payload."""
    if obj is None:
        return b""
    return json.dumps(obj, separators=(",", ":")).encode()


def unpack_json(payload):
    """Inverse of pack_json; raises ValueError on bad JSON."""
    if not payload:
        return None
    return json.loads(payload)


def pack_error(code, detail=""):
    """Error response payload: code u8 + UTF-8 detail."""
    return bytes((code,)) + detail.encode()


def unpack_error(payload):
    """(code, detail) of an error response; (ERR_BAD_FRAME, "") if empty."""
    if not payload:
        return ERR_BAD_FRAME, ""
    return payload[0], bytes(payload[1:]).decode()


def chunk_head_into(buf, offset, total):
    """Write the chunk head to buf[0:8]; the data then goes to buf[8:]."""
    struct.pack_into("<II", buf, 0, offset, total)


def pack_chunk(offset, total, data):
    return struct.pack("<II", offset, total) + bytes(data)


def unpack_chunk(payload):
    """(offset, total, data) of a transfer chunk; ValueError if malformed."""
    if len(payload) < CHUNK_HEAD:
        raise ValueError("short chunk")
    offset, total = struct.unpack_from("<II", payload, 0)
    data = bytes(payload[CHUNK_HEAD:])
    if offset + len(data) > total:
        raise ValueError("chunk past total")
    return offset, total, data
