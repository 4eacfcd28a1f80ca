# The run log on the flash: one append-only file per run in <root>/runs.
# Each record is written and synced on its own; littlefs commits a sync
# atomically, so a power cut loses at most the record being written.
# Runs are deleted only after the host acknowledged fetching them (".ack").
import os
import json
import hashlib
import struct
from crf.record import format as fmt
from crf.record.fileio import exists, read_at, copy_file  # noqa: F401 (copy_file: re-exported)
from crf import lazy

try:
    from micropython import const
    _MPY = True
except ImportError:
    def const(x):
        return x
    _MPY = False

_READER = "crf.record.reader"   # loaded for the boot scan, then dropped
_RESERVE_BLOCKS = const(6)      # kept free for littlefs copy-on-write and the seal
_LOW_BLOCKS = const(10)         # below this during a run: free space, then decimate
_EVENT_ALLOWANCE = const(6144)  # bytes budgeted for a run's events
_HOLD_MARGIN_S = const(1800)    # room for operator holds beyond the plan ...
_MAX_INTERVAL_MS = const(60000)  # ... and the slowest the log decimates to
_BLOCK_OVERHEAD = const(16)     # littlefs CTZ pointers per data block (generous)


class LogError(Exception):
    pass


def read_journal(path):
    """(run-file size when the journal began, the records in it); base None
    if the journal was cut while being created."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < fmt.JOURNAL_HEAD:
        return None, b""
    base, n = struct.unpack_from("<IH", data, 0)
    return base, data[fmt.JOURNAL_HEAD:fmt.JOURNAL_HEAD + n]


def _size(path):
    return os.stat(path)[6]


class RunLog:
    def __init__(self, root):
        self.dir = (root if root != "/" else "") + "/runs"
        self.jdir = self.dir + "/j"
        for d in (self.dir, self.jdir):
            if not exists(d):
                os.mkdir(d)
        self.f = None
        self.run_id = None
        self.path = None
        self.failed = None          # why the open run's log stopped, if it did
        self.interval_ms = 5000
        self.next_sample_ms = 0
        self.problems = []          # boot findings: (file, text), left alone
        self.interrupted = None     # facts about a run cut off by a restart
        self.syncs = 0              # record syncs since boot (flash commits)
        self.bytes = 0              # bytes of the open run's file
        self._sbuf = bytearray(fmt.SAMPLE_SIZE)
        self._jbuf = bytearray(fmt.JOURNAL_RECORDS)
        self._jmv = memoryview(self._jbuf)
        self._jn = 0
        self._jhead = bytearray(fmt.JOURNAL_HEAD)
        self._j = None
        self._reset_chain()

    def _reset_chain(self):
        self._prev = bytes(32)
        self._hash = None
        self._block = 0
        self._in_block = 0
        self.records = 0
        self.last_t_ms = 0
        self.pending_note = None    # a log_space message for the caller to record

    # -- the runs on the flash ----------------------------------------------
    def runs(self):
        """[(run_id, acked, size_bytes)] oldest first; foreign files are skipped."""
        out = []
        for name in os.listdir(self.dir):
            p = fmt.parse_run_file(name)
            if p is not None:
                out.append((p[0], p[1], _size(self.dir + "/" + name)))
        out.sort()
        return out

    def file_of(self, run_id):
        for acked in (False, True):
            path = self.dir + "/" + fmt.run_file(run_id, acked)
            if exists(path):
                return path
        return None

    def ack(self, run_id):
        """The host has fetched run_id: it may now be deleted to make room."""
        if run_id == self.run_id and self.f is not None:
            raise LogError("run %d is still being recorded" % run_id)
        path = self.dir + "/" + fmt.run_file(run_id)
        if not exists(path):
            if exists(self.dir + "/" + fmt.run_file(run_id, True)):
                return False
            raise LogError("no run %d" % run_id)
        os.rename(path, self.dir + "/" + fmt.run_file(run_id, True))
        return True

    # -- reading a record (the link's log_fetch) ------------------------------
    # The open run's record is its file followed by the journal's records not
    # yet moved into it: read() presents both as one byte stream, the prefix of
    # what the file will hold once sealed.
    def is_open(self, run_id):
        return run_id == self.run_id and self.f is not None

    def size(self, run_id):
        """Bytes of run_id's record as read() presents it; None if no such run."""
        if self.is_open(run_id):
            return self.bytes
        path = self.file_of(run_id)
        return _size(path) if path else None

    def read(self, run_id, offset, n, buf):
        """Copy up to n bytes of run_id's record from offset into buf (a
        bytearray or memoryview); returns the count. LogError if no such run."""
        if self.is_open(run_id):
            path = self.path
            fsize = self.bytes - self._jn     # synced to the file; the rest is journal
            total = self.bytes
        else:
            path = self.file_of(run_id)
            if path is None:
                raise LogError("no run %d" % run_id)
            fsize = total = _size(path)
        if offset >= total or n <= 0:
            return 0
        if n > total - offset:
            n = total - offset
        mv = buf if isinstance(buf, memoryview) else memoryview(buf)
        got = 0
        if offset < fsize:
            k = n if n < fsize - offset else fsize - offset
            with open(path, "rb") as f:
                got = read_at(f, mv, offset, k)
            if got < k:
                raise LogError("run %d: file shorter than expected" % run_id)
        if got < n:                            # the open run's journal records
            j = offset + got - fsize
            mv[got:n] = self._jmv[j:j + n - got]
            got = n
        return got

    def free_blocks(self):
        st = os.statvfs(self.dir)
        return st[3], st[0]

    def bytes_needed(self, header_len, planned_s, interval_ms):
        """Flash bytes a run of planned_s needs, with room for holds and events."""
        samples = ((planned_s + _HOLD_MARGIN_S) * 1000) // interval_ms + 2
        records = samples + 2
        return (len(fmt.MAGIC) + header_len + 5 + samples * fmt.SAMPLE_SIZE
                + (records // fmt.BLOCK_RECORDS + 2) * fmt.DIGEST_SIZE
                + fmt.SEAL_SIZE + _EVENT_ALLOWANCE)

    def _blocks_for(self, nbytes, bsize):
        per = bsize - _BLOCK_OVERHEAD
        return (nbytes + per - 1) // per

    def _delete_oldest_acked(self):
        for run_id, acked, _ in self.runs():
            if acked:
                os.remove(self.dir + "/" + fmt.run_file(run_id, True))
                return run_id
        return None

    def make_room(self, blocks):
        """Delete acknowledged runs, oldest first, until `blocks` are free."""
        free, _ = self.free_blocks()
        while free < blocks + _RESERVE_BLOCKS:
            if self._delete_oldest_acked() is None:
                return False
            free, _ = self.free_blocks()
        return True

    def _next_id(self):
        n = 1
        try:
            with open(self.dir + "/next") as f:
                n = int(f.read())
        except (OSError, ValueError):
            pass
        for run_id, _, _ in self.runs():
            if run_id >= n:
                n = run_id + 1
        return n

    # -- writing ----------------------------------------------------------
    def open_run(self, header, planned_s, interval_ms):
        """Start a run's file; header: dict (run id and format are added).
        Raises LogError if the flash cannot hold the run to its end."""
        if self.f is not None:
            raise LogError("run %d is still open" % self.run_id)
        run_id = self._next_id()
        header["run"] = run_id
        header["format"] = fmt.FORMAT
        header["interval_ms"] = interval_ms
        header["planned_s"] = planned_s
        # Magic, header and the header's digest go into a temporary file that
        # becomes the run file by an atomic rename: a cut before that leaves
        # no run at all, never a run file without its header. The header's
        # JSON is streamed into it (its length patched in after), then read
        # back for its CRC and the hash: no copy of it in the heap, where a
        # run start seldom finds a free piece of a few KB.
        m = len(fmt.MAGIC)
        tmp = self.dir + "/" + fmt.run_file(run_id)[:-4] + ".tmp"
        with open(tmp, "wb") as f:
            f.write(fmt.MAGIC)
            f.write(b"\0\0\0")
            if _MPY:
                json.dump(header, f)
            else:
                f.write(json.dumps(header).encode())
            n = f.tell() - m - 3
            f.seek(m)
            f.write(struct.pack("<BH", fmt.TAG_HEADER, n))
        try:
            if n > fmt.HEADER_MAX:
                raise ValueError("run header: %d bytes, at most %d" % (n, fmt.HEADER_MAX))
            need = self.bytes_needed(n + 5, planned_s, interval_ms)
            free, bsize = self.free_blocks()
            blocks = self._blocks_for(need, bsize)
            held = (m + n + 3 + bsize - 1) // bsize     # the header's blocks, taken by the temporary file
            free += held
            if not self.make_room(blocks - held):
                raise LogError("log space: the run needs %d KB, %d KB free; fetch and acknowledge old runs"
                               % ((blocks * bsize) // 1024, (max(free - _RESERVE_BLOCKS, 0) * bsize) // 1024))
        except Exception:
            os.remove(tmp)
            raise
        with open(self.dir + "/next", "w") as f:
            f.write(str(run_id + 1))
        self.run_id = run_id
        self.path = self.dir + "/" + fmt.run_file(run_id)
        self.failed = None
        self.interval_ms = interval_ms
        self.next_sample_ms = 0
        self._reset_chain()
        h = hashlib.sha256(self._prev)
        h.update(fmt.MAGIC)
        crc = 0xFFFF
        mv = self._jmv              # the journal's buffer: no journal is open yet
        with open(tmp, "rb") as f:
            f.seek(m)
            left = n + 3
            while left:
                k = f.readinto(mv[:min(left, len(mv))])
                if not k:
                    break
                h.update(mv[:k])
                crc = fmt.crc16(mv, k, crc)
                left -= k
        tail = struct.pack("<H", crc)
        h.update(tail)
        self._prev = h.digest()
        dig = fmt.pack_digest(0, 1, self._prev)
        with open(tmp, "ab") as f:
            f.write(tail)
            f.write(dig)
        os.rename(tmp, self.path)
        self.syncs += 2
        self._block = 1
        self.records = 2
        self.bytes = m + n + 5 + len(dig)
        self._hash = hashlib.sha256(self._prev)
        self.f = open(self.path, "ab")
        self._open_journal(self.bytes)
        return run_id

    # Small records go to the journal, a file small enough that littlefs keeps
    # it inside its directory's metadata: each sync is a short metadata commit
    # instead of a copy of the run file's last 4 KB block into a freshly erased
    # one. The journal has a directory of its own, so a commit's cost does not
    # grow with the number of runs kept. Every ~25 samples the journal is
    # appended to the run file in one sync and emptied; a cut in between leaves
    # the records in both places. The journal's head holds the run file's size
    # when it was begun (so the boot scan knows whether the move happened) and
    # the length of its records. The file is opened once per run and rewritten
    # in place: a littlefs sync commits head and records together, and no
    # open() (a ~1 KB allocation) falls in the middle of a run.
    def _open_journal(self, base):
        self._jpath = self.jdir + "/" + fmt.run_file(self.run_id)[:-4] + ".jnl"
        self._j = open(self._jpath, "w+b")
        self._set_head(base, 0)

    def _set_head(self, base, n):
        j = self._j
        struct.pack_into("<IH", self._jhead, 0, base, n)
        j.seek(0)
        j.write(self._jhead)
        j.flush()
        self._jn = n

    def _move(self):
        if self._jn:
            f = self.f
            if _MPY:
                f.write(self._jbuf, self._jn)   # MicroPython's write(buf, n): no slice object
            else:
                f.write(self._jmv[:self._jn])
            f.flush()
            self._set_head(self.bytes, 0)   # emptied, with the new base, in one commit
            self.syncs += 2

    def _write(self, data, count=True, hashed=True):
        n = len(data)
        if self._jn + n > fmt.JOURNAL_RECORDS:
            self._move()
        j = self._j
        jn = self._jn
        j.seek(fmt.JOURNAL_HEAD + jn)
        j.write(data)
        struct.pack_into("<IH", self._jhead, 0, self.bytes - jn, jn + n)
        j.seek(0)
        j.write(self._jhead)
        j.flush()                   # littlefs sync: records and head committed or not at all
        self._jbuf[jn:jn + n] = data
        self._jn = jn + n
        self.syncs += 1
        self.bytes += n
        if count:
            self.records += 1
        if hashed:
            self._hash.update(data)

    def _append(self, rec):
        if self.f is None or self.failed:
            return False
        try:
            self._write(rec)
            self._in_block += 1
            if self._in_block >= fmt.BLOCK_RECORDS:
                self._digest()
            return True
        except (OSError, MemoryError) as ex:
            self._fail("storage error %r" % ex)
            return False

    def _digest(self):
        d = self._hash.digest()
        self._write(fmt.pack_digest(self._block, self._in_block, d), True, False)
        self._prev = d
        self._block += 1
        self._in_block = 0
        self._hash = hashlib.sha256(d)
        self._check_space()

    def _check_space(self):
        # Once per block (minutes apart): statvfs walks the filesystem.
        free, _ = self.free_blocks()
        if free >= _LOW_BLOCKS:
            return
        if self._delete_oldest_acked() is not None:
            return
        if self.interval_ms < _MAX_INTERVAL_MS:
            self.interval_ms = min(self.interval_ms * 4, _MAX_INTERVAL_MS)
            self.pending_note = "flash low: sampling every %d s" % (self.interval_ms // 1000)
        elif free <= _RESERVE_BLOCKS // 2:
            self.pending_note = "flash full: samples stopped"
            self.failed = "flash full"

    def _fail(self, why):
        self.failed = why
        self._close_files()

    def _close_files(self):
        # The journal file stays until the boot scan merges it, if it must.
        for f in (self._j, self.f):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._j = None
        self.f = None

    def _time(self, run_ms):
        # Record time never goes back (e.g. an event noted while a reopened,
        # interrupted run waits, with the run clock at 0 again).
        if run_ms < self.last_t_ms:
            return self.last_t_ms
        self.last_t_ms = run_ms
        return run_ms

    def sample(self, run_ms, step, chamber_c, sample_c, sp_chamber_c, sp_sample_c,
               ln2_duty, heater_duty, flags):
        """Write a sample if one is due at run_ms; True if written."""
        if run_ms < self.next_sample_ms or self.f is None or self.failed:
            return False
        self.next_sample_ms = run_ms - run_ms % self.interval_ms + self.interval_ms
        fmt.pack_sample_into(self._sbuf, step, self._time(run_ms), chamber_c, sample_c, sp_chamber_c,
                             sp_sample_c, ln2_duty, heater_duty, flags)
        return self._append(self._sbuf)

    def event(self, run_ms, rtc_s, name, who, detail):
        if self.f is None:
            return False
        rec = fmt.pack_event(self._time(run_ms), rtc_s, fmt.event_code(name), who, str(detail))
        if self.failed == "flash full":
            # Samples stopped, events still go in while littlefs has room.
            try:
                self._write(rec)
                self._in_block += 1
                return True
            except (OSError, MemoryError) as ex:
                self._fail("storage error %r" % ex)
                return False
        return self._append(rec)

    def seal(self, run_ms, rtc_s, status):
        """Close the run: digest the open block, then the seal. True if sealed."""
        if self.f is None:
            return False
        try:
            if self._in_block:
                self._digest()
            self._write(fmt.pack_seal(self._time(run_ms), rtc_s, status, self.records, self._prev),
                        False, False)
            self._move()
            self._close_files()
            os.remove(self._jpath)
            ok = True
        except (OSError, MemoryError) as ex:
            self._fail("storage error %r" % ex)
            ok = False
        self.interrupted = None
        return ok

    # -- boot: find a run cut off by a restart ------------------------------
    def recover(self, now_rtc_s):
        """Scan the log area; reopen a run left unsealed by a restart and
        return the facts about it (also kept in self.interrupted), or None."""
        try:
            return self._recover(now_rtc_s)
        finally:
            lazy.drop(_READER)          # the scanner is needed at boot only

    def _recover(self, now_rtc_s):
        reader = lazy.load(_READER)
        newest = None
        for name in os.listdir(self.jdir):
            self._merge_journal(name)
        for name in os.listdir(self.dir):
            path = self.dir + "/" + name
            if name.endswith(".tmp"):
                os.remove(path)          # a cut-back copy interrupted by a restart
                continue
            p = fmt.parse_run_file(name)
            if p is None:
                if name not in ("next", "j"):
                    self.problems.append((name, "foreign file in the log area, left alone"))
                continue
            if p[1]:
                continue
            with open(path, "rb") as f:
                sealed = reader.tail_sealed(f, _size(path))
            if not sealed and (newest is None or p[0] > newest):
                newest = p[0]
        if newest is None:
            return None
        try:
            return self._reopen(newest, now_rtc_s)
        except (OSError, ValueError) as ex:
            self.problems.append((fmt.run_file(newest), "could not be scanned: %s" % ex))
            return None

    def _merge_journal(self, name):
        # Records synced to the journal belong at the end of the run file,
        # unless the move that put them there completed before the cut.
        jpath = self.jdir + "/" + name
        main = self.dir + "/" + name[:-4] + ".run"
        n = _size(jpath)
        if not name.endswith(".jnl") or n > fmt.JOURNAL_MAX or not exists(main):
            self.problems.append(("j/" + name, "journal without a run file or too long, left alone"))
            return
        base, data = read_journal(jpath)
        size = _size(main)
        if base is not None:
            records = len(data)
            if size == base:
                if records:
                    with open(main, "ab") as f:
                        f.write(data)
                        f.flush()
            elif size != base + records:
                self.problems.append(("j/" + name, "journal begins at %d, run file is %d bytes: left alone"
                                      % (base, size)))
                return
        # shorter than its base: cut while the journal was being created, empty
        os.remove(jpath)

    def _reopen(self, run_id, now_rtc_s):
        reader = lazy.load(_READER)
        name = fmt.run_file(run_id)
        path = self.dir + "/" + name
        facts = {"run": run_id, "file": name, "step": -1, "step_since_ms": 0, "state": None,
                 "last_t_ms": 0, "last_rtc_s": None, "start_rtc_s": None, "profile": None,
                 "batch": None, "outage_s": None, "log": "reopened"}

        def visit(off, index, tag, rec):
            if tag == fmt.TAG_SAMPLE:
                v = fmt.unpack_sample(rec)
                facts["step"] = v[0]
                facts["last_t_ms"] = v[1]
                facts["state"] = fmt.STATE_CODES[v[8] & 7] if v[8] & 7 < 5 else None
                facts["chamber_c"] = v[2]
                facts["sample_c"] = v[3]
            elif tag == fmt.TAG_EVENT:
                t_ms, rtc_s, ev, who, detail = fmt.unpack_event(rec)
                facts["last_t_ms"] = t_ms
                if rtc_s:
                    facts["last_rtc_s"] = rtc_s
                if ev == "nucleation":
                    facts["nucleated"] = True
                elif ev == "step":
                    facts["step"] = int(detail.split(" ")[0]) - 1   # events count from 1
                    facts["step_since_ms"] = t_ms
                elif ev in ("hold", "continue", "end", "start"):
                    facts["state"] = {"hold": "held", "continue": "running", "end": "end",
                                      "start": "running"}[ev]

        size = _size(path)
        with open(path, "rb") as f:
            s = reader.scan(f, size, visit, self._scan_buf(f))
        if s.header is not None:
            h = json.loads(s.header)
            facts["profile"] = h.get("profile_name")
            facts["kind"] = h.get("kind", "run")     # "tune": an autotune's record
            facts["batch"] = h.get("batch")
            facts["start_rtc_s"] = h.get("start_rtc_s")
            facts["profile_sha256"] = h.get("profile_sha256")
            if facts["last_rtc_s"] is None and facts["start_rtc_s"]:
                facts["last_rtc_s"] = facts["start_rtc_s"]
            if facts["start_rtc_s"]:
                # samples carry run time only: the last one dates the cut best
                est = facts["start_rtc_s"] + facts["last_t_ms"] // 1000
                if est > facts["last_rtc_s"]:
                    facts["last_rtc_s"] = est
        if facts["last_rtc_s"] and now_rtc_s:
            facts["outage_s"] = max(0, now_rtc_s - facts["last_rtc_s"])
        kinds = [p[2] for p in s.problems]
        if s.header is None or any(k != reader.TORN for k in kinds):
            what = "; ".join(p[3] for p in s.problems[:3]) or "no header"
            self.problems.append((name, "interrupted run's record is damaged, left alone: " + what))
            facts["log"] = "damaged"
            self.interrupted = facts
            return facts
        cut = 0
        if kinds:
            cut = size - s.good_end
            self._cut_back(path, s.good_end)
            facts["log"] = "torn tail cut"
        # Continue the chain where the file ends.
        self.run_id = run_id
        self.path = path
        self._prev = s.prev
        self._hash = s.hasher
        self._block = s.blocks
        self._in_block = s.in_block
        self.records = s.records
        self.last_t_ms = s.last_t_ms
        self.bytes = s.good_end
        self.failed = None
        self.interval_ms = h.get("interval_ms", self.interval_ms)     # a damaged header returned above
        self.next_sample_ms = 0
        self.f = open(path, "ab")
        self._open_journal(self.bytes)
        t = facts["last_t_ms"]
        if cut:
            self.event(t, now_rtc_s, "log_tear", "controller", "cut %d bytes at offset %d" % (cut, s.good_end))
        self.event(t, now_rtc_s, "power_restored", "controller",
                   "outage_s=%s step=%d" % (facts["outage_s"] if facts["outage_s"] is not None else "?",
                                            facts["step"]))
        self.interrupted = facts
        return facts

    def _scan_buf(self, f):
        # A buffer for the boot scan as large as this run's header needs, not
        # MAX_RECORD: a fragmented heap (128 KiW) may have no 8 KB in one piece.
        m = len(fmt.MAGIC)
        hb = bytearray(m + 3)
        got = f.readinto(hb)
        f.seek(0)
        if got == m + 3 and hb[m] == fmt.TAG_HEADER:
            n = (hb[m + 1] | (hb[m + 2] << 8)) + 5
            if n <= fmt.MAX_RECORD:
                return bytearray(n if n > 1024 else 1024)
        return None

    def _cut_back(self, path, good_end):
        # littlefs has no truncate here: copy the good prefix, then rename over
        # (atomic), so a cut during this leaves the original in place.
        tmp = path[:-4] + ".tmp"
        copy_file(path, tmp, good_end)
        os.rename(tmp, path)
