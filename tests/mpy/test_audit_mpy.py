# The device audit log (crf.record.audit) on the MicroPython unix port and
# CPython: JSON lines with who, role, action and the clock; bounded by moving
# the full file to audit.1 (one old file kept); a write that fails is counted,
# never raised into the caller.
import json
import os
import sys

from crf.record.audit import Audit

_n = [0]
_RUN = __import__("time").time_ns() % 1000000007  # checkouts on one machine may run at once


class Clock:
    t = 1798761600

    def rtc_s(self):
        return self.t


def _root():
    _n[0] += 1
    if sys.implementation.name == "micropython":
        root = "/tmp/crf-audit-test-%d-%d" % (_RUN, _n[0])  # unique per process
        try:
            os.mkdir(root)
        except OSError:
            pass
        for name in ("audit.log", "audit.1"):
            try:
                os.remove(root + "/" + name)
            except OSError:
                pass
        return root
    import tempfile
    return tempfile.mkdtemp(prefix="crf-audit-")


def _lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f.read().split("\n") if x]


def test_lines_say_who_did_what_when():
    root = _root()
    a = Audit(root, Clock())
    assert a.add("ann", "engineer", "config_set", {"changed": {"chamber_kp": [150.0, 120.0]}})
    assert a.add("bob", "operator", "run_stop", {"run": 3})
    got = _lines(root + "/audit.log")
    assert got[0] == {"rtc_s": 1798761600, "who": "ann", "role": "engineer", "action": "config_set",
                      "changed": {"chamber_kp": [150.0, 120.0]}}
    assert got[1]["who"] == "bob" and got[1]["run"] == 3
    buf = bytearray(64)
    n = a.read(10, 64, buf)
    with open(root + "/audit.log", "rb") as f:
        assert bytes(buf[:n]) == f.read()[10:74]
    assert a.read(a.size, 64, buf) == 0
    assert Audit(root, Clock()).size == a.size       # the size survives a restart


def test_rotates_to_one_old_file():
    root = _root()
    a = Audit(root, Clock(), max_bytes=400)
    for i in range(30):
        a.add("ann", "operator", "run_ack", {"run": i})
    assert a.size <= 400
    old = _lines(root + "/audit.1")
    new = _lines(root + "/audit.log")
    assert new[-1]["run"] == 29 and old[-1]["run"] == new[0]["run"] - 1    # nothing lost at the seam
    assert sorted(n for n in os.listdir(root) if n.startswith("audit")) == ["audit.1", "audit.log"]


def test_a_failed_write_is_counted_not_raised():
    a = Audit("/no/such/dir/for/crf", Clock())
    assert a.add("ann", "engineer", "login", {"result": "ok"}) is False
    assert a.failures == 1 and "audit log" in a.problem
