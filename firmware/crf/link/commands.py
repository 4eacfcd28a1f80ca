# The serial command set, line protocol v0: one command per line, one reply
# line starting "OK <command>" or "ERR <reason>"; unsolicited lines start
# with "EV " (events) or "T " (telemetry, after "watch on").
# Input is collected in a preallocated buffer; a too-long line is discarded.
import json
from crf.profile import validate
from crf import config
from crf.record.runlog import LogError

_LINE_MAX = 3072
PROTOCOL = 0


def _num(v):
    return "-" if v is None else "%.2f" % v


class Link:
    def __init__(self, app):
        self.app = app
        self._buf = bytearray(_LINE_MAX)
        self._mv = memoryview(self._buf)
        self._n = 0
        self._overflow = False
        self.watch = False

    def send(self, line):
        self.app.board.link_write(line + "\n")

    def tick(self):
        # Once per control period: events and telemetry.
        app = self.app
        ev = app.events_out
        while ev:
            t_s, code, detail = ev.pop(0)
            self.send("EV %d %s %s" % (t_s, code, detail))
        if self.watch:
            self.send("T " + self.status_fields())

    def service(self):
        n = self.app.board.link_read(self._mv[self._n:])
        if not n:
            return
        end = self._n + n
        start = 0
        buf = self._buf
        for i in range(self._n, end):
            if buf[i] == 10:  # newline
                if self._overflow:
                    self._overflow = False
                    self.send("ERR line too long")
                else:
                    self.handle(bytes(buf[start:i]).decode().strip())
                start = i + 1
        rest = end - start
        if start:
            buf[0:rest] = buf[start:end]
        if rest >= _LINE_MAX:
            self._overflow = True
            rest = 0
        self._n = rest

    def status_fields(self):
        app = self.app
        e = app.engine
        log = app.log
        steps = len(e.profile["steps"]) if e.profile else 0
        return ("state=%s profile=%s step=%d/%d kind=%s probe=%s chamber_c=%s sample_c=%s "
                "sp_chamber_c=%s sp_sample_c=%s ln2_duty=%.3f heater_duty=%.3f valve=%d comp=%d elapsed_s=%d"
                " run=%s record=%s interrupted=%s") % (
            e.state, app.profile_name or "-", e.index + 1, steps, e.kind or "-", e.probe,
            _num(app.chamber_c), _num(app.sample_c), _num(app.ctl.chamber_sp if e.mode else None),
            _num(e.sp_sample if e.probe == "sample" else None), app.ctl.ln2_duty, app.ctl.heater_duty,
            1 if app.valve_on else 0, 1 if e.comp else 0, e.elapsed_ms // 1000,
            log.run_id if log and log.run_id else "-", _record_state(app),
            log.interrupted["run"] if log and log.interrupted else "-")

    def handle(self, line):
        if not line:
            return
        parts = line.split(" ", 2)
        cmd = parts[0]
        try:
            fn = getattr(self, "_cmd_" + cmd, None)
            if fn is None or cmd.startswith("_"):
                self.send("ERR unknown command: %s" % cmd[:32])
            else:
                fn(parts[1:])
        except (ValueError, OSError, KeyError, LogError) as ex:
            self.send("ERR %s: %s" % (cmd, ex))

    # -- commands -------------------------------------------------------------
    def _cmd_id(self, args):
        app = self.app
        from crf.app import FW_VERSION, MODEL
        self.send("OK id model=%s fw=%s board=%s proto=%d" % (MODEL, FW_VERSION, app.board.name, PROTOCOL))

    def _cmd_status(self, args):
        self.send("OK status " + self.status_fields())

    def _cmd_watch(self, args):
        self.watch = bool(args) and args[0] == "on"
        self.send("OK watch %s" % ("on" if self.watch else "off"))

    def _cmd_run(self, args):
        # run NAME [batch=B] [product=P] [operator=O]
        if not args:
            raise ValueError("usage: run NAME [batch=B] [product=P] [operator=O]")
        ids = {"batch": "", "product": "", "operator": ""}
        for kv in (args[1].split() if len(args) > 1 else ()):
            k, _, v = kv.partition("=")
            if k not in ids or len(v) > 32:
                raise ValueError("bad argument %s" % kv[:40])
            ids[k] = v
        run_id = self.app.start_run(args[0], ids["batch"], ids["product"], ids["operator"])
        self.send("OK run %s id=%d" % (args[0], run_id))

    def _cmd_stop(self, args):
        self.send("OK stop" if self.app.stop(_who(args)) else "ERR stop: no run")

    def _cmd_hold(self, args):
        self.send("OK hold" if self.app.hold(_who(args)) else "ERR hold: not running")

    def _cmd_continue(self, args):
        self.send("OK continue" if self.app.resume(_who(args)) else "ERR continue: nothing to continue")

    def _cmd_log(self, args):
        # log list | log ack ID  (transfer of the records comes with protocol v1)
        log = self.app.log
        if log is None:
            raise ValueError(self.app.log_problem or "run log unavailable")
        sub = args[0] if args else ""
        if sub == "list":
            self.send("OK log " + " ".join("%d:%s:%d" % (r, "ack" if a else "new", n)
                                            for r, a, n in log.runs()))
        elif sub == "ack" and len(args) > 1:
            log.ack(int(args[1]))
            self.send("OK log ack %s" % args[1])
        else:
            raise ValueError("usage: log list|ack ID")

    def _cmd_profile(self, args):
        import os
        app = self.app
        sub = args[0] if args else ""
        if sub == "list":
            names = sorted(n[:-5] for n in os.listdir(app.profiles_dir) if n.endswith(".json"))
            self.send("OK profiles " + ",".join(names))
        elif sub == "get" and len(args) > 1:
            with open(app.profiles_dir + "/" + _name(args[1]) + ".json") as f:
                self.send("OK profile " + json.dumps(json.loads(f.read())))
        elif sub == "validate" and len(args) > 1:
            warnings = validate.validate(validate.loads(args[1]))
            self.send("OK validate warnings=%d %s" % (len(warnings), " | ".join(warnings)))
        elif sub == "put" and len(args) > 1:
            text = args[1]
            prof = validate.loads(text)
            warnings = validate.validate(prof)
            name = _name(prof["name"])
            if app.running() and name == app.profile_name:
                raise ValueError("profile %s is running" % name)
            tmp = app.profiles_dir + "/" + name + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, app.profiles_dir + "/" + name + ".json")
            self.send("OK put %s warnings=%d %s" % (name, len(warnings), " | ".join(warnings)))
        else:
            raise ValueError("usage: profile list|get NAME|put JSON|validate JSON")

    def _cmd_config(self, args):
        app = self.app
        if args and args[0] == "get":
            self.send("OK config " + json.dumps(app.cfg))
        else:
            raise ValueError("usage: config get")


def _record_state(app):
    log = app.log
    if log is None:
        return "unavailable"
    if log.failed:
        return "failed"
    return "writing" if log.f is not None else "closed"


def _who(args):
    # stop|hold|continue [operator=O]
    if args and args[0].startswith("operator="):
        return args[0][9:41] or "operator"
    return "operator"


def _name(n):
    for ch in n:
        if not (ch.isalpha() or ch.isdigit() or ch in "_-"):
            raise ValueError("bad profile name")
    if not 0 < len(n) <= 24:
        raise ValueError("bad profile name")
    return n
