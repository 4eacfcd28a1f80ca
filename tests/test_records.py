"""Run records on the host (crf_host.records, `crf logs`): an intact record
verifies and round-trips; damage and tampering are found and located.

The logs are written by the firmware's own RunLog on CPython in a temp dir.
Record boundaries come from the shared reader's visit callback.

What "detected" means here: the file alone is checked. The chain has no key,
so a file rewritten from the point of change (every CRC, digest and the seal
recomputed) verifies; test_rewritten_tail_verifies_limit shows that on
purpose. Only the seal digest pinned elsewhere (batch report, host) catches it.
"""

import functools
import hashlib
import io
import json
import os
import random
import struct
from collections import namedtuple

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crf.record import format as fmt
from crf.record import reader
from crf.record.runlog import RunLog
from crf_host.cli import crf
from crf_host.records import CSV_COLUMNS, NOT_SEALED, RunRecord, read_run

# CRF_RECORD_EXAMPLES=20000 for a long hunt; the default keeps the file fast.
SETTINGS = settings(max_examples=int(os.environ.get("CRF_RECORD_EXAMPLES", "300")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
START_RTC = 1798761600          # 2027-01-01T00:00:00Z
N_SAMPLES = 300
M = len(fmt.MAGIC)
STRUCTURE = {reader.CHAIN, reader.COUNT, reader.ORDER, reader.SEAL, reader.HEADER}

PROFILE_TEXT = json.dumps({
    "format": 1, "name": "hpc_bag", "description": "HPC bag, 50 ml, 10 % DMSO",
    "steps": [{"kind": "hold", "target_c": 4, "minutes": 3},
              {"kind": "ramp", "rate_c_per_min": -1, "target_c": -40},
              {"kind": "ramp", "rate_c_per_min": -10, "target_c": -90},
              {"kind": "end", "target_c": -90}]}, indent=1)

# run index -> events written before that sample: (name, who, detail, clock set)
PLAN = {
    0: [("start", "alice", "hpc_bag", True), ("step", "alice", "0 hold", True)],
    36: [("step", "controller", "1 ramp", True)],
    90: [("door_open", "controller", "", True), ("door_closed", "controller", "", False)],
    120: [("nucleation", "controller", "-12.40", True), ("compensation", "controller", "", True)],
    131: [("compensation_end", "controller", "", True)],
    180: [("alarm_raised", "controller", "chamber deviation 3.2 °C", True)],
    183: [("alarm_acked", "bob", "door checked — OK", True)],
    200: [("hold", "bob", "", True)],
    212: [("continue", "bob", "", True), ("step", "controller", "2 ramp", True)],
    N_SAMPLES - 1: [("end", "controller", "", True)],
}

Rec = namedtuple("Rec", "offset index tag size")


def write_run(root, n=N_SAMPLES, status=fmt.SEAL_COMPLETED, **header_changes):
    """A run written by the firmware's RunLog -> (bytes, samples in, events in)."""
    rng = random.Random(1)
    log = RunLog(str(root))
    header = {"serial": "CRF-0042", "model": "crf-1", "fw": "0.1.0", "board": "test",
              "profile_name": "hpc_bag", "profile_text": PROFILE_TEXT,
              "profile_sha256": hashlib.sha256(PROFILE_TEXT.encode()).hexdigest(),
              "batch": "B-2027-017", "product": "HPC bag 50 ml", "operator": "alice",
              "calibration": {"chamber": [0.02, 1.0001], "sample": [-0.01, 0.9998]},
              "config": {"log_interval_ms": 5000}, "start_rtc_s": START_RTC}
    header.update(header_changes)
    run_id = log.open_run(header, n * 5, 5000)
    samples, events = [], []
    t = 0
    for i in range(n):
        t = i * 5000 + rng.randrange(0, 400)
        for name, who, detail, clock in PLAN.get(i, ()):
            rtc = START_RTC + t // 1000 if clock else None
            assert log.event(t, rtc, name, who, detail)
            events.append((t, rtc, name, who, detail))
        held = 200 <= i < 212
        state = 3 if i == n - 1 else (2 if held else 1)
        flags = (state | (fmt.F_COMP if 120 <= i < 131 else 0)
                 | (fmt.F_SAMPLE_CTL if 120 <= i < 180 else 0)
                 | (fmt.F_ALARM if 180 <= i < 183 else 0)
                 | (fmt.F_CHAMBER_FAULT if i == 150 else 0)
                 | (fmt.F_SAMPLE_FAULT if 90 <= i < 93 else 0))
        chamber = 4.0 - 0.31 * i + rng.uniform(-0.5, 0.5)
        values = (-1 if i < 2 else min(i // 36, 5), t, chamber,
                  None if 90 <= i < 93 else chamber + rng.uniform(0, 6),
                  None if i < 2 else chamber + rng.uniform(-1, 1),
                  chamber + 2.5 if 120 <= i < 180 else None,
                  rng.random(), rng.random() * 0.3, flags)
        assert log.sample(t, values[0], *values[2:])
        samples.append(values)
    if status is not None:
        assert log.seal(t + 1000, START_RTC + t // 1000 + 1, status)
    with open(log.file_of(run_id), "rb") as f:
        return f.read(), samples, events


@functools.lru_cache(maxsize=None)
def intact():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return write_run(d)


def layout(data):
    recs = []
    s = reader.scan(io.BytesIO(data), len(data), lambda o, i, t, m: recs.append(Rec(o, i, t, len(m))))
    assert s.ok, s.problems
    return recs


@functools.lru_cache(maxsize=None)
def intact_layout():
    return tuple(layout(intact()[0]))


def containing(recs, pos):
    return next(r for r in recs if r.offset <= pos < r.offset + r.size)


def covering(recs, r):
    """The digest or seal after r that covers it (its block's witness)."""
    return next(w for w in recs[r.index + 1:] if w.tag in (fmt.TAG_DIGEST, fmt.TAG_SEAL))


def kinds_at(run, offset):
    return {p["kind"] for p in run.problems if p["offset"] == offset}


def first_diff(a, b):
    n = min(len(a), len(b))
    lo, hi = 0, n          # bisect on equal prefixes
    while lo < hi:
        mid = (lo + hi) // 2
        if a[:mid + 1] == b[:mid + 1]:
            lo = mid + 1
        else:
            hi = mid
    return lo


def assert_found_where_changed(mutated):
    """Damage starting at byte d is reported first, at the record holding d."""
    data = intact()[0]
    recs = intact_layout()
    run = read_run(mutated)
    assert not run.verified
    d = first_diff(data, mutated)
    first = run.problems[0]
    if d < M:
        assert [p["kind"] for p in run.problems] == [reader.FOREIGN]
    elif d >= len(data):   # bytes appended after the seal
        assert first["offset"] == len(data) and first["kind"] == reader.SEAL, run.problems
    else:
        r = containing(recs, d)
        assert first["offset"] >= r.offset, (d, r, run.problems)      # the intact prefix is not blamed
        # damage with nothing valid after it (up to MAX_RECORD bytes) reads as torn
        kinds = (reader.DAMAGED, reader.TORN)
        if (first["offset"], first["record"], first["kind"]) not in [(r.offset, r.index, k) for k in kinds]:
            # A change of more than 16 bits, or of a length byte, passes the 16-bit
            # CRC with odds 2**-16; the record then reads as valid and the
            # digest chain (or the header or seal check) must catch it instead.
            assert first["kind"] in STRUCTURE | {"profile"}, (d, r, run.problems)
    return run


# -- intact records --------------------------------------------------------

def test_intact_run_verifies_and_round_trips():
    data, samples, events = intact()
    run = read_run(data)
    assert run.problems == [] and run.verified
    h = run.header
    assert (h["run"], h["batch"], h["operator"], h["interval_ms"]) == (1, "B-2027-017", "alice", 5000)
    assert h["profile_text"] == PROFILE_TEXT and h["start_rtc_s"] == START_RTC
    assert len(run.samples) == len(samples) == N_SAMPLES
    for got, (step, t, ch, sa, spc, sps, ln2, heat, flags) in zip(run.samples, samples):
        assert got["t_s"] == t / 1000
        assert got["step"] == (None if step < 0 else step + 1)
        for key, want in (("chamber_c", ch), ("sample_c", sa), ("sp_chamber_c", spc), ("sp_sample_c", sps)):
            assert (got[key] is None) if want is None else abs(got[key] - want) <= 0.005 + 1e-9, key
        assert abs(got["ln2_duty"] - ln2) <= 0.5 / 250 + 1e-9
        assert abs(got["heater_duty"] - heat) <= 0.5 / 250 + 1e-9
        assert got["state"] == fmt.STATE_CODES[flags & 7]
        assert (got["comp"], got["sample_control"], got["alarm"], got["chamber_fault"],
                got["sample_fault"]) == tuple(bool(flags & b) for b in (
                    fmt.F_COMP, fmt.F_SAMPLE_CTL, fmt.F_ALARM, fmt.F_CHAMBER_FAULT, fmt.F_SAMPLE_FAULT))
    assert {s["state"] for s in run.samples} == {"running", "held", "end"}
    assert [(e["t_s"], e["event"], e["who"], e["detail"]) for e in run.events] == \
        [(t / 1000, name, who, detail) for t, _, name, who, detail in events]
    assert run.events[0]["rtc"] == "2027-01-01T00:00:00Z"
    assert sum(e["rtc"] is None for e in run.events) == 1      # door_closed: clock not set
    assert run.seal["status"] == "completed" and run.seal["records"] == run.records - 1
    assert run.blocks == len([r for r in intact_layout() if r.tag == fmt.TAG_DIGEST]) > 5
    text = run.summary()
    assert "Verified" in text and run.seal["digest"] in text and "B-2027-017" in text


@pytest.mark.parametrize("status", [fmt.SEAL_STOPPED, fmt.SEAL_INTERRUPTED])
def test_other_seal_statuses(tmp_path, status):
    run = read_run(write_run(tmp_path, n=60, status=status)[0])
    assert run.verified and run.seal["status"] == fmt.SEAL_STATUS[status]


def test_unsealed_run_is_a_problem_but_readable():
    data = intact()[0]
    cut = intact_layout()[-1].offset          # everything but the seal
    run = read_run(data[:cut])
    assert [(p["kind"], p["offset"], p["text"]) for p in run.problems] == [(reader.SEAL, cut, NOT_SEALED)]
    assert len(run.samples) == N_SAMPLES and run.seal is None and "NOT verified" in run.summary()


def test_interrupted_run_recovered_and_sealed_verifies(tmp_path):
    """Power cut (the writer is dropped unsealed), boot recovery continues the
    chain, the run is sealed interrupted: the record verifies."""
    write_run(tmp_path, n=70, status=None)
    log = RunLog(str(tmp_path))
    facts = log.recover(START_RTC + 3600)
    assert facts and facts["log"] == "reopened", (facts, log.problems)
    log.sample(400000, 1, -20.0, -18.0, -21.0, None, 0.5, 0.0, 1)
    assert log.seal(401000, START_RTC + 3601, fmt.SEAL_INTERRUPTED)
    run = read_run(tmp_path / "runs" / "000001.run")
    assert run.verified, run.problems
    assert run.seal["status"] == "interrupted" and len(run.samples) == 71
    assert run.events[-1]["event"] == "power_restored"


def test_profile_hash_mismatch(tmp_path):
    run = read_run(write_run(tmp_path, n=10, profile_sha256="00" * 32)[0])
    assert [p["kind"] for p in run.problems] == ["profile"]


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2]", "not a JSON object"),
    (b"[" * 8000, "not valid JSON"),
    (b"{}", "lacks the profile text"),
])
def test_bad_header_is_a_problem(body, says):
    run = read_run(fmt.MAGIC + fmt.pack_header(body))
    texts = [p["text"] for p in run.problems]
    assert any(says in t for t in texts), texts
    assert {p["kind"] for p in run.problems} == {"header" if "profile" not in says else "profile", "seal"}


def test_header_length_beyond_limit():
    run = read_run(fmt.MAGIC + b"H\xff\xff" + b"{}" * 100 + fmt.pack_digest(0, 1, bytes(32)))
    assert run.problems[0]["kind"] == reader.DAMAGED and "bad type or length" in run.problems[0]["text"]
    assert any(p["kind"] == reader.HEADER for p in run.problems)


# -- damage and tampering -----------------------------------------------------

@SETTINGS
@given(st.data())
def test_flip_any_byte(draw):
    data = intact()[0]
    pos = draw.draw(st.integers(0, len(data) - 1), "offset")
    mask = draw.draw(st.integers(1, 255), "xor mask")
    mutated = bytearray(data)
    mutated[pos] ^= mask
    assert_found_where_changed(bytes(mutated))


@SETTINGS
@given(st.data())
def test_overwrite_a_run_of_bytes(draw):
    data = intact()[0]
    pos = draw.draw(st.integers(0, len(data) - 1), "offset")
    new = draw.draw(st.binary(min_size=1, max_size=64), "bytes")
    mutated = data[:pos] + new + data[pos + len(new):]
    assume(mutated[:len(data)] != data)
    assert_found_where_changed(mutated)


@SETTINGS
@given(st.data())
def test_insert_garbage(draw):
    data = intact()[0]
    pos = draw.draw(st.integers(0, len(data)), "offset")
    garbage = draw.draw(st.binary(min_size=1, max_size=64), "garbage")
    assert_found_where_changed(data[:pos] + garbage + data[pos:])


@SETTINGS
@given(st.data())
def test_truncate_anywhere(draw):
    """A sealed record cut anywhere: torn (mid-record) and/or not sealed, never verified."""
    data = intact()[0]
    recs = intact_layout()
    t = draw.draw(st.integers(0, len(data) - 1), "length")
    run = read_run(data[:t])
    got = [(p["kind"], p["offset"]) for p in run.problems]
    if t < M:
        assert got == [(reader.FOREIGN, 0)]
        return
    want = [(reader.SEAL, t)]
    cut = [r for r in recs if r.offset < t < r.offset + r.size]
    if cut:
        want.insert(0, (reader.TORN, cut[0].offset))
    if t < recs[0].offset + recs[0].size:      # the header itself is gone
        want.insert(len(want) - 1, (reader.HEADER, M))
    assert got == want
    assert run.problems[-1]["text"] == NOT_SEALED


def test_delete_any_record():
    data = intact()[0]
    recs = intact_layout()
    for r in recs:
        mutated = data[:r.offset] + data[r.offset + r.size:]
        run = read_run(mutated)
        assert not run.verified and min(p["offset"] for p in run.problems) >= r.offset, r
        if r.tag == fmt.TAG_SEAL:
            assert [p["text"] for p in run.problems] == [NOT_SEALED]
            continue
        w = covering(recs, r)
        at = kinds_at(run, w.offset - r.size)
        if w.tag == fmt.TAG_SEAL:
            assert reader.SEAL in at, (r, run.problems)
        elif r.tag == fmt.TAG_DIGEST:
            assert {reader.ORDER, reader.COUNT, reader.CHAIN} <= at, (r, run.problems)
        else:
            assert {reader.COUNT, reader.CHAIN} <= at, (r, run.problems)
        if r.tag == fmt.TAG_HEADER:
            assert reader.HEADER in kinds_at(run, M)


def test_duplicate_any_record():
    data = intact()[0]
    recs = intact_layout()
    for r in recs:
        end = r.offset + r.size
        run = read_run(data[:end] + data[r.offset:end] + data[end:])
        assert not run.verified and min(p["offset"] for p in run.problems) >= r.offset, r
        if r.tag == fmt.TAG_SEAL:
            assert kinds_at(run, end) == {reader.SEAL}
        elif r.tag == fmt.TAG_DIGEST:
            assert {reader.ORDER, reader.COUNT, reader.CHAIN} <= kinds_at(run, end), (r, run.problems)
        else:
            assert {reader.COUNT, reader.CHAIN} <= kinds_at(run, covering(recs, r).offset + r.size)
            if r.tag == fmt.TAG_HEADER:
                assert reader.HEADER in kinds_at(run, end)


def test_swap_any_two_adjacent_records():
    data = intact()[0]
    recs = intact_layout()
    for a, b in zip(recs, recs[1:]):
        mutated = (data[:a.offset] + data[b.offset:b.offset + b.size]
                   + data[a.offset:b.offset] + data[b.offset + b.size:])
        assert mutated != data
        run = read_run(mutated)
        assert not run.verified and min(p["offset"] for p in run.problems) >= a.offset
        w = covering(recs, a)
        assert any(a.offset <= p["offset"] <= w.offset and p["kind"] in STRUCTURE
                   for p in run.problems), (a, b, run.problems)


@SETTINGS
@given(st.data())
def test_move_a_record(draw):
    data = intact()[0]
    recs = intact_layout()
    i = draw.draw(st.integers(0, len(recs) - 1), "record")
    j = draw.draw(st.integers(0, len(recs)), "to before record")
    assume(j not in (i, i + 1))
    r = recs[i]
    rec = data[r.offset:r.offset + r.size]
    rest = data[:r.offset] + data[r.offset + r.size:]
    at = recs[j].offset if j < len(recs) else len(data)
    if j > i:
        at -= r.size
    run = read_run(rest[:at] + rec + rest[at:])
    assert not run.verified
    assert min(p["offset"] for p in run.problems) >= recs[min(i, j)].offset
    assert {p["kind"] for p in run.problems} & STRUCTURE


SAMPLE_FIELDS = {"step": (1, 1), "t_ms": (2, 4), "chamber": (6, 2), "sample": (8, 2),
                 "sp_chamber": (10, 2), "sp_sample": (12, 2), "ln2": (14, 1), "heater": (15, 1),
                 "flags": (16, 1)}
EVENT_FIELDS = {"t_ms": (2, 4), "rtc_s": (6, 4), "code": (10, 1)}


def recrc(data, r, field, value):
    """data with bytes field=(start, length) of record r replaced and its CRC recomputed."""
    start, n = field
    rec = bytearray(data[r.offset:r.offset + r.size])
    rec[start:start + n] = value
    fmt.put_crc(rec, r.size - 2)
    return data[:r.offset] + bytes(rec) + data[r.offset + r.size:]


@SETTINGS
@given(st.data())
def test_altered_record_with_recomputed_crc_breaks_the_chain(draw):
    """An edit that keeps the CRC right is still caught: by its block's digest."""
    data = intact()[0]
    recs = intact_layout()
    r = draw.draw(st.sampled_from([r for r in recs if r.tag in (fmt.TAG_SAMPLE, fmt.TAG_EVENT)]), "record")
    fields = SAMPLE_FIELDS if r.tag == fmt.TAG_SAMPLE else EVENT_FIELDS
    field = fields[draw.draw(st.sampled_from(sorted(fields)), "field")]
    value = draw.draw(st.binary(min_size=field[1], max_size=field[1]), "value")
    mutated = recrc(data, r, field, value)
    assume(mutated != data)
    run = read_run(mutated)
    w = covering(recs, r)
    chain = [p for p in run.problems if p["kind"] == reader.CHAIN]
    assert [(p["offset"], p["record"]) for p in chain] == [(w.offset, w.index)], run.problems
    assert {p["kind"] for p in run.problems} <= {reader.CHAIN, reader.ORDER}   # times may now go back


@pytest.mark.parametrize("old, new, kinds", [
    (b'"alice"', b'"mallo"', {reader.CHAIN}),                 # operator in the header
    (b"B-2027-017", b"B-2027-018", {reader.CHAIN}),           # batch
    (b"-90", b"-80", {reader.CHAIN, "profile"}),              # the profile text itself
])
def test_altered_header_with_recomputed_crc(old, new, kinds):
    data = intact()[0]
    h = intact_layout()[0]
    rec = bytearray(data[h.offset:h.offset + h.size])
    i = rec.index(old)
    rec[i:i + len(old)] = new
    fmt.put_crc(rec, h.size - 2)
    run = read_run(data[:h.offset] + bytes(rec) + data[h.offset + h.size:])
    assert {p["kind"] for p in run.problems} == kinds
    assert kinds_at(run, intact_layout()[1].offset) == {reader.CHAIN}


def test_altered_digest_with_recomputed_crc():
    data = intact()[0]
    recs = intact_layout()
    digests = [r for r in recs if r.tag == fmt.TAG_DIGEST]
    for k, r in enumerate(digests):
        run = read_run(recrc(data, r, (5, 1), bytes([data[r.offset + 5] ^ 1])))
        assert reader.CHAIN in kinds_at(run, r.offset)
        nxt = digests[k + 1] if k + 1 < len(digests) else recs[-1]
        assert kinds_at(run, nxt.offset) & {reader.CHAIN, reader.SEAL}


@pytest.mark.parametrize("field", [(10, 4), (14, 1)], ids=["record count", "digest"])
def test_altered_seal_count_or_digest(field):
    data = intact()[0]
    seal = intact_layout()[-1]
    old = data[seal.offset + field[0]:seal.offset + sum(field)]
    run = read_run(recrc(data, seal, field, bytes([old[0] ^ 1]) + old[1:]))
    assert kinds_at(run, seal.offset) == {reader.SEAL}


@pytest.mark.parametrize("field, value", [((9, 1), bytes([fmt.SEAL_COMPLETED])),
                                          ((1, 4), struct.pack("<I", 99999999)),
                                          ((5, 4), struct.pack("<I", START_RTC + 99))],
                         ids=["status stopped->completed", "end t_ms", "end rtc_s"])
def test_altered_seal_status_or_time(tmp_path, field, value):
    """The seal's own fields are inside its digest: a stopped run cannot be
    relabelled completed by recomputing the CRC. (Found against the first
    version of format.py, where the seal digest was the bare chain value.)"""
    data = write_run(tmp_path, n=60, status=fmt.SEAL_STOPPED)[0]
    seal = layout(data)[-1]
    before = read_run(data).seal
    run = read_run(recrc(data, seal, field, value))
    assert run.seal != before                     # the forgery took effect ...
    assert [(p["kind"], p["offset"]) for p in run.problems] == [(reader.SEAL, seal.offset)]


def test_rewritten_tail_verifies_limit():
    """The documented limit: cut the run after a block and append a fresh seal
    (only a CRC and the chain value, both public) -> the file verifies. Only the
    seal digest pinned elsewhere shows it is not the run that was recorded."""
    data = intact()[0]
    recs = intact_layout()
    d = [r for r in recs if r.tag == fmt.TAG_DIGEST][3]
    _, _, chain = fmt.unpack_digest(data[d.offset:d.offset + d.size])
    forged = data[:d.offset + d.size] + bytes(fmt.pack_seal(600000, START_RTC + 600,
                                                            fmt.SEAL_COMPLETED, d.index + 1, chain))
    run = read_run(forged)
    assert run.verified                                       # not detectable from the file ...
    assert run.seal["digest"] != read_run(data).seal["digest"]  # ... but against a pinned digest


def event_record(length):
    rec = bytearray(length + 4)
    rec[0], rec[1] = fmt.TAG_EVENT, length
    fmt.put_crc(rec, length + 2)
    return bytes(rec)


@pytest.mark.parametrize("length", [0, 1, 5, 9, 10])
def test_short_event_record_with_valid_crc_does_not_crash(length):
    """A CRC-valid event too short for its fixed fields is damage, not a crash.
    (The first reader raised struct.error for lengths 0-1, unpack_event for 2-7.)"""
    data = intact()[0]
    r = intact_layout()[5]
    run = read_run(data[:r.offset] + event_record(length) + data[r.offset:])
    assert not run.verified
    first = run.problems[0]
    assert first["offset"] == r.offset
    assert first["kind"] == (reader.DAMAGED if length < 10 else reader.ORDER)   # t_ms 0 goes back


@pytest.mark.parametrize("who, detail", [("operator", "x" * 236 + "°C"), ("x" + "é" * 16, "d")],
                         ids=["detail", "who"])
def test_long_non_ascii_event_text_reads_back(tmp_path, who, detail):
    """Texts cut to fit are cut between characters. (The first format.py cut
    inside a UTF-8 character and unpack_event then raised UnicodeDecodeError.)"""
    log = RunLog(str(tmp_path))
    log.open_run({"profile_text": "p", "profile_sha256": hashlib.sha256(b"p").hexdigest()}, 60, 5000)
    log.event(0, START_RTC, "note", who, detail)
    log.seal(1000, START_RTC + 1, fmt.SEAL_COMPLETED)
    with open(log.file_of(1), "rb") as f:
        run = read_run(f.read())
    ev = run.events[0]
    assert run.verified and ev["who"] in who and ev["detail"] in detail
    assert len(ev["who"].encode()) <= 32 and len((ev["who"] + ev["detail"]).encode()) <= 245


# -- any bytes at all -----------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=3000))
def test_any_bytes_never_raise(blob):
    for data in (blob, fmt.MAGIC + blob, intact()[0][:intact_layout()[6].offset] + blob):
        run = read_run(data)
        assert isinstance(run, RunRecord) and not run.verified
        assert run.summary() and json.dumps(run.as_dict())


# -- export and the command line -------------------------------------------------

def test_export_csv_and_json(tmp_path):
    data, samples, events = intact()
    run = read_run(data)
    run.to_csv(tmp_path / "r.csv")
    run.to_json(tmp_path / "r.json")
    lines = (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS) and len(lines) == 1 + len(samples)
    row = dict(zip(CSV_COLUMNS, lines[100].split(",")))
    s = run.samples[99]
    assert float(row["chamber_degC"]) == s["chamber_c"] and float(row["t_s"]) == s["t_s"]
    assert float(row["ln2_duty_pct"]) == pytest.approx(s["ln2_duty"] * 100)
    assert dict(zip(CSV_COLUMNS, lines[1].split(",")))["step"] == ""       # no step yet
    j = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert j["sample_count"] == len(samples) and len(j["events"]) == len(events)
    assert j["verification"] == {"verified": True, "records": run.records, "blocks": run.blocks,
                                 "problems": []}
    assert j["header"]["batch"] == "B-2027-017" and j["seal"]["status"] == "completed"


def cli(*args):
    return CliRunner().invoke(crf, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    data = intact()[0]
    good, bad = tmp_path / "000001.run", tmp_path / "000002.run"
    good.write_bytes(data)
    bad.write_bytes(data[:3000] + bytes([data[3000] ^ 0x10]) + data[3001:])
    return good, bad


def test_cli_verify(files):
    good, bad = files
    res = cli("logs", "verify", good)
    assert res.exit_code == 0
    blocks = read_run(good).blocks
    assert res.output.strip() == (f"{good}: OK: run 1, batch B-2027-017, sealed completed, "
                                  f"{N_SAMPLES} samples, chain of {blocks} blocks verified")
    res = cli("logs", "verify", good, bad)
    assert res.exit_code == 1
    assert f"{bad}: FAILED" in res.output and "damaged: bytes" in res.output and "chain:" in res.output
    res = cli("logs", "verify", "--json", good, bad, good.parent / "missing.run")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert [o["verified"] for o in out] == [True, False, False] and "cannot read" in out[2]["error"]
    assert out[1]["problems"][0]["kind"] == "damaged"


def test_cli_errors_are_one_line(tmp_path):
    res = cli("logs", "verify", tmp_path / "missing.run")
    assert res.exit_code == 1 and res.output.strip().count("\n") == 0 and "cannot read" in res.output
    res = cli("logs", "export", tmp_path / "missing.run")
    assert res.exit_code == 1 and res.output.strip().count("\n") == 0


def test_cli_export(files, tmp_path):
    good, bad = files
    res = cli("logs", "export", good)
    assert res.exit_code == 0, res.output
    assert len(good.with_suffix(".csv").read_text().splitlines()) == N_SAMPLES + 1
    assert json.loads(good.with_suffix(".json").read_text())["verification"]["verified"]
    res = cli("logs", "export", bad, "--csv", tmp_path / "only.csv")
    assert res.exit_code == 0 and "does not verify" in res.output
    assert (tmp_path / "only.csv").exists() and not bad.with_suffix(".json").exists()
    assert cli("logs", "export", good, "--json", good).exit_code == 2


@pytest.mark.parametrize("args", [["logs"], ["logs", "verify"], ["logs", "export"]])
def test_cli_help(args):
    res = cli(*args, "--help")
    assert res.exit_code == 0 and "Usage:" in res.output
