# Walks a run-record file, checking every CRC, the digest chain, record order
# and the seal, and says what is wrong and where instead of failing. Shared:
# the firmware's boot scan and the host's verifier both use it.
import hashlib
import struct
from crf.record import format as fmt
from crf.record.fileio import read_at

# problem kinds
FOREIGN = "foreign"          # not a run record at all
DAMAGED = "damaged"          # bytes that are no valid record (CRC, type or length)
TORN = "torn"                # an incomplete record at the end of the file
CHAIN = "chain"              # a digest block does not match its records
COUNT = "count"              # a block holds more or fewer records than its digest says
ORDER = "order"              # block numbers or times out of order
HEADER = "header"            # missing or misplaced header
SEAL = "seal"                # seal missing, wrong or not last
_WINDOW = 1024


class Scan:
    """Result of scan(): problems as (offset, record_index, kind, text)."""

    def __init__(self, size):
        self.size = size
        self.problems = []
        self.records = 0          # valid records (magic excluded)
        self.good_end = 0         # end of the valid prefix of the file
        self.header = None        # header JSON bytes
        self.seal = None          # unpacked seal
        self.seal_offset = None
        self.prev = bytes(32)     # chain value after the last digest record
        self.blocks = 0           # digest records seen
        self.in_block = 0         # records after the last digest record
        self.last_t_ms = 0
        self.hasher = None        # hash of the open block (for continuing it)

    @property
    def ok(self):
        return not self.problems

    def problem(self, offset, index, kind, text):
        self.problems.append((offset, index, kind, text))


def _valid_at(mv, p, avail):
    """Record size if a complete, CRC-valid record starts at mv[p]."""
    if avail < 3:
        return 0
    tag = mv[p]
    if tag == fmt.TAG_HEADER:
        return 0   # only ever at the start of the file
    n = fmt.record_size(tag, mv[p:p + 3])
    if n <= 0 or n > avail:
        return 0
    return n if fmt.crc_ok(mv[p:p + n], n) else 0


def _resync(f, buf, start, size):
    """Offset of the next valid record at or after start, or None."""
    mv = memoryview(buf)
    base = start
    while base < size:
        n = read_at(f, mv, base, min(len(buf), size - base))
        last = n if base + n >= size else n - fmt.EVENT_MAX
        for p in range(0, max(last, 1)):
            if _valid_at(mv, p, n - p):
                return base + p
        if base + n >= size:
            return None
        base += last
    return None


def scan(f, size, visit=None, buf=None):
    """Verify the run record in file f (size bytes). visit(offset, index, tag, mv)
    is called for each valid record; mv is only valid during the call."""
    s = Scan(size)
    if buf is None:
        buf = bytearray(fmt.MAX_RECORD)
    mv = memoryview(buf)
    m = len(fmt.MAGIC)
    if read_at(f, mv, 0, m) < m or bytes(mv[:m]) != fmt.MAGIC:
        s.problem(0, -1, FOREIGN, "not a run record (no %r at the start)" % fmt.MAGIC)
        return s
    h = hashlib.sha256(s.prev)
    h.update(fmt.MAGIC)
    off = m
    s.good_end = m
    intact = True         # no damage so far: good_end follows the records
    block_damaged = False
    index = 0
    while off < size:
        avail = read_at(f, mv, off, min(3, size - off))
        n = fmt.record_size(mv[0], mv) if avail == 3 else -1
        if n > 0 and off + n <= size:
            read_at(f, mv, off, n)
        if n <= 0 or off + n > size or not fmt.crc_ok(mv, n):
            nxt = _resync(f, buf, off + 1, size)
            if nxt is None:
                # Nothing valid follows: an append cut short (or damage) at the tail.
                if intact and size - off <= fmt.MAX_RECORD:
                    s.problem(off, index, TORN, "the last %d bytes are no complete record: an append "
                              "cut short, or damage at the end" % (size - off))
                else:
                    s.problem(off, index, DAMAGED, "bytes %d..%d are no valid record" % (off, size))
                break
            s.problem(off, index, DAMAGED, "bytes %d..%d are no valid record (%s)"
                      % (off, nxt, "bad CRC" if 0 < n <= nxt - off else "bad type or length"))
            intact = False
            block_damaged = True
            off = nxt
            continue
        tag = mv[0]
        rec = mv[:n]
        if tag == fmt.TAG_DIGEST:
            block, count, stored = fmt.unpack_digest(rec)
            if block != s.blocks:
                s.problem(off, index, ORDER, "digest block %d where block %d was due" % (block, s.blocks))
            if count != s.in_block:
                s.problem(off, index, COUNT, "digest block %d covers %d records, %d found"
                          % (block, count, s.in_block))
            if h.digest() != stored:
                s.problem(off, index, CHAIN, "digest block %d does not match its records%s: altered, "
                          "inserted, deleted or reordered" % (block, " (damaged bytes inside)"
                                                              if block_damaged else ""))
            s.prev = stored
            s.blocks = block + 1
            s.in_block = 0
            block_damaged = False
            h = hashlib.sha256(stored)
        elif tag == fmt.TAG_SEAL:
            t_ms, rtc_s, status, records, digest = fmt.unpack_seal(rec)
            if s.in_block:
                s.problem(off, index, SEAL, "seal follows %d records no digest covers" % s.in_block)
            if digest != fmt.seal_digest(s.prev, rec):
                s.problem(off, index, SEAL, "seal digest does not match the chain and the seal's fields")
            if records != index:
                s.problem(off, index, SEAL, "seal counts %d records, %d found" % (records, index))
            if off + n != size:
                s.problem(off + n, index + 1, SEAL, "%d bytes after the seal" % (size - off - n))
            s.seal = (t_ms, rtc_s, status, records, digest)
            s.seal_offset = off
        else:
            h.update(rec)
            s.in_block += 1
            if tag == fmt.TAG_HEADER:
                if index != 0:
                    s.problem(off, index, HEADER, "header at record %d" % index)
                else:
                    s.header = bytes(rec[3:n - 2])
            else:
                if index == 0:
                    s.problem(off, index, HEADER, "the file does not start with a header")
                t_ms = struct.unpack_from("<I", rec, 2)[0]
                if t_ms < s.last_t_ms:
                    s.problem(off, index, ORDER, "time goes back from %d ms to %d ms" % (s.last_t_ms, t_ms))
                s.last_t_ms = t_ms
        if visit is not None:
            visit(off, index, tag, rec)
        index += 1
        s.records = index
        off += n
        if intact:
            s.good_end = off
        if s.seal is not None:
            break
    s.hasher = h
    return s


def tail_sealed(f, size, buf=None):
    """Cheap check: does the file end in a CRC-valid seal record?"""
    if size < len(fmt.MAGIC) + fmt.SEAL_SIZE:
        return False
    if buf is None:
        buf = bytearray(fmt.SEAL_SIZE)
    mv = memoryview(buf)
    if read_at(f, mv, size - fmt.SEAL_SIZE, fmt.SEAL_SIZE) != fmt.SEAL_SIZE:
        return False
    return mv[0] == fmt.TAG_SEAL and fmt.crc_ok(mv, fmt.SEAL_SIZE)
