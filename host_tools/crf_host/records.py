"""Reading a run record on the host: parse, verify, explain, export.

Built on the firmware's own reader (crf.record.reader), which walks the file,
checks every record's CRC, the SHA-256 chain over blocks of records, block
numbers and counts, time order, the header's place and the seal. This module
turns its findings and the records into Python values, adds the checks only
the host makes (header JSON, profile hash, "not sealed") and exports to CSV
and JSON. It reports what is wrong instead of failing: any bytes give a
RunRecord whose `problems` say which record and what kind of damage.

What the verification can and cannot prove. The CRCs and the digest chain
have no secret key. They detect accidental damage, a torn write, and any
edit, deletion, insertion or reordering by someone who does not rewrite
everything after the point of change. Someone who rewrites the file from the
point of change onwards, recomputing every CRC, every block digest and the
seal (or who cuts a run short and appends a fresh seal), produces a file that
verifies on its own. Only comparing the seal's digest with a copy pinned
elsewhere (the batch report, the host's archive) catches that. The seal
digest also covers the seal's own fields (status, end time, record count).
"""

import csv
import hashlib
import io
import json
import os
import sys
from datetime import datetime, timezone

try:
    from crf.record import format as fmt
    from crf.record import reader
except ImportError:  # running from a checkout without the package installed
    from crf_host.paths import FIRMWARE

    sys.path.insert(0, str(FIRMWARE))
    from crf.record import format as fmt
    from crf.record import reader

# Problem kinds the host adds to the reader's (reader.FOREIGN, ... reader.SEAL).
PROFILE = "profile"     # profile text does not match its recorded SHA-256
NOT_SEALED = ("the record ends without a seal: the run was interrupted and not yet "
              "closed, or its end was cut off")

CSV_COLUMNS = ("t_s", "step", "chamber_degC", "sample_degC", "sp_chamber_degC",
               "sp_sample_degC", "ln2_duty_pct", "heater_duty_pct", "state", "comp",
               "sample_control", "chamber_fault", "sample_fault", "alarm")


def _iso(rtc_s):
    """Seconds since 1970 (UTC) -> ISO 8601, None for 0 (clock not set) or nonsense."""
    if not isinstance(rtc_s, int) or isinstance(rtc_s, bool) or rtc_s <= 0:
        return None
    try:
        return datetime.fromtimestamp(rtc_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def _sample(rec):
    step, t_ms, ch, sa, sp_ch, sp_sa, ln2, heat, flags = fmt.unpack_sample(rec)
    state = flags & 7
    return {
        "t_s": t_ms / 1000, "step": None if step == 255 else step + 1,
        "chamber_c": ch, "sample_c": sa, "sp_chamber_c": sp_ch, "sp_sample_c": sp_sa,
        "ln2_duty": ln2, "heater_duty": heat,
        "state": fmt.STATE_CODES[state] if state < len(fmt.STATE_CODES) else "state%d" % state,
        "comp": bool(flags & fmt.F_COMP), "sample_control": bool(flags & fmt.F_SAMPLE_CTL),
        "chamber_fault": bool(flags & fmt.F_CHAMBER_FAULT),
        "sample_fault": bool(flags & fmt.F_SAMPLE_FAULT), "alarm": bool(flags & fmt.F_ALARM),
    }


def _event(rec):
    t_ms, rtc_s, name, who, detail = fmt.unpack_event(rec)
    return {"t_s": t_ms / 1000, "rtc": _iso(rtc_s), "event": name, "who": who, "detail": detail}


def _seal(seal):
    t_ms, rtc_s, status, records, digest = seal
    return {"status": fmt.SEAL_STATUS[status] if status < len(fmt.SEAL_STATUS) else "status%d" % status,
            "t_s": t_ms / 1000, "rtc": _iso(rtc_s), "records": records, "digest": digest.hex()}


def where(p):
    """A problem as text: "at byte 1234 (record 56): damaged: ..."."""
    rec = " (record %d)" % p["record"] if p["record"] >= 0 else ""
    return "at byte %d%s: %s: %s" % (p["offset"], rec, p["kind"], p["text"])


class RunRecord:
    """One run record as read from a file: values plus what is wrong with it."""

    def __init__(self, source=None):
        self.source = source      # path it was read from, None for bytes
        self.size = 0
        self.header = None        # dict, or None if missing or unreadable
        self.samples = []
        self.events = []
        self.seal = None          # dict, or None if the run is not sealed
        self.problems = []        # dicts: offset, record (index, -1 = file), kind, text
        self.records = 0          # valid records
        self.blocks = 0           # digest blocks

    @property
    def verified(self):
        return not self.problems

    def _problem(self, offset, record, kind, text):
        self.problems.append({"offset": offset, "record": record, "kind": kind, "text": text})

    def _h(self, key):
        return self.header.get(key) if self.header else None

    def summary(self):
        """One paragraph for people."""
        h = self._h
        who = ", ".join("%s %s" % (k, h(k)) for k in ("product", "operator") if h(k))
        parts = ["Run %s, batch %s%s, profile %s" % (h("run") if h("run") is not None else "?",
                                                    h("batch") or "?", " (%s)" % who if who else "",
                                                    h("profile_name") or "?")]
        if self.header:
            parts.append("controller %s fw %s on %s"
                         % (h("serial") or "?", h("fw") or "?", h("board") or "?"))
            start = _iso(h("start_rtc_s"))
            parts.append("started %s" % start if start else "start time unknown (clock not set)")
        span = " over %.1f min" % ((self.samples[-1]["t_s"] - self.samples[0]["t_s"]) / 60) \
            if self.samples else ""
        parts.append("%d samples%s, %d events" % (len(self.samples), span, len(self.events)))
        if self.seal:
            parts.append("sealed %s at %s s" % (self.seal["status"], self.seal["t_s"]))
        text = "; ".join(parts) + ". "
        if self.verified:
            text += ("Verified: %d records in a chain of %d blocks, no problems; seal digest %s "
                     "(compare it with the copy pinned in the batch report: the file alone "
                     "cannot prove it was not rewritten)."
                     % (self.seal["records"], self.blocks, self.seal["digest"]))
        else:
            n = len(self.problems)
            text += "NOT verified: %d problem%s, the first %s." % (n, "" if n == 1 else "s",
                                                                  where(self.problems[0]))
        return text

    def as_dict(self):
        """Header, events, seal and verification (samples counted, not listed)."""
        return {"file": self.source, "header": self.header, "events": self.events,
                "seal": self.seal, "sample_count": len(self.samples),
                "verification": {"verified": self.verified, "records": self.records,
                                 "blocks": self.blocks, "problems": self.problems}}

    def to_json(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.as_dict(), f, indent=2, ensure_ascii=False)
            f.write("\n")

    def to_csv(self, path):
        """One row per sample; empty cells where a value is not applicable."""
        def c(v):
            return "" if v is None else "%.2f" % v

        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS)
            for s in self.samples:
                w.writerow([s["t_s"], "" if s["step"] is None else s["step"],
                            c(s["chamber_c"]), c(s["sample_c"]), c(s["sp_chamber_c"]),
                            c(s["sp_sample_c"]), "%.1f" % (s["ln2_duty"] * 100),
                            "%.1f" % (s["heater_duty"] * 100), s["state"]]
                           + [int(s[k]) for k in ("comp", "sample_control", "chamber_fault",
                                                  "sample_fault", "alarm")])


def _check_header(run, raw):
    hoff = len(fmt.MAGIC)
    if raw is None:
        if not any(p["kind"] == reader.HEADER for p in run.problems):
            run._problem(hoff, 0, reader.HEADER,
                         "no readable header: the header record is missing or damaged")
        return
    try:
        header = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        run._problem(hoff, 0, reader.HEADER, "the header is not UTF-8 text")
        return
    except (ValueError, RecursionError) as ex:
        run._problem(hoff, 0, reader.HEADER, "the header is not valid JSON: %s" % ex)
        return
    if not isinstance(header, dict):
        run._problem(hoff, 0, reader.HEADER, "the header is not a JSON object")
        return
    run.header = header
    text, want = header.get("profile_text"), header.get("profile_sha256")
    if not isinstance(text, str) or not isinstance(want, str):
        run._problem(hoff, 0, PROFILE, "the header lacks the profile text or its SHA-256")
    elif hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() != want.lower():
        run._problem(hoff, 0, PROFILE, "the profile text does not match its recorded SHA-256 %s" % want)


def read_run(src):
    """Read and verify a run record from a path or from bytes -> RunRecord.
    OSError if a path cannot be read; otherwise whatever the bytes, the
    findings are in the result's `problems`."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        run, data = RunRecord(), bytes(src)
    else:
        run = RunRecord(os.fspath(src))
        with open(src, "rb") as f:
            data = f.read()
    run.size = len(data)

    def visit(offset, index, tag, rec):
        if tag == fmt.TAG_SAMPLE:
            run.samples.append(_sample(rec))
        elif tag == fmt.TAG_EVENT:
            run.events.append(_event(rec))

    s = reader.scan(io.BytesIO(data), len(data), visit)
    for p in s.problems:
        run._problem(*p)
    run.records, run.blocks = s.records, s.blocks
    if any(p["kind"] == reader.FOREIGN for p in run.problems):
        return run
    _check_header(run, s.header)
    if s.seal is None:
        run._problem(len(data), s.records, reader.SEAL, NOT_SEALED)
    else:
        run.seal = _seal(s.seal)
        if s.seal[2] >= len(fmt.SEAL_STATUS):
            run._problem(s.seal_offset, s.records - 1, reader.SEAL, "unknown seal status %d" % s.seal[2])
    run.problems.sort(key=lambda p: p["offset"])
    return run
