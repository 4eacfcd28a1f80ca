# The power-cut test, part 3 of 3 (run by crf_sim/powercut.py): the
# workload that drives the firmware's RunLog, the cuts and the reboots.
import sys
import gc
import os
import time
import json
import binascii
import hashlib
import builtins
import vfs
from crf.record import format as fmt
from crf.record import runlog
from crf.record import reader
from crf.record.runlog import RunLog, LogError
from crf_sim.powercut_flash import (PowerCut, Rng, FlashImage, CutBlockDevice, Tracker,
                                   Expect, MOUNT, BS)
from crf_sim.powercut_check import Checks, _key, K_STORAGE, K_DUE, K_REFUSED

_scan = reader.scan
_USAGE = "usage: powercut.py [--cuts N] [--seed S] [--blocks B] [--verbose]"


def _load_profiles(firmware):
    out = []
    d = firmware + "/profiles"
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with builtins.open(d + "/" + name) as f:
                out.append((name[:-5], f.read()))
    return out


_EVENTS = ("step", "hold", "continue", "nucleation", "compensation", "compensation_end",
           "alarm_raised", "alarm_cleared", "alarm_acked", "door_open", "door_closed",
           "note", "config_change", "calibration_change", "clock_set")
_KINDS = ("ramp", "hold", "end")
_WHO = ("operator", "controller", "panel", "link")
_NOTE = ("batch label checked; bag 3 of 4 moved to the lower rack; chamber door seal wiped "
         "before the run; LN2 dewar at 62 %, supply pressure 1.4 bar; sample probe taped "
         "to the reference bag, 5 mm from the edge; operator on call until the end of the run; ")


class Harness(Checks):
    def __init__(self, image, seed, target, verbose, firmware):
        self.image = image
        self.target = target
        self.verbose = verbose
        self.rng = Rng(seed)
        self.cut_rng = Rng(seed ^ 0x5A5A)     # cut points apart from the workload
        self.profiles = _load_profiles(firmware)
        self.tracker = Tracker()
        runlog.open = self.tracker.open
        self.exp = {}             # run_id -> Expect
        self.deleted = [0] * 32   # the last acknowledged runs the log deleted
        self.max_rid = 0          # the newest run id the log handed out
        self.junk = set()         # run files without a header (reported once)
        self.reported = set()
        self.dev = None
        self.log = None
        self.rtc = 1767225600     # 2026-01-01
        self.open_rid = None      # the run the workload is writing
        self.acking = None
        self.pend = None          # the call in progress: (run, its records, sealing)
        self.phase = "boot"
        self.run_ms = 0
        self.run_end_ms = 0
        self.step_no = 0
        self.sample_ctl = False
        self.interval = 5000
        self.host_away = 0        # runs to go before the host fetches again
        self._rbuf = bytearray(512)
        self._sbuf = bytearray(fmt.MAX_RECORD)
        self._pbuf = bytearray(fmt.SAMPLE_SIZE)
        # figures
        self.cuts = 0
        self.lost = 0
        self.corrupt = 0
        self.kinds = {}           # kind of problem -> times seen (see Checks.diag)
        self.errors = 0
        self.runs_opened = 0
        self.runs_sealed = 0
        self.records = 0
        self.runs_deleted = 0
        self.torn_cut = 0
        self.reopened = 0
        self.resumed = 0
        self.sealed_interrupted = 0
        self.refused = 0
        self.space_notes = 0
        self.storage_failures = 0
        self.duplicates = 0
        self.cut_ops = {}
        self.cut_phases = {}
        self.cut_partial = 0
        self.cut_none = 0
        self.cut_full = 0
        self.verify_scans = 0
        self.heap_min = 1 << 30   # free heap after a collection, at each reboot
        self.next_report = 100
        self.dev_ops = 0

    # -- power and mounting -------------------------------------------------
    def _cut_distance(self):
        r = self.cut_rng
        k = r.below(100)
        if k < 25:
            return r.between(1, 10)          # right at boot, in the first commits
        if k < 80:
            return r.between(1, 100)
        if k < 98:
            return r.between(100, 600)
        return r.between(600, 5000)         # long stretches: the flash fills up

    def _mount(self, cut_after):
        # littlefs as the rp2 port and flashdev.mount set it up (progsize 256)
        self.dev = CutBlockDevice(self.image, self.cut_rng, cut_after)
        vfs.mount(vfs.VfsLfs2(self.dev, progsize=256), MOUNT)

    def _power_off(self):
        # Nothing of the old filesystem may touch the image again: writes are
        # ignored from here; close what the firmware had open, unmount, collect.
        dev = self.dev
        dev.drop = True
        dev.dead = True
        self.dev_ops += dev.ops
        for f in self.tracker.files:
            try:
                f.close()
            except Exception:
                pass
        self.tracker.files = []
        self.log = None
        try:
            vfs.umount(MOUNT)
        except OSError:
            pass
        gc.collect()
        f = gc.mem_free()
        if f < self.heap_min:
            self.heap_min = f

    def format(self):
        self.dev = CutBlockDevice(self.image, self.cut_rng, 0)
        vfs.VfsLfs2.mkfs(self.dev, progsize=256)
        self._mount(0)
        self.log = RunLog(MOUNT)
        self.log.recover(self.rtc)
        self.dev.left = self._cut_distance()

    # -- one RunLog call ----------------------------------------------------
    def call(self, phase, fn, args, rid=None, recs=(), sealing=False):
        """Run a RunLog call that may write recs (packed here) to run rid."""
        self.phase = phase
        self.pend = (rid, recs, sealing)
        r = fn(*args)
        if self.dev.dead:
            raise PowerCut()      # the firmware swallowed it: still a cut
        self.pend = None
        if len(self.tracker.files) > 16:
            self.keep_files()
        return r

    def keep_files(self):
        # Between calls only the open run's files are open: forget the rest.
        log = self.log
        self.tracker.files = [f for f in (log.f, getattr(log, "_j", None)) if f is not None]

    def written(self, rid, rec, r):
        """rec (packed by the harness) is written if the call said so."""
        if r:
            self.exp[rid].add(rec)
            self.records += 1
        elif self.log.failed and self.log.failed != "flash full":
            self.storage_failures += 1
            self.bad("storage failure: %s" % self.log.failed, _key(K_STORAGE, rid))
            self.rebaseline(rid)
            self.open_rid = None

    # -- the workload --------------------------------------------------------
    def step(self):
        if self.open_rid is None:
            self.start_run()
            return
        log = self.log
        rng = self.rng
        rid = self.open_rid
        x = rng.next()
        # mostly a sample interval on, now and then a single control period
        dt = 1000 if x & 7 == 0 else self.interval
        self.run_ms += dt
        self.rtc += dt // 1000
        if log.failed == "flash full" or self.run_ms >= self.run_end_ms:
            self.end_run()
            return
        if (x >> 3) & 31 == 0:
            self.event()
        t = self.run_ms * 0.001
        ch = None if (x >> 8) & 63 == 0 else 20.0 - t * 0.03 + ((x >> 14) & 255) * 0.002
        sa = None if (x >> 22) & 31 == 0 else 15.0 - t * 0.02 + ((x >> 27) & 31) * 0.003
        flags = 1 | (fmt.F_SAMPLE_CTL if self.sample_ctl else 0)
        if (x >> 3) & 31 == 1:
            flags |= (fmt.F_COMP, fmt.F_ALARM, fmt.F_CHAMBER_FAULT, fmt.F_SAMPLE_FAULT)[x & 3]
        args = (self.run_ms, self.step_no, ch, sa, ch, sa if self.sample_ctl else None,
                ((x >> 14) & 255) * 0.004, ((x >> 6) & 63) * 0.004, flags)
        rec = None
        if self.run_ms >= log.next_sample_ms:
            fmt.pack_sample_into(self._pbuf, self.step_no, self.run_ms, ch, sa, ch, args[5],
                                 args[6], args[7], flags)
            rec = bytes(self._pbuf)
        r = self.call("sample", log.sample, args, rid, (rec,) if rec else ())
        if r and rec is None:
            self.bad("a sample was written when none was due", _key(K_DUE, 0))
            self.rebaseline(rid)
            return
        self.written(rid, rec, r)
        if log.pending_note:
            # as App._log_sample does
            note = log.pending_note
            log.pending_note = None
            self.space_notes += 1
            self.log_event("log_space", "controller", note)

    def log_event(self, name, who, detail, t=None):
        rid = self.open_rid
        t = self.run_ms if t is None else t
        rec = fmt.pack_event(t, self.rtc, fmt.event_code(name), who, str(detail))
        r = self.call("event", self.log.event, (t, self.rtc, name, who, detail), rid, (rec,))
        self.written(rid, rec, r)
        return r

    def event(self):
        rng = self.rng
        name = _EVENTS[rng.below(len(_EVENTS))]
        if name == "step":
            self.step_no += 1
            detail = "%d %s" % (self.step_no, _KINDS[rng.below(3)])
        elif name in ("nucleation", "compensation"):
            detail = "%.2f" % rng.real(-12, -2)
        elif name == "note":
            detail = _NOTE[:rng.between(5, len(_NOTE))]
        elif name == "config_change":
            detail = "log_interval_ms=%d" % (1000, 5000)[rng.below(2)]
        elif name.startswith("alarm"):
            detail = "chamber deviation %.1f C" % rng.real(2, 9)
        else:
            detail = ""
        who = _WHO[rng.below(len(_WHO))]
        self.log_event(name, who, detail)
        if rng.chance(30) and self.open_rid is not None:
            # The same note sent twice within one pass: two identical records
            # in a row. Half the time the power fails at the next write after
            # them (a repeat is where a writer that merges copies can go wrong).
            self.duplicates += 1
            if self.log_event(name, who, detail) and rng.chance(500) and self.dev.left:
                self.dev.left = 1

    def seal(self, t, status):
        rid = self.log.run_id
        r = self.call("seal", self.log.seal, (t, self.rtc, status), rid, (), True)
        e = self.exp.get(rid)
        if r:
            self.records += 1
            if e is not None:
                e.sealed = True
                e.status = status
                self.verify_closed(rid)
        elif self.log.failed:
            self.storage_failures += 1
            self.bad("storage failure sealing run %s: %s" % (rid, self.log.failed),
                     _key(K_STORAGE, rid))
            self.rebaseline(rid)
        return r

    def end_run(self):
        if self.rng.chance(700):
            status = fmt.SEAL_COMPLETED
            self.log_event("end", "controller", "")
        else:
            status = fmt.SEAL_STOPPED
            self.log_event("stop", "operator", "")
        if self.open_rid is not None and self.seal(self.run_ms, status):
            self.runs_sealed += 1
        self.open_rid = None

    def host_fetch(self, keep, everything=False):
        """The host fetched the sealed runs but the newest `keep`: ack them.
        everything: every run file but the open one, whatever its state."""
        exp = self.exp
        if everything:
            log = self.log
            for rid, acked, _ in log.runs():
                if not acked and not (rid == log.run_id and log.f is not None):
                    self.acking = rid
                    self.call("ack", log.ack, (rid,))
                    self.acking = None
                    if rid in exp:
                        exp[rid].host_acked = True
        sealed = [rid for rid in sorted(exp) if exp[rid].sealed and not exp[rid].host_acked]
        for rid in sealed[:max(0, len(sealed) - keep)]:
            self.acking = rid
            self.call("ack", self.log.ack, (rid,))
            self.acking = None
            exp[rid].host_acked = True
        for rid in sorted(self.junk):
            # a headerless leftover: the host fetches it too, so it can go
            path = self.log.file_of(rid)
            if path is not None and path.endswith(".run") and rid != self.log.run_id:
                self.call("ack", self.log.ack, (rid,))

    def start_run(self):
        rng = self.rng
        log = self.log
        if log.f is not None:
            # A run cut off by a restart and not resumed: close its record,
            # as App.start_run does.
            t = log.interrupted["last_t_ms"] if log.interrupted else 0
            if self.seal(t, fmt.SEAL_INTERRUPTED):
                self.sealed_interrupted += 1
        # The host fetches (acknowledges) runs now and then; for stretches it
        # is away, and the runs pile up until the log refuses a new one.
        if self.host_away:
            self.host_away -= 1
        elif rng.chance(60):
            self.host_away = rng.between(5, 40)
        elif rng.chance(600):
            self.host_fetch(rng.below(3))
        fast = rng.chance(300)
        interval = 1000 if fast else 5000
        self.interval = interval
        planned = rng.between(120, 600) if fast else rng.between(600, 3600)
        rid = None
        for attempt in range(3):
            header = self.header(interval)
            try:
                self.phase = "open"
                self.pend = ("open", header)
                rid = log.open_run(header, planned, interval)
                if self.dev.dead:
                    raise PowerCut()
                self.pend = None
                break
            except LogError:
                self.refused += 1
                self.host_away = 0
                if attempt == 0:
                    self.host_fetch(0, True)
                else:
                    interval, planned = 5000, 120
                    self.interval = interval
        if rid is None:
            self.bad("open_run refused with every run acknowledged", _key(K_REFUSED, 0))
            return
        self.keep_files()
        e = Expect()
        e.add(fmt.pack_header(json.dumps(header)))
        self.exp[rid] = e
        self.max_rid = max(self.max_rid, rid)
        self.records += 1
        self.runs_opened += 1
        self.open_rid = rid
        self.run_ms = 0
        self.step_no = 0
        self.sample_ctl = rng.chance(500)
        # Most runs end before their plan, a few run on for hours past it
        # (more of them while nobody is there to fetch the runs).
        if rng.chance(300 if self.host_away else 40):
            self.run_end_ms = (planned + rng.between(0, 4 * 3600)) * 1000
        else:
            self.run_end_ms = rng.between(10, planned) * 1000
        self.log_event("start", "operator", "", 0)

    def header(self, interval):
        rng = self.rng
        name, text = self.profiles[rng.below(len(self.profiles))]
        return {"serial": "VF-000042", "model": "CRF-1", "fw": "0.1.0", "board": "powercut",
                "profile_name": name, "profile_text": text,
                "profile_sha256": binascii.hexlify(hashlib.sha256(text.encode()).digest()).decode(),
                "batch": "B%05d" % rng.below(100000), "product": "PBMC 10% DMSO",
                "operator": ("ana", "ben", "chen", "dora")[rng.below(4)],
                "calibration": {"chamber": [0.012, -0.08], "sample": [0.0, 0.05]},
                "config": {"log_interval_ms": interval, "pass_ms": 100, "control_period_ms": 1000,
                           "chamber_kp": 150.0, "chamber_ki": 10.0, "sample_kp": 4.0},
                "start_rtc_s": self.rtc}

    # -- a power cut and the reboot after it ---------------------------------
    def _lend_scan(self, f, size, visit=None, buf=None):
        return _scan(f, size, visit, self._sbuf if buf is None else buf)

    def _pending(self):
        p = self.pend
        self.pend = None
        if p is None:
            return None
        if p[0] == "open":
            # open_run puts the run id into the header before it writes anything
            h = p[1]
            rid = h.get("run")
            return (rid, (fmt.pack_header(json.dumps(h)),) if rid else (), False)
        return p

    def reboot(self, pend, phase, armed=True):
        """Power off, on, check, recover, check; again if recovery is cut."""
        while True:
            if phase is not None:
                self.cuts += 1
                kind, k, m = self.dev.cut
                self.cut_ops[kind] = self.cut_ops.get(kind, 0) + 1
                self.cut_phases[phase] = self.cut_phases.get(phase, 0) + 1
                if k == 0:
                    self.cut_none += 1
                elif k == m:
                    self.cut_full += 1
                else:
                    self.cut_partial += 1
            self._power_off()
            self.rtc += self.rng.between(5, 7200)       # the outage
            touched = set()
            if pend is not None and pend[0] is not None:
                touched.add(pend[0])
            try:
                # the last cut is the last: the reboot after it runs to the end
                self._mount(self._cut_distance() if armed and self.cuts < self.target else 0)
            except OSError as ex:
                self.bad("the filesystem does not mount after the cut: %s" % ex)
                n = sum(self.exp[r].n for r in self.exp)
                if n:
                    self.lose(n, "everything, with the filesystem")
                self.exp = {}
                self.open_rid = None
                self.format()
                return None
            full = self.check_found(touched)
            self.phase = "recover"
            self.tracker.files = []
            # The device boots with a fresh heap; this process has been
            # through hundreds of boots and its heap is in pieces: the boot
            # scan gets the harness's record buffer (allocated first thing)
            # for the 8 KB one it would allocate, and nothing else changes.
            reader.scan = self._lend_scan
            try:
                self.log = RunLog(MOUNT)
                facts = self.log.recover(self.rtc)
                if self.dev.dead:
                    raise PowerCut()
            except Exception:
                if not self.dev.dead:
                    raise
                phase = "recover"
                continue
            finally:
                reader.scan = _scan
            self.check_recovered(facts, full, pend)
            self.keep_files()
            return facts

    def on_cut(self):
        facts = self.reboot(self._pending(), self.phase)
        log = self.log
        self.open_rid = None
        if facts is not None and log.f is not None and self.rng.chance(400):
            # The controller picks the interrupted run up again.
            self.resumed += 1
            self.open_rid = log.run_id
            self.run_ms = facts["last_t_ms"]
            self.interval = 5000
            self.step_no = max(0, facts["step"])
            self.sample_ctl = self.rng.chance(500)
            self.run_end_ms = self.run_ms + self.rng.between(5, 900) * 1000
        if self.verbose or self.cuts >= self.next_report:
            self.next_report += 100
            gc.collect()
            print("cut %d: %d runs on flash, %d records written, lost=%d corrupt=%d, free heap %d"
                  % (self.cuts, len(self.exp), self.records, self.lost, self.corrupt,
                     gc.mem_free()))

    def run(self):
        self.format()
        idle = 0
        ops = 0
        while self.cuts < self.target:
            try:
                self.step()
                if self.dev.dead:
                    raise PowerCut()
                # a workload that writes nothing would wait for a cut forever
                idle = idle + 1 if self.dev.ops == ops else 0
                ops = self.dev.ops
                if idle > 2000:
                    idle = 0
                    raise RuntimeError("no flash write in 2000 steps (run %s, failed %r)"
                                       % (self.log.run_id, self.log.failed))
            except Exception as ex:
                if not self.dev.dead:
                    self.errors += 1
                    self.diag("ERROR %r" % ex)
                    sys.print_exception(ex)
                    if self.errors > 5:
                        raise
                    # go on as after a reset that tore nothing
                    self.dev.cut = ("reset", 0, 0)
                    self.dev.dead = True
                self.on_cut()
        # Last look: a clean restart, then every run on the flash in full.
        self.phase = "final"
        self.dev.dead = True
        for rid in self.exp:
            self.exp[rid].snap = None
        self.reboot(None, None, False)


def main(argv, firmware="firmware"):
    opts = {"cuts": 1000, "seed": 1, "blocks": 64}
    verbose = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--verbose":
            verbose = True
            i += 1
            continue
        if a[2:] not in opts or i + 1 >= len(argv):
            print(_USAGE)
            return 2
        opts[a[2:]] = int(argv[i + 1])
        i += 2
    t0 = time.ticks_ms()
    image = FlashImage(opts["blocks"])
    h = Harness(image, opts["seed"], opts["cuts"], verbose, firmware)
    try:
        h.run()
    except Exception as ex:
        # the test itself failed (or the firmware, somewhere the checks did
        # not expect): it counts, and the figures so far are still shown
        h.errors += 1
        h.diag("ERROR %r; the test stops here" % ex)
        sys.print_exception(ex)
    finally:
        try:
            vfs.umount(MOUNT)
        except OSError:
            pass
        image.close()
    wall = time.ticks_diff(time.ticks_ms(), t0) / 1000.0
    print("seed %d, littlefs of %d blocks x %d bytes, %.1f s"
          % (opts["seed"], opts["blocks"], BS, wall))
    print("runs opened %d, sealed %d (%d as interrupted), reopened after a cut %d, resumed %d"
          % (h.runs_opened, h.runs_sealed + h.sealed_interrupted, h.sealed_interrupted,
             h.reopened, h.resumed))
    print("records written %d (%d duplicate events), runs deleted after ack %d, open_run "
          "refused for space %d, log_space notes %d, storage failures %d"
          % (h.records, h.duplicates, h.runs_deleted, h.refused, h.space_notes, h.storage_failures))
    print("cut points: %s; by call: %s; torn: %d part-written, %d not at all, %d whole"
          % (", ".join("%s %d" % kv for kv in sorted(h.cut_ops.items())),
             ", ".join("%s %d" % kv for kv in sorted(h.cut_phases.items())),
             h.cut_partial, h.cut_none, h.cut_full))
    print("torn tails cut back %d, verifying scans %d, block-device operations %d, "
          "least free heap after a collection %d bytes, errors %d"
          % (h.torn_cut, h.verify_scans, h.dev_ops, h.heap_min, h.errors))
    for kind in sorted(h.kinds):
        print("%6d x %s" % (h.kinds[kind], kind))
    print("powercut: cuts=%d lost=%d corrupt=%d" % (h.cuts, h.lost, h.corrupt + h.errors))
    return 1 if (h.lost or h.corrupt or h.errors or h.cuts < opts["cuts"]) else 0
