# Serial link protocol v1, the device side: the command set of
# docs/protocol.md ("What each command takes and returns") over the board's
# non-blocking link_read / link_write, with the frame codec of frame.py.
# The commands live in cmd_device.py and cmd_run.py (always loaded), and in
# cmd_admin.py, cmd_profile.py and cmd_tune.py (loaded for the request and
# dropped after: occasional engineer work need not sit in the heap during a
# run), as functions c_<command>(server, args); this module moves the frames.
#
# Once per loop pass, service(): read what arrived (at most _READS reads of
# _RX_SIZE bytes, and none while _QUEUE requests wait), answer at most
# _PER_PASS requests, each only if the board's output queue has room for the
# largest reply (otherwise it waits for the next pass), then send unsolicited
# event and status frames if subscribed. Nothing here blocks or raises into
# the control loop; the only deliberate exits are restart and repl.
#
# Memory: one Decoder (2.3-2.6 KB), one output buffer of MAX_WIRE bytes, one
# chunk buffer of MAX_PAYLOAD bytes for transfers, a 256-byte receive buffer;
# a profile upload goes to a partial file on the flash until it completes or idles for 60 s.
from crf.link import frame as F
from crf.link import auth as _auth
from crf import lazy
from crf.link import cmd_device, cmd_run
from crf.link.args import Refused
from crf.record.audit import Audit

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_RX_SIZE = const(256)
_READS = const(8)           # link reads per pass: at most 2 KB in
_QUEUE = const(4)           # stop reading while this many requests wait
_QUEUE_MAX = const(8)       # held at most; more in one read are dropped (the host retries)
_PER_PASS = const(4)        # requests answered per pass
_UPLOAD_IDLE_MS = const(60000)
_EXIT_WAIT_MS = const(2000)  # restart/repl: time for the reply to leave
_DETAIL_MAX = const(2000)   # error detail bytes
_CMD_EVENT = const(0x61)
_CMD_STATUS = const(0x02)
_EVENT_ROOM = const(600)    # output room an event frame needs (detail <= 255 bytes)

# Need an engineer session (auth_login on this link).
_ENGINEER = ("profile_put", "profile_delete", "log_ack", "config_set", "restart", "repl")
# Not kept in the reply cache: read-only, so a retry may simply run again
# (transfers are fetched by offset), and their replies are large.
_NO_CACHE = ("identify", "status", "profile_list", "profile_get", "profile_validate",
             "log_list", "log_fetch", "config_get", "audit_fetch", "tune_status", "tune_result", "screen")
# Take the payload as it is, not as JSON arguments.
_RAW = ("profile_put", "profile_validate")
_MODULES = (cmd_device, cmd_run)
# Loaded when asked: command name prefix -> module.
# (The admin commands' own import, crf.config, goes with them.)
_ADMIN = ("crf.link.cmd_admin", "crf.config")
_LAZY = (("profile_", ("crf.link.cmd_profile",)), ("tune_", ("crf.link.cmd_tune",)),
         ("config_", _ADMIN), ("time_set", _ADMIN), ("audit_fetch", _ADMIN),
         ("restart", _ADMIN), ("repl", _ADMIN), ("sim_fault", _ADMIN))
_PROFILE = "crf.link.cmd_profile"


class Server:
    def __init__(self, app):
        self.app = app
        self.board = app.board
        self.clock = app.clock
        self.root = app.board.storage_root
        self.auth = _auth.Auth(self.root, app.clock)
        self.audit = Audit(self.root, app.clock)
        self._dec = F.Decoder()
        self._rx = bytearray(_RX_SIZE)
        self._rxmv = memoryview(self._rx)   # boards may read into slices of it
        self._out = bytearray(F.MAX_WIRE)
        self._outmv = memoryview(self._out)
        self.chunk = bytearray(F.MAX_PAYLOAD)       # transfer replies: head + data
        self.data = memoryview(self.chunk)[F.CHUNK_HEAD:]
        self._cache = F.ReplyCache(4)
        self._queue = []
        self.user = None            # engineer of the request being answered
        self.dropped = 0            # frames dropped: queue full, or not requests
        self.faults = 0             # unexpected exceptions caught (answered "internal")
        self.last_fault = None
        self.status_ms = 0          # subscribe: status period, 0 = off
        self.events = False         # subscribe: event frames
        self.status_t = 0
        self.upload = None          # profile upload: [name, total, file, next offset, ticks, path, sha256]
        self.exit = None            # ("restart" | "repl", ticks when asked)
        self.modules = _MODULES  # type: tuple  # + crf.link.cmd_panel on a board with a front panel

    # -- the loop's entry --------------------------------------------------
    def service(self):
        """Once per loop pass: bounded work, never blocks, never raises."""
        try:
            self.auth.poll()
            self._receive()
            q = self._queue
            done = 0
            while q and done < _PER_PASS and self.board.link_room() >= F.MAX_WIRE:
                self._answer(q.pop(0))
                done += 1
            self._unsolicited()
            up = self.upload
            if up is not None and self.clock.ticks_diff(self.clock.ticks_ms(), up[4]) >= _UPLOAD_IDLE_MS:
                lazy.load(_PROFILE).drop_upload(self)   # abandoned upload: close and remove its partial file
                lazy.drop(_PROFILE)
        except Exception as ex:         # whatever the link brings, the loop goes on
            self.faults += 1
            self.last_fault = repr(ex)
        if self.exit is not None:
            self._leave()

    def _receive(self):
        q = self._queue
        b = self.board
        rx = self._rxmv
        for _ in range(_READS):
            if len(q) >= _QUEUE:
                return              # answer what waits first: the host's bytes wait upstream
            n = b.link_read(rx)
            if not n:
                return
            for f in self._dec.feed(rx, n):
                if f[0] == F.KIND_REQUEST and len(q) < _QUEUE_MAX:
                    q.append(f)
                else:
                    self.dropped += 1
            if n < _RX_SIZE:
                return

    def _send(self, kind, rid, cmd, payload, n=-1):
        k = F.encode_into(self._out, kind, rid, cmd, payload, n)
        self.board.link_write(self._outmv[:k])

    def _answer(self, f):
        _, rid, cmd, payload = f
        hit = self._cache.get(rid, cmd, payload)
        if hit is not None:         # a retry: the same answer, not a second execution
            self._send(hit[0], rid, cmd, hit[1])
            return
        name = F.COMMAND_NAMES.get(cmd)
        kind = F.KIND_RESPONSE
        self.user = None
        loaded = None
        try:
            fn = None
            if name:
                for m in self.modules:
                    fn = getattr(m, "c_" + name, None)
                    if fn is not None:
                        break
                if fn is None:
                    for prefix, mods in _LAZY:
                        if name.startswith(prefix):
                            loaded = mods
                            fn = getattr(lazy.load(mods[0]), "c_" + name, None)
                            break
            if fn is None:
                raise Refused(F.ERR_UNKNOWN_COMMAND, "unknown command 0x%02x" % cmd)
            if name in _ENGINEER:
                self.engineer()
            if name in _RAW:
                arg = payload
            else:
                arg = F.unpack_json(payload)
                if arg is None:
                    arg = {}
                elif not isinstance(arg, dict):
                    raise Refused(F.ERR_BAD_ARGS, "arguments must be a JSON object")
            reply = fn(self, arg)
            if isinstance(reply, int):      # a transfer chunk, in self.chunk
                self._send(kind, rid, cmd, self.chunk, F.CHUNK_HEAD + reply)
                return
            reply = F.pack_json(reply)
            if len(reply) > F.MAX_PAYLOAD:
                raise Refused(F.ERR_INTERNAL, "reply too long")
        except Refused as ex:
            kind, reply = F.KIND_ERROR, _error(ex.args[0], ex.args[1])
        except (ValueError, TypeError, KeyError) as ex:     # incl. bad JSON, ProfileError, ConfigError
            kind, reply = F.KIND_ERROR, _error(F.ERR_BAD_ARGS, str(ex))
        except OSError as ex:
            kind, reply = F.KIND_ERROR, _error(F.ERR_STORAGE, "flash: %s" % ex)
        except MemoryError:
            kind, reply = F.KIND_ERROR, _error(F.ERR_INTERNAL, "out of memory")
        except Exception as ex:
            self.faults += 1
            self.last_fault = repr(ex)
            kind, reply = F.KIND_ERROR, _error(F.ERR_INTERNAL, repr(ex))
        finally:
            fn = None
            if loaded is not None:
                lazy.drop(*loaded)
        if name is not None and name not in _NO_CACHE:
            self._cache.put(rid, cmd, payload, kind, reply)
        self._send(kind, rid, cmd, reply)

    def _unsolicited(self):
        ev = self.app.events_out
        b = self.board
        if not self.events:
            while ev:
                ev.pop()
        while ev and b.link_room() >= _EVENT_ROOM:
            t_s, code, who, detail = ev.pop(0)
            log = self.app.log
            p = F.pack_json({"run": log.run_id if log else None, "t_s": t_s, "event": code,
                             "who": who, "detail": detail if isinstance(detail, str) else str(detail)})
            if len(p) <= F.MAX_PAYLOAD:
                self._send(F.KIND_EVENT, 0, _CMD_EVENT, p)
        if self.status_ms:
            c = self.clock
            now = c.ticks_ms()
            if c.ticks_diff(now, self.status_t) >= self.status_ms and b.link_room() >= F.MAX_WIRE:
                self.status_t = now
                self._send(F.KIND_EVENT, 0, _CMD_STATUS, F.pack_json(cmd_device.c_status(self, None)))

    def _leave(self):
        # restart / repl once the reply has left (or after _EXIT_WAIT_MS).
        b = self.board
        what, t = self.exit
        if b.link_pending() and self.clock.ticks_diff(self.clock.ticks_ms(), t) < _EXIT_WAIT_MS:
            return
        self.exit = None
        if what == "restart":
            b.restart()
        else:
            b.repl()

    # -- for the command handlers ------------------------------------------
    def engineer(self):
        """The engineer of a live session (it is renewed), else Refused(denied)."""
        user = self.auth.engineer()
        if user is None:
            raise Refused(F.ERR_DENIED, "engineer login needed (auth_challenge, then auth_login)")
        self.user = user
        return user

    def record(self, who, role, action, fields, event, detail):
        """An action: to the audit log always; to the open run's record (and
        event subscribers) via app.note when `event` is given."""
        self.audit.add(who, role, action, fields)
        if event:
            self.app.note(event, who, detail)

    def chunk_reply(self, read, offset, total, n):
        """Transfer reply: the head, then read(offset, n, buf) fills the data."""
        if offset > total:
            raise Refused(F.ERR_BAD_ARGS, "offset %d is past the end (%d bytes)" % (offset, total))
        F.chunk_head_into(self.chunk, offset, total)
        return read(offset, n, self.data)


def _error(code, detail):
    # Error payload with the detail cut to _DETAIL_MAX bytes on a character boundary.
    d = detail.encode()
    if len(d) > _DETAIL_MAX:
        n = _DETAIL_MAX
        while n and d[n] & 0xC0 == 0x80:
            n -= 1
        d = d[:n]
    return bytes((code,)) + d
