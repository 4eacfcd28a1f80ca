# The device audit log: every engineer and operator action, one JSON line
# each, in <root>/audit.log. Bounded: a line that would take the file past
# max_bytes first moves it to <root>/audit.1 (one old file is kept).
# Writing it never raises: an action is not undone because the flash is full;
# the failure is counted and its reason kept in `problem`.
import json
import os
from crf.record.fileio import read_at

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAX_BYTES = const(32768)


class Audit:
    def __init__(self, root, clock, max_bytes=MAX_BYTES):
        base = root if root != "/" else ""
        self.path = base + "/audit.log"
        self.old = base + "/audit.1"
        self.clock = clock
        self.max_bytes = max_bytes
        self.failures = 0
        self.problem = None
        try:
            self.size = os.stat(self.path)[6]
        except OSError:
            self.size = 0

    def add(self, who, role, action, fields=None):
        """Append {"rtc_s", "who", "role", "action", **fields}; True if written."""
        entry = {"rtc_s": self.clock.rtc_s(), "who": who, "role": role, "action": action}
        if fields:
            entry.update(fields)
        line = json.dumps(entry) + "\n"
        try:
            if self.size and self.size + len(line) > self.max_bytes:
                try:
                    os.remove(self.old)
                except OSError:
                    pass
                os.rename(self.path, self.old)
                self.size = 0
            with open(self.path, "a") as f:
                f.write(line)
            self.size += len(line)
            return True
        except OSError as ex:
            self.failures += 1
            self.problem = "audit log: %s" % ex
            return False

    def read(self, offset, n, buf):
        """Copy up to n bytes of audit.log from offset into buf; returns the count."""
        if offset >= self.size or n <= 0:
            return 0
        if n > self.size - offset:
            n = self.size - offset
        with open(self.path, "rb") as f:
            return read_at(f, buf, offset, n)
