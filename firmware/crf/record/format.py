# Run-record file format, shared by the firmware (writer, boot scan) and the
# host (reader, verifier). Layout and reasons: docs/run-records.md.
# All integers little-endian. Every record ends in a CRC-16/CCITT-FALSE over
# its other bytes; digest records chain SHA-256 over blocks of records.
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAGIC = b"CRFR\x01"          # file magic + format version
FORMAT = 1

TAG_HEADER = const(0x48)      # 'H' u16 len, JSON, crc
TAG_SAMPLE = const(0x53)      # 'S' fixed SAMPLE_SIZE
TAG_EVENT = const(0x45)       # 'E' u8 len, payload, crc
TAG_DIGEST = const(0x44)      # 'D' fixed DIGEST_SIZE
TAG_SEAL = const(0x5A)        # 'Z' fixed SEAL_SIZE

SAMPLE_FMT = "<BBIhhhhBBB"    # tag step t_ms chamber sample sp_chamber sp_sample ln2 heater flags
SAMPLE_SIZE = const(19)       # 17 + crc
DIGEST_FMT = "<BHH"           # tag block records-in-block, then 32-byte digest
DIGEST_SIZE = const(39)       # 5 + 32 + crc
SEAL_FMT = "<BIIBI"           # tag t_ms rtc_s status records, then 32-byte digest
SEAL_SIZE = const(48)         # 14 + 32 + crc
EVENT_FMT = "<BBIIBB"         # tag len t_ms rtc_s code who_len, then who, detail
EVENT_FIXED = const(12)       # fixed part incl. crc
EVENT_MAX = const(255 + 4)    # u8 payload length
HEADER_MAX = const(8192)      # header JSON bytes
MAX_RECORD = const(8192 + 5)

BLOCK_RECORDS = const(48)     # records per digest block (~4 min at 5 s)
JOURNAL_MAX = const(480)      # run-log journal file: below littlefs's inline limit (512 with progsize 256)
JOURNAL_HEAD = const(6)       # ... which starts with u32 base offset, u16 records' length
JOURNAL_RECORDS = const(474)  # ... then the records
NO_VALUE = const(-32768)      # i16 temperature "no reading / not applicable"
NO_RTC = const(0)             # rtc_s when the clock was never set
DUTY_FULL = const(250)        # duty resolution 0.4 %

# sample flags: bits 0-2 engine state, then single bits
STATE_CODES = ("idle", "running", "held", "end", "stopped")
F_COMP = const(0x08)          # heat-of-fusion compensation active
F_SAMPLE_CTL = const(0x10)    # controlling on the sample probe
F_ALARM = const(0x20)         # an alarm is active
F_CHAMBER_FAULT = const(0x40)
F_SAMPLE_FAULT = const(0x80)

# seal status
SEAL_STATUS = ("completed", "stopped", "interrupted", "storage_failed")
SEAL_COMPLETED = const(0)
SEAL_STOPPED = const(1)
SEAL_INTERRUPTED = const(2)
SEAL_STORAGE = const(3)

# event codes: the number is what is stored, the name what people read
EVENTS = (
    None, "start", "step", "nucleation", "compensation", "compensation_end", "hold",
    "continue", "stop", "end", "timeout", "ack", "alarm_raised", "alarm_cleared",
    "alarm_acked", "door_open", "door_closed", "power_restored", "log_tear",
    "config_change", "log_space", "clock_set", "calibration_change", "note",
    # appended by the serial link (never reorder: the number is what is stored)
    "profile_change", "log_ack", "auth",
)
_NOTE = EVENTS.index("note")


def event_code(name):
    for i in range(1, len(EVENTS)):
        if EVENTS[i] == name:
            return i
    return _NOTE             # unknown names are still recorded, as notes


def _crc_table():
    t = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t.append(c & 0xFFFF)
    return tuple(t)


_CRC_TABLE = _crc_table()


def crc16(data, n=-1, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of data[:n]."""
    t = _CRC_TABLE
    if n < 0:
        n = len(data)
    for i in range(n):
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ data[i]) & 0xFF]
    return crc


def put_crc(buf, n):
    """Append the CRC of buf[:n] at buf[n:n+2]; return n + 2."""
    struct.pack_into("<H", buf, n, crc16(buf, n))
    return n + 2


def crc_ok(buf, size):
    return crc16(buf, size - 2) == (buf[size - 2] | (buf[size - 1] << 8))


def _u32(v):
    # Times past u32 (a 49-day run) stick at the top rather than wrap.
    return 0 if v < 0 else (v if v < 0xFFFFFFFF else 0xFFFFFFFF)


def centi(v):
    """Temperature to the stored i16 (0.01 degC), NO_VALUE for None."""
    if v is None:
        return NO_VALUE
    v = int(round(v * 100.0))
    return 32767 if v > 32767 else (-32767 if v < -32767 else v)


def from_centi(v):
    return None if v == NO_VALUE else v / 100.0


def duty_byte(d):
    d = int(d * DUTY_FULL + 0.5)
    return 0 if d < 0 else (DUTY_FULL if d > DUTY_FULL else d)


def record_size(tag, buf):
    """Total size of a record from its first bytes (buf holds >= 3), or -1."""
    if tag == TAG_SAMPLE:
        return SAMPLE_SIZE
    if tag == TAG_DIGEST:
        return DIGEST_SIZE
    if tag == TAG_SEAL:
        return SEAL_SIZE
    if tag == TAG_EVENT:
        return buf[1] + 4 if buf[1] >= 10 else -1   # t, rtc, code, who length at least
    if tag == TAG_HEADER:
        n = buf[1] | (buf[2] << 8)
        return n + 5 if n <= HEADER_MAX else -1
    return -1


def _cut_utf8(b, n):
    # At most n bytes, never ending inside a UTF-8 character.
    if len(b) <= n:
        return b
    while n > 0 and (b[n] & 0xC0) == 0x80:
        n -= 1
    return b[:n]


def _text(b):
    try:
        return bytes(b).decode()
    except (UnicodeError, ValueError):     # damaged or foreign bytes: still readable
        return "".join(chr(c) if c < 128 else "?" for c in b)


def pack_event(t_ms, rtc_s, code, who, detail):
    who = _cut_utf8(who.encode() if isinstance(who, str) else bytes(who), 32)
    detail = detail.encode() if isinstance(detail, str) else bytes(detail)
    detail = _cut_utf8(detail, 255 - 10 - len(who))
    n = 10 + len(who) + len(detail)
    buf = bytearray(n + 4)
    struct.pack_into(EVENT_FMT, buf, 0, TAG_EVENT, n, _u32(t_ms), _u32(rtc_s or NO_RTC), code, len(who))
    buf[12:12 + len(who)] = who
    buf[12 + len(who):n + 2] = detail
    put_crc(buf, n + 2)
    return buf


def unpack_event(rec):
    _, n, t_ms, rtc_s, code, wl = struct.unpack_from(EVENT_FMT, rec, 0)
    wl = min(wl, n - 10)
    who = _text(rec[12:12 + wl])
    detail = _text(rec[12 + wl:n + 2])
    name = EVENTS[code] if 0 < code < len(EVENTS) else "code%d" % code
    return t_ms, rtc_s, name, who, detail


def header_parts(text):
    """The header record in three parts, (tag and length, the JSON's bytes,
    CRC), so the run log writes it without a second copy of the JSON: at a
    run start the heap seldom has two such pieces of a few KB."""
    data = text
    if isinstance(text, str):
        try:
            data = memoryview(text)  # type: ignore[arg-type]  # MicroPython: the str's UTF-8 bytes
        except TypeError:  # CPython
            data = text.encode()
    if len(data) > HEADER_MAX:
        raise ValueError("run header: %d bytes, at most %d" % (len(data), HEADER_MAX))
    head = struct.pack("<BH", TAG_HEADER, len(data))
    return head, data, struct.pack("<H", crc16(data, crc=crc16(head)))


def pack_header(text):
    """text: the header JSON (str or bytes) -> the whole record."""
    head, data, tail = header_parts(text)
    n = len(data)
    buf = bytearray(n + 5)
    buf[0:3] = head
    buf[3:3 + n] = data
    buf[3 + n:] = tail
    return buf


def pack_digest(block, count, digest):
    buf = bytearray(DIGEST_SIZE)
    struct.pack_into(DIGEST_FMT, buf, 0, TAG_DIGEST, block, count)
    buf[5:37] = digest
    put_crc(buf, 37)
    return buf


def unpack_digest(rec):
    _, block, count = struct.unpack_from(DIGEST_FMT, rec, 0)
    return block, count, bytes(rec[5:37])


def seal_digest(prev, rec):
    """The seal's chain value: covers the chain so far and the seal's own
    fields (status, end time, count), so pinning it pins them too."""
    import hashlib
    h = hashlib.sha256(prev)
    h.update(bytes(rec[:14]))
    return h.digest()


def pack_seal(t_ms, rtc_s, status, records, prev):
    """prev: the chain value after the last digest record."""
    buf = bytearray(SEAL_SIZE)
    struct.pack_into(SEAL_FMT, buf, 0, TAG_SEAL, _u32(t_ms), _u32(rtc_s or NO_RTC), status, records)
    buf[14:46] = seal_digest(prev, buf)
    put_crc(buf, 46)
    return buf


def unpack_seal(rec):
    _, t_ms, rtc_s, status, records = struct.unpack_from(SEAL_FMT, rec, 0)
    return t_ms, rtc_s, status, records, bytes(rec[14:46])


def pack_sample_into(buf, step, t_ms, chamber_c, sample_c, sp_chamber_c, sp_sample_c,
                     ln2_duty, heater_duty, flags):
    struct.pack_into(SAMPLE_FMT, buf, 0, TAG_SAMPLE, step & 0xFF, _u32(t_ms), centi(chamber_c),
                     centi(sample_c), centi(sp_chamber_c), centi(sp_sample_c),
                     duty_byte(ln2_duty), duty_byte(heater_duty), flags)
    put_crc(buf, SAMPLE_SIZE - 2)


def unpack_sample(rec):
    """-> (step, t_ms, chamber_c, sample_c, sp_chamber_c, sp_sample_c, ln2, heater, flags)"""
    _, step, t_ms, c, s, spc, sps, ln2, heat, flags = struct.unpack_from(SAMPLE_FMT, rec, 0)
    return (step, t_ms, from_centi(c), from_centi(s), from_centi(spc), from_centi(sps),
            ln2 / DUTY_FULL, heat / DUTY_FULL, flags)


def run_file(run_id, acked=False):
    return "%06d.%s" % (run_id, "ack" if acked else "run")


def parse_run_file(name):
    """(run_id, acked) for a run-log file name, None for anything else."""
    if len(name) != 10 or name[6] != "." or name[7:] not in ("run", "ack"):
        return None
    for ch in name[:6]:
        if not "0" <= ch <= "9":
            return None
    return int(name[:6]), name[7:] == "ack"
