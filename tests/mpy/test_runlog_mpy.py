# The run log on MicroPython's littlefs (unix port: a file-backed littlefs
# image, as in the virtual freezer) and on CPython (a temp dir whose capacity
# is enforced by a quota, so the space rules are exercised on both).
import os
import sys
from crf.record import format as fmt
from crf.record import reader
from crf.record.runlog import RunLog, LogError

_MPY = sys.implementation.name == "micropython"
_BLOCK = 4096
_n = [0]
_RUN = __import__("time").time_ns() % 1000000007  # checkouts on one machine may run at once
PROFILE = '{"format": 1, "name": "hpc_bag", "steps": [' + ", ".join(
    ['{"kind": "ramp", "rate_c_per_min": -1.0, "to_c": -%d}' % i for i in range(12)]) + "]}"


class _QuotaLog(RunLog):
    # CPython: a directory has no capacity of its own; count 4 KB blocks.
    blocks = 64

    def free_blocks(self):
        used = 2
        for name in os.listdir(self.dir):
            used += (os.stat(self.dir + "/" + name)[6] + _BLOCK - 1) // _BLOCK
        return self.blocks - used, _BLOCK


def _root(blocks=64):
    """A fresh, empty storage root of `blocks` 4 KB blocks."""
    _n[0] += 1
    if _MPY:
        import vfs
        from crf_sim.flashdev import FileBlockDevice
        img = "/tmp/crf-test-runlog-%d-%d.img" % (_RUN, _n[0])  # unique per process
        try:
            os.remove(img)
        except OSError:
            pass
        if _n[0] > 1:                 # one mounted image at a time: heap is tight
            try:
                vfs.umount("/rl%d" % (_n[0] - 1))
            except OSError:
                pass
        mp = "/rl%d" % _n[0]
        dev = FileBlockDevice(img, blocks)
        vfs.VfsLfs2.mkfs(dev, progsize=256)
        vfs.mount(vfs.VfsLfs2(dev, progsize=256), mp)
        return mp
    import tempfile
    return tempfile.mkdtemp(prefix="crf-runlog-")


def _log(root, blocks=64):
    if _MPY:
        return RunLog(root)
    log = _QuotaLog(root)
    log.blocks = blocks
    return log


def _power_off(log):
    # Drop the writer as a power cut would: files closed, nothing more written.
    log._close_files()


def _header():
    return {"serial": "test", "profile_name": "hpc_bag", "profile_text": PROFILE, "batch": "B1",
            "operator": "alice", "config": {"chamber_kp": 150.0}, "start_rtc_s": 1798761600}


def _scan(log, run_id, keep_samples=True):
    path = log.file_of(run_id)
    events = []
    samples = []
    n_samples = [0]

    def visit(off, i, tag, rec):
        if tag == fmt.TAG_EVENT:
            events.append(fmt.unpack_event(rec))
        elif tag == fmt.TAG_SAMPLE:
            if keep_samples:
                samples.append(fmt.unpack_sample(rec))
            else:
                n_samples[0] += 1

    with open(path, "rb") as f:
        s = reader.scan(f, os.stat(path)[6], visit)
    return s, samples if keep_samples else n_samples[0], events


def _run(log, seconds, interval_ms=5000, step_every_s=600, start_ms=0):
    t = start_ms
    while t <= start_ms + seconds * 1000:
        if t % (step_every_s * 1000) == 0:
            log.event(t, 1798761600 + t // 1000, "step", "controller", "%d ramp" % (t // (step_every_s * 1000) + 1))
        log.sample(t, t // (step_every_s * 1000), 4.0 - t / 60000.0, 4.5 - t / 60000.0, -t / 60000.0,
                   None, 0.31, 0.0, 1)
        t += 1000
    return t


def test_run_record_verifies_and_round_trips():
    root = _root()
    log = _log(root)
    run_id = log.open_run(_header(), 3600, 5000)
    assert run_id == 1
    log.event(0, 1798761600, "start", "alice", "hpc_bag")
    end = _run(log, 900)
    assert log.seal(end, 1798762500, fmt.SEAL_COMPLETED)
    s, samples, events = _scan(log, 1)
    assert s.problems == [], s.problems
    assert s.seal[2] == fmt.SEAL_COMPLETED and s.seal[3] == s.records - 1   # all but itself
    assert len(samples) == 181            # every 5 s over 900 s, both ends included
    step, t_ms, ch, sa, spc, sps, ln2, heat, flags = samples[10]
    assert t_ms == 50000 and abs(ch - (4.0 - 50 / 60.0)) < 0.006 and sps is None
    assert abs(ln2 - 0.31) <= 0.5 / 250 + 1e-9 and flags == 1
    assert [e[2] for e in events[:3]] == ["start", "step", "step"]
    assert events[0][3] == "alice"
    assert s.blocks >= 4                  # the chain covers the samples in blocks


def test_one_second_interval():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 600, 1000)
    _run(log, 60)
    log.seal(60000, None, fmt.SEAL_STOPPED)
    s, samples, _ = _scan(log, 1)
    assert not s.problems and len(samples) == 61


def test_interrupted_run_is_reopened_with_the_facts():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 3600, 5000)
    log.event(0, 1798761600, "start", "alice", "hpc_bag")
    _run(log, 1500)               # steps 0, 1, 2 (the last at 1200 s)
    log.event(1500000, 1798763100, "hold", "bob", "2")
    _power_off(log)               # no seal; the last records still sit in the journal
    log2 = _log(root)
    facts = log2.recover(1798761600 + 1500 + 420)
    assert facts["run"] == 1 and facts["step"] == 2 and facts["step_since_ms"] == 1200000
    assert facts["state"] == "held"
    assert facts["outage_s"] == 420 and facts["batch"] == "B1" and facts["log"] == "reopened"
    # The record goes on in the same file: the power-restored event, then the seal.
    log2.seal(1500000, 1798763520, fmt.SEAL_INTERRUPTED)
    s, samples, events = _scan(log2, 1)
    assert s.problems == [], s.problems
    assert events[-1][2] == "power_restored" and "outage_s=420" in events[-1][4]
    assert s.seal[2] == fmt.SEAL_INTERRUPTED


def test_journal_writes_and_moves_allocate_nothing():
    # The journal is rewritten in place: opening a file mid-run needs ~1 KB of
    # contiguous heap, which a fragmented 128 KiW heap did not always have
    # (a 4-hour run stopped recording at the 12th move).
    if not _MPY:
        return
    import micropython
    root = _root()
    log = _log(root)
    run_id = log.open_run(_header(), 3600, 5000)
    fmt.pack_sample_into(log._sbuf, 1, 5000, -20.0, -10.0, -20.0, None, 0.5, 0.0, 1)
    before = os.stat(log.file_of(run_id))[6]
    n = fmt.BLOCK_RECORDS - log._in_block - 1      # no digest: its hash allocates
    micropython.heap_lock()
    try:
        for _ in range(n):
            assert log._append(log._sbuf)
    finally:
        micropython.heap_unlock()
    assert log.failed is None
    assert os.stat(log.file_of(run_id))[6] > before      # at least one move happened
    assert log.seal(n * 5000, None, fmt.SEAL_STOPPED)
    s, samples, _ = _scan(log, run_id)
    assert s.problems == [] and len(samples) == n


def test_cut_between_journal_move_and_its_emptying_duplicates_nothing():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 3600, 5000)
    _run(log, 60)
    assert log._jn > 0
    log.f.write(log._jmv[:log._jn])      # the move reached the run file ...
    log.f.flush()
    _power_off(log)                      # ... the journal was not emptied yet
    log2 = _log(root)
    log2.recover(1798762000)
    log2.seal(60000, None, fmt.SEAL_INTERRUPTED)
    s, samples, _ = _scan(log2, 1)
    assert s.problems == [], s.problems
    assert len(samples) == 13 and [x[1] for x in samples] == list(range(0, 65000, 5000))


def test_sealed_runs_are_not_reopened():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 600, 5000)
    _run(log, 60)
    log.seal(60000, None, fmt.SEAL_COMPLETED)
    assert _log(root).recover(1798770000) is None


def test_torn_tail_is_cut_back_and_recorded():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 3600, 5000)
    _run(log, 300)
    path = log.file_of(1)
    good = log.bytes
    log._move()                   # journal into the run file, then the power goes
    _power_off(log)
    with open(path, "ab") as f:        # half a sample record: an append cut short
        f.write(b"S\x02\x10\x27\x00")
    log2 = _log(root)
    facts = log2.recover(1798762000)
    assert facts["log"] == "torn tail cut"
    log2.seal(300000, 1798762000, fmt.SEAL_INTERRUPTED)
    s, _, events = _scan(log2, 1)
    assert s.problems == [], s.problems
    assert [e[2] for e in events[-2:]] == ["log_tear", "power_restored"]
    assert "cut 5 bytes at offset %d" % good in events[-2][4]


def test_damage_inside_is_left_alone_and_a_new_run_still_records():
    root = _root()
    log = _log(root)
    log.open_run(_header(), 3600, 5000)
    _run(log, 600)
    path = log.file_of(1)
    log._move()
    _power_off(log)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x40
    with open(path, "wb") as f:
        f.write(data)
    log2 = _log(root)
    facts = log2.recover(1798763000)
    assert facts["log"] == "damaged" and log2.f is None
    assert "damaged" in log2.problems[0][1]
    with open(path, "rb") as f:
        assert f.read() == data        # the evidence is untouched
    assert log2.open_run(_header(), 600, 5000) == 2


def test_foreign_files_are_reported_and_never_block_a_run():
    root = _root()
    log = _log(root)
    with open(log.dir + "/notes.txt", "w") as f:
        f.write("hello")
    with open(log.dir + "/000007.run", "wb") as f:
        f.write(b"\x00garbage that is no run record" * 5)
    log2 = _log(root)
    log2.recover(1798763000)
    text = " ".join(p[0] + ": " + p[1] for p in log2.problems)
    assert "notes.txt" in text and "000007.run" in text
    assert log2.open_run(_header(), 600, 5000) == 8
    with open(log.dir + "/notes.txt") as f:
        assert f.read() == "hello"


def test_refuses_a_run_it_cannot_record_and_deletes_only_acknowledged_runs():
    root = _root(44)
    log = _log(root, 44)
    # Fill most of the flash with three short runs.
    for i in range(3):
        log.open_run(_header(), 600, 1000)
        _run(log, 1300, interval_ms=1000)
        log.seal(1300000, None, fmt.SEAL_COMPLETED)
    assert [r[0] for r in log.runs()] == [1, 2, 3]
    try:
        log.open_run(_header(), 4 * 3600, 5000)
        raise AssertionError("a run that does not fit was started")
    except LogError as ex:
        assert "log space" in str(ex) and "acknowledge" in str(ex)
    assert [r[0] for r in log.runs()] == [1, 2, 3]     # nothing unacknowledged deleted
    log.ack(1)
    log.ack(2)
    log.open_run(_header(), 4 * 3600, 5000)
    left = [(r[0], r[1]) for r in log.runs()]
    assert (3, False) in left and (4, False) in left and (1, True) not in left


def test_run_longer_than_planned_and_flash_filling_up():
    # An operator hold keeps a 10-minute plan going for hours on a small flash:
    # the log samples less often, then stops sampling, but never raises, never
    # loses what it wrote, and the record still verifies.
    root = _root(32)
    log = _log(root, 32)
    log.open_run(_header(), 600, 1000)
    t = 0
    notes = []
    while t < 8 * 3600 * 1000:
        log.sample(t, 1, -20.0, -19.0, -20.0, None, 0.2, 0.0, 2)
        if log.pending_note:
            notes.append(log.pending_note)
            log.event(t, None, "log_space", "controller", log.pending_note)
            log.pending_note = None
        t += 1000
    assert notes and "sampling every" in notes[0], notes
    log.seal(t, None, fmt.SEAL_STOPPED)
    s, samples, events = _scan(log, 1, keep_samples=False)
    assert s.problems == [] and s.seal is not None, s.problems
    assert samples > 1800                 # 30 min of 1 s samples: the 10-min plan far exceeded
    assert events and events[0][2] == "log_space"


def test_four_hour_run_fits_in_64_kb():
    root = _root(64)
    log = _log(root)
    free0 = log.free_blocks()[0]
    from crf import config
    hdr = _header()
    hdr["config"] = config.DEFAULTS      # the full controller configuration, as recorded
    log.open_run(hdr, 4 * 3600, 5000)
    for i in range(40):
        log.event(i * 360000, 1798761600, "note", "controller", "event %d with some detail text" % i)
    _run(log, 4 * 3600)
    log.seal(4 * 3600 * 1000, None, fmt.SEAL_COMPLETED)
    size = os.stat(log.file_of(1))[6]
    assert size <= 64 * 1024, size
    if _MPY:   # flash actually taken on littlefs
        used = (free0 - log.free_blocks()[0]) * _BLOCK
        assert used <= 64 * 1024 + 2 * _BLOCK, used


def _read_all(log, run_id, piece):
    # The record as the link's log_fetch serves it, in pieces of `piece` bytes.
    total = log.size(run_id)
    out = bytearray(total)
    buf = bytearray(piece)
    off = 0
    while off < total:
        n = log.read(run_id, off, piece, buf)
        assert n == min(piece, total - off), (off, n)
        out[off:off + n] = buf[:n]
        off += n
    assert log.read(run_id, total, piece, buf) == 0
    return bytes(out)


def _file_bytes(log, run_id):
    with open(log.file_of(run_id), "rb") as f:
        return f.read()


def test_open_run_reads_as_file_plus_journal_and_stays_a_prefix():
    root = _root()
    log = _log(root)
    run_id = log.open_run(_header(), 3600, 5000)
    log.event(0, 1798761600, "start", "alice", "hpc_bag")
    _run(log, 333)                    # the last records still sit in the journal
    assert log.is_open(run_id) and log._jn > 0
    assert log.size(run_id) == log.bytes > os.stat(log.file_of(run_id))[6]
    early = _read_all(log, run_id, 97)          # pieces across the file/journal seam
    assert _read_all(log, run_id, 2040) == early
    end = _run(log, 300, start_ms=334000)
    log.seal(end, None, fmt.SEAL_STOPPED)
    assert not log.is_open(run_id)
    final = _file_bytes(log, run_id)
    assert final[:len(early)] == early           # what was fetched while open stays true
    assert log.size(run_id) == len(final) and _read_all(log, run_id, 2040) == final
    try:
        log.read(99, 0, 10, bytearray(10))
    except LogError:
        pass
    else:
        raise AssertionError("reading a run that does not exist")
    assert log.size(99) is None
