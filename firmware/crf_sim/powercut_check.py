# The power-cut test, part 2 of 3 (run by crf_sim/powercut.py): what is
# checked on the flash after each reboot.
import os
import builtins
import binascii
from crf.record import format as fmt
from crf.record import reader
from crf.record import runlog
from crf_sim.powercut_flash import Expect, RUNS

_DIAG_EACH = 3                # diagnostic lines printed per kind of problem
_KINDS_MAX = 24               # kinds of problems told apart
_REPORTED_MAX = 512           # standing problems remembered (not counted twice)

# What a standing problem is about, for counting it once: small ints, as
# these stay on a heap that must not fill with little objects.
K_RUN, K_FILE, K_DUP, K_ACKNAME, K_UNACK, K_BACK, K_UNKNOWN, K_EXTRA, K_SEAL, \
    K_UNSEALED, K_CLOSED, K_STORAGE, K_DUE, K_REFUSED = range(1, 15)




def _key(kind, n):
    return (n << 4) | kind


_LOGGED = (fmt.TAG_HEADER, fmt.TAG_SAMPLE, fmt.TAG_EVENT)   # what Expect counts
_RECOVERY_EVENTS = ("log_tear", "power_restored")
_EXTRA_MAX = 16               # records kept past the acknowledged ones


def _show(rec):
    """A record in a few characters, for diagnostics."""
    tag = rec[0]
    if tag == fmt.TAG_EVENT:
        t, _, name, who, detail = fmt.unpack_event(rec)
        return "E(%d ms %s/%s %r)" % (t, name, who, detail[:12])
    if tag == fmt.TAG_SAMPLE:
        return "S(%d ms)" % fmt.unpack_sample(rec)[1]
    return "%s(%d bytes)" % (chr(tag), len(rec))


class _Joined:
    """A run file followed by the bytes of its journal, read as one file:
    the open run as the log holds it (reader.scan needs seek and readinto)."""

    def __init__(self, f, size, tail):
        self.f = f
        self.size = size
        self.tail = tail
        self.pos = 0

    def seek(self, off):
        self.pos = off

    def readinto(self, mv):
        p = self.pos
        if p < self.size:
            self.f.seek(p)
            n = self.f.readinto(mv[:min(len(mv), self.size - p)])
        else:
            t = self.tail
            n = max(0, min(len(mv), len(t) - (p - self.size)))
            mv[:n] = t[p - self.size:p - self.size + n]
        self.pos = p + n
        return n


class Checks:
    """Mixed into the Harness (crf_sim/powercut_run.py): the checks and the
    figures they keep."""

    # -- reporting ----------------------------------------------------------
    def diag(self, text):
        # The kind: the text up to the first ";", with a "#" for each number.
        kind = ""
        for ch in text.split(";")[0][:110]:
            if "0" <= ch <= "9":
                if kind.endswith("#"):
                    continue
                ch = "#"
            kind += ch
        kinds = self.kinds
        if kind not in kinds and len(kinds) >= _KINDS_MAX:
            kind = "(other)"
        n = kinds.get(kind, 0) + 1
        kinds[kind] = n
        if n <= _DIAG_EACH:
            print("  cut %d (%s): %s" % (self.cuts, self.phase, text))
        elif n == _DIAG_EACH + 1:
            print("  ... more of: %s" % kind)

    def bad(self, text, key=None):
        # key: a standing problem is counted once, not on every boot that sees it
        if key is not None:
            if key in self.reported:
                return
            if len(self.reported) < _REPORTED_MAX:
                self.reported.add(key)
        self.corrupt += 1
        self.diag("CORRUPT " + text)

    def lose(self, n, text):
        self.lost += n
        self.diag("LOST %d record(s): %s" % (n, text))

    def was_deleted(self, rid):
        # the last few deleted runs, in a ring (the heap is small)
        self.runs_deleted += 1
        self.deleted[self.runs_deleted % len(self.deleted)] = rid

    # -- reading the flash ---------------------------------------------------
    def crc_of(self, path, n):
        crc = 0
        mv = memoryview(self._rbuf)
        with builtins.open(path, "rb") as f:
            left = n
            while left:
                k = f.readinto(mv[:min(len(mv), left)])
                if not k:
                    break
                crc = binascii.crc32(mv[:k], crc)
                left -= k
        return crc

    def present(self):
        """{run_id: (file name, acked)} of the run files. Other names are the
        writer's own (journals, counters); recover() reports foreign ones."""
        out = {}
        for name in os.listdir(RUNS):
            p = fmt.parse_run_file(name)
            if p is not None:
                if p[0] in out:
                    self.bad("run %d has both a .run and an .ack file" % p[0], _key(K_DUP, p[0]))
                out[p[0]] = (name, p[1])
        return out

    def scan_run(self, rid, path, n, back=0):
        """reader.scan of a run (with its journal if it is the log's open run).
        -> (Scan, size, logged records, CRC-32 of the first n of them, the
        logged records from the (n-back)th on as bytes (at most _EXTRA_MAX
        after the nth), CRC-32 of all of them)"""
        self.verify_scans += 1
        size = os.stat(path)[6]
        tail = b""
        log = self.log
        jpath = getattr(log, "_jpath", None)   # the writer's journal, if it keeps one
        if jpath and log.f is not None and log.run_id == rid:
            try:
                tail = runlog.read_journal(jpath)[1]
            except OSError:
                pass
        st = [0, 0, 0]             # logged records seen, CRC of the first n, of all
        extra = []

        def visit(off, index, tag, rec):
            if tag in _LOGGED:
                if st[0] < n:
                    st[1] = binascii.crc32(rec, st[1])
                    if st[0] >= n - back:
                        extra.append(bytes(rec))
                elif len(extra) < _EXTRA_MAX + back:
                    extra.append(bytes(rec))
                st[2] = binascii.crc32(rec, st[2])
                st[0] += 1

        with builtins.open(path, "rb") as f:
            s = reader.scan(_Joined(f, size, tail), size + len(tail), visit, self._sbuf)
        return s, size + len(tail), st[0], st[1], extra, st[2]

    def snapshot(self, rid, e, path):
        size = os.stat(path)[6]
        e.snap = (size, self.crc_of(path, size))

    def rebaseline(self, rid):
        """Take the run as it now is (after a reported problem), so it is not
        reported again on every boot."""
        path = self.log.file_of(rid) if self.log is not None else None
        if path is None:
            self.exp.pop(rid, None)
            return
        s, _, count, _, _, crc = self.scan_run(rid, path, 0)
        e = Expect()
        e.n = count
        e.crc = crc
        e.sealed = s.seal is not None
        e.status = s.seal[2] if s.seal else None
        e.host_acked = path.endswith(".ack")
        old = self.exp.get(rid)
        if old is not None:
            e.host_acked = e.host_acked or old.host_acked
        self.exp[rid] = e

    # -- checks ---------------------------------------------------------------
    def check_found(self, touched):
        """Straight after the remount, before the firmware's boot scan: the
        sealed runs are as they were; no run is gone that the host had not
        acknowledged; no run file appeared that nothing wrote (touched: the
        run the cut call was writing, maybe creating). Returns the runs to
        check in full after recovery."""
        exp = self.exp
        found = self.present()
        full = set(touched)
        for rid in sorted(exp):
            e = exp[rid]
            if rid not in found:
                if e.host_acked:
                    self.was_deleted(rid)
                else:
                    self.lose(e.n + (1 if e.sealed else 0),
                              "run %d is gone, the host never acknowledged it" % rid)
                del exp[rid]
                continue
            name, acked = found[rid]
            if acked and not e.host_acked:
                if rid == self.acking:
                    e.host_acked = True
                else:
                    self.bad("run %d was renamed to .ack without an ack" % rid,
                             _key(K_ACKNAME, rid))
            elif not acked and e.host_acked:
                self.bad("run %d lost its acknowledgement (.ack back to .run)" % rid,
                         _key(K_UNACK, rid))
            if not e.sealed or e.snap is None:
                full.add(rid)
            elif rid not in touched:
                path = RUNS + "/" + name
                size = os.stat(path)[6]
                if size != e.snap[0] or self.crc_of(path, size) != e.snap[1]:
                    self.diag("sealed run %d changed: %d bytes, was %d" % (rid, size, e.snap[0]))
                    full.add(rid)
        for rid in list(self.junk):
            if rid not in found:
                self.junk.discard(rid)
        for rid in found:
            if rid in exp or rid in touched or rid in self.junk:
                continue
            if rid in self.deleted:
                self.bad("deleted run %d is back" % rid, _key(K_BACK, rid))
            elif rid <= self.max_rid:
                self.bad("run file %s, once deleted, is back" % found[rid][0], _key(K_BACK, rid))
            else:
                self.bad("run file %s that nothing wrote" % found[rid][0], _key(K_UNKNOWN, rid))
        return full

    def check_recovered(self, facts, full, pend):
        """After recover(): what the boot scan found, and every run that was
        open, touched by the cut or changed, in full."""
        log = self.log
        for name, text in log.problems:
            p = fmt.parse_run_file(name)
            key = _key(K_RUN, p[0]) if p else _key(K_FILE, hash(name) & 0xFFFFF)
            self.bad("recover: %s: %s" % (name, text), key)
        if facts is not None:
            full.add(facts["run"])
            self.reopened += 1
            if facts.get("log") == "torn tail cut":
                self.torn_cut += 1
        if pend is not None and pend[0] is not None:
            full.add(pend[0])
        for rid in sorted(full):
            self.check_run(rid, facts, pend)
        # recover reopens the newest unsealed run, and only that one
        newest = None
        for rid in self.exp:
            e = self.exp[rid]
            if not e.sealed and not e.host_acked and (newest is None or rid > newest):
                newest = rid
        got = facts["run"] if facts is not None else None
        if got != newest and not (got in self.junk and (newest is None or got > newest)):
            self.bad("recover reopened run %s, the newest unsealed run is %s" % (got, newest))
        if facts is not None and log.f is not None and log.run_id != facts["run"]:
            self.bad("recover's facts name run %d, the log continues run %s"
                     % (facts["run"], log.run_id))

    def check_run(self, rid, facts, pend):
        """One run in full: it verifies; the records acknowledged are there,
        byte for byte; past them only what the cut call was writing and the
        recovery's own events; sealed as acknowledged, or reopened."""
        log = self.log
        path = log.file_of(rid)
        e = self.exp.get(rid)
        if path is None:
            if e is not None:
                if e.host_acked:
                    self.was_deleted(rid)
                else:
                    self.lose(e.n, "run %d vanished during recovery" % rid)
                del self.exp[rid]
            return                  # a run whose file never got committed
        if e is None and rid in self.junk:
            return
        n = e.n if e is not None else 0
        back = len(e.last) if e is not None else 0
        s, size, count, crc, extra, crc_all = self.scan_run(rid, path, n, back)
        near = extra[:back]        # the last records acknowledged, as found
        extra = extra[back:]
        name = path.rsplit("/", 1)[1]
        if s.problems or s.header is None:
            what = "; ".join("@%d %s: %s" % (p[0], p[2], p[3]) for p in s.problems[:3])
            self.bad("%s (%d bytes) after recovery: %s" % (name, size, what or "no header"),
                     _key(K_RUN, rid))
            if s.header is None and e is None:
                self.junk.add(rid)
            else:
                self.rebaseline(rid)
            return
        if count < n or crc != (e.crc if e is not None else 0):
            self.lose(max(1, n - count), "%s: %d records acknowledged, %d there%s%s" % (
                name, n, count, "" if count < n else ", but not the ones written",
                self.which(e, near, extra)))
            self.rebaseline(rid)
            return
        # Past the acknowledged records: a prefix of those the cut call was
        # writing, then only the recoveries' own events.
        i = 0
        if pend is not None and pend[0] == rid:
            recs = pend[1]
            while i < len(extra) and i < len(recs) and extra[i] == recs[i]:
                i += 1
        for rec in extra[i:]:
            if rec[0] != fmt.TAG_EVENT or fmt.unpack_event(rec)[2] not in _RECOVERY_EVENTS:
                self.bad("%s: a record past the acknowledged ones that nobody wrote: %r"
                         % (name, bytes(rec[:24])), _key(K_EXTRA, rid))
                break
        if count - n > len(extra):
            self.bad("%s: %d records past the acknowledged ones" % (name, count - n),
                     _key(K_EXTRA, rid))
        seal_pending = pend is not None and pend[0] == rid and pend[2]
        if s.seal is not None:
            if e is not None and e.sealed:
                if s.seal[2] != e.status:
                    self.bad("%s: sealed %s, acknowledged as %s" % (
                        name, fmt.SEAL_STATUS[s.seal[2]], fmt.SEAL_STATUS[e.status]))
            elif not seal_pending:
                self.bad("%s has a seal nobody wrote" % name, _key(K_SEAL, rid))
            if facts is not None and facts["run"] == rid:
                self.bad("sealed %s was reopened" % name)
        else:
            if e is not None and e.sealed:
                self.lose(1, "%s: the seal is gone" % name)
            if facts is None or facts["run"] != rid or log.f is None or log.run_id != rid:
                self.bad("%s is unsealed but was not reopened" % name, _key(K_UNSEALED, rid))
            elif not extra or extra[-1][0] != fmt.TAG_EVENT \
                    or fmt.unpack_event(extra[-1])[2] != "power_restored":
                self.bad("%s: reopened without a power_restored event at its end" % name)
        # What recovery added is written now.
        ne = Expect()
        ne.n = count
        ne.crc = crc_all
        ne.sealed = s.seal is not None
        ne.status = s.seal[2] if s.seal else None
        ne.host_acked = name.endswith(".ack") or (e is not None and e.host_acked)
        if ne.sealed:
            self.snapshot(rid, ne, path)
        self.exp[rid] = ne

    def which(self, e, near, extra):
        """Which of the last acknowledged records is not where it belongs."""
        last = e.last if e is not None else []
        found = near + extra
        for i in range(len(last)):
            if i >= len(found) or found[i] != last[i]:
                return "; the last %d acknowledged: %s; found there: %s" % (
                    len(last), " ".join(_show(r) for r in last),
                    " ".join(_show(r) for r in found[:len(last) + 1]))
        return "; (the difference is further back)"

    def verify_closed(self, rid):
        """A run just sealed: verify it in full once, then watch its bytes."""
        e = self.exp.get(rid)
        path = self.log.file_of(rid)
        if e is None or path is None:
            return
        s, size, count, crc, _, _ = self.scan_run(rid, path, e.n)
        if s.problems or s.header is None or s.seal is None or count != e.n or crc != e.crc \
                or s.seal[2] != e.status:
            self.bad("run %d (%d bytes) sealed: %s; %d of %d records, seal %s" % (
                rid, size, s.problems[:3], count, e.n, s.seal), _key(K_CLOSED, rid))
            return
        self.snapshot(rid, e, path)
