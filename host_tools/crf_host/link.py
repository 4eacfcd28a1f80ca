"""Host client of the freezer's serial link (protocol v1, docs/protocol.md).

The frame codec is the firmware's own `crf.link.frame`, so both ends share one
definition of the format. A `Client` owns one serial port: it numbers its
requests from a random start, resends the *same* frame (same request id) after
a timeout, so the device's reply cache answers a retry instead of running the
command twice, and keeps unsolicited `event` / `status` frames for
`poll_unsolicited()`. Every failure is a `LinkError` whose text is one
sentence for the person at the terminal; an error frame from the device is a
`DeviceError` (a `LinkError`) with the device's code, name and detail.
"""

import collections
import hashlib
import hmac
import json
import os
import random
import sys
import time

import serial
from serial.tools import list_ports

try:
    from crf.link import frame
except ImportError:  # running from a checkout without the package installed
    from crf_host.paths import FIRMWARE

    sys.path.insert(0, str(FIRMWARE))
    from crf.link import frame

PROTOCOL = frame.VERSION
RASPBERRY_PI_VID = 0x2E8A
_CHUNK_COMMANDS = ("profile_get", "log_fetch", "audit_fetch", "tune_result", "screen")
_UNSOLICITED_MAX = 1000     # kept for poll_unsolicited(); the oldest go first
_READ_WAIT_S = 0.02
PROFILE_MAX = 8192          # largest profile the device stores (profile_put)
PANEL_FB_BYTES = 128 * 64 // 8  # the front panel display (screen command)
# The panel's screens by number (crf.panel.ui), as the screen command reports them.
SCREENS = ("home", "menu", "profiles", "preview", "entry", "confirm_start", "confirm_stop",
           "alarms", "settings", "info", "message", "config")


class LinkError(Exception):
    """One clear sentence for the CLI user (unreachable port, no reply, wrong device, version mismatch)."""


class DeviceError(LinkError):
    """The device answered with an error frame."""

    def __init__(self, code, detail, command=""):
        self.code = code
        self.name = (frame.ERROR_NAMES[code] if 0 < code < len(frame.ERROR_NAMES)
                     else f"error {code}")
        self.detail = detail
        self.command = command
        text = f"the freezer refused {command}: {self.name}" if command else f"{self.name}"
        super().__init__(f"{text} ({detail})" if detail else text)


def find_port(explicit=None):
    """explicit, else $CRF_PORT, else the single attached device (USB VID 0x2E8A = Raspberry Pi,
    via serial.tools.list_ports); LinkError if none or several (naming them)."""
    if explicit:
        return explicit
    env = os.environ.get("CRF_PORT")
    if env:
        return env
    found = sorted(p.device for p in list_ports.comports() if p.vid == RASPBERRY_PI_VID)
    if not found:
        raise LinkError("no freezer found: no Raspberry Pi USB serial device is attached "
                        "(give the port with --port or CRF_PORT)")
    if len(found) > 1:
        raise LinkError(f"several Raspberry Pi USB serial devices are attached ({', '.join(found)}): "
                        "choose one with --port or CRF_PORT")
    return found[0]


def _describe_garbage(data):
    """What a device that sends no valid frames seems to be, for the error text."""
    text = bytes(data[-400:]).decode("utf-8", "replace")
    if "Traceback (most recent call last)" in text:
        last = [ln.strip() for ln in text.splitlines() if ln.strip()][-1]
        return f"the firmware stopped with an error: {last[:120]}"
    if ">>> " in text or "MicroPython" in text:
        return "it shows the MicroPython REPL, not the crf firmware"
    for line in text.splitlines():
        if line.split(" ", 1)[0] in ("OK", "ERR", "EV", "T"):
            return "it speaks the old line protocol v0: update the freezer's firmware"
    return "is it a freezer running the crf firmware?"


class Client:
    def __init__(self, port, baud=115200, timeout_s=2.0, retries=3):
        self.port = port
        self.timeout_s = timeout_s
        self.retries = retries
        try:
            self._ser = serial.Serial(port, baud, timeout=_READ_WAIT_S, write_timeout=timeout_s)
        except (serial.SerialException, OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise LinkError(f"cannot open {port}: {reason}") from None
        self._dec = frame.Decoder()
        self._next_id = random.randint(1, 0xFFFF)
        self._unsolicited = collections.deque(maxlen=_UNSOLICITED_MAX)
        self._replies = {}          # req_id -> (kind, command, payload) arrived out of turn
        self._raw = bytearray()     # recent bytes, to say what a non-freezer sends
        self._raw_count = 0         # bytes received on this port
        self._good = 0              # frames decoded on this port
        try:
            # A lone 0x00 ends whatever noise came before: the first frame starts clean.
            self._ser.write(b"\x00")
        except serial.SerialException as e:
            self._ser.close()
            raise LinkError(f"cannot write to {port}: {e}") from None

    def close(self):
        if self._ser is not None:
            try:
                self._ser.close()
            finally:
                self._ser = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- frames ----------------------------------------------------------

    def _new_id(self):
        rid = self._next_id
        self._next_id = rid % 0xFFFF + 1        # 1..65535, 0 is for unsolicited frames
        return rid

    def _write(self, wire):
        if self._ser is None:
            raise LinkError(f"the link to {self.port} is closed")
        try:
            self._ser.write(wire)
        except serial.SerialTimeoutException:
            raise LinkError(f"cannot send to {self.port}: the device does not take data "
                            f"(no reply within {self.timeout_s:g} s)") from None
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"the link to {self.port} failed: {e}") from None

    def _pump(self, wait_s):
        """Read what arrives within wait_s; file replies and unsolicited frames."""
        try:
            n = self._ser.in_waiting
            data = self._ser.read(n if n else 1) if wait_s > 0 or n else b""
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"the link to {self.port} failed: {e}") from None
        if not data:
            return
        self._raw += data
        del self._raw[:-2048]
        self._raw_count += len(data)
        for kind, rid, cmd, payload in self._dec.feed(data):
            self._good += 1
            if kind == frame.KIND_EVENT:
                name = frame.COMMAND_NAMES.get(cmd, f"0x{cmd:02x}")
                try:
                    body = frame.unpack_json(payload)
                except ValueError:
                    body = {"raw": payload.hex()}
                self._unsolicited.append((name, body))
            elif kind in (frame.KIND_RESPONSE, frame.KIND_ERROR):
                self._replies[rid] = (kind, cmd, payload)
                if len(self._replies) > 64:     # stale replies to abandoned requests
                    self._replies.pop(next(iter(self._replies)))

    def _no_reply(self, seen_before, version_errors_before, raw_before):
        if self._dec.errors[frame.ERR_BAD_VERSION] > version_errors_before:
            return LinkError(f"the device on {self.port} answers in another protocol version: "
                             f"this crf speaks protocol {PROTOCOL}; update the firmware or crf")
        if self._good == seen_before and self._raw_count > raw_before:
            return LinkError(f"{self.port} answers, but not in crf protocol {PROTOCOL}: "
                             + _describe_garbage(self._raw))
        return LinkError(f"no reply from {self.port} within {self.timeout_s:g} s: "
                         "is it a freezer running the crf firmware?")

    def _send(self, command, payload):
        """Send a new request; returns (req_id, command code, wire) for _wait()."""
        try:
            code = frame.COMMANDS[command]
        except KeyError:
            raise LinkError(f"unknown command {command!r}") from None
        rid = self._new_id()
        wire = frame.encode(frame.KIND_REQUEST, rid, code, payload)
        self._write(wire)
        return rid, code, wire

    def _take(self, rid, code, command):
        """The reply to rid if it has arrived: decoded, or raises DeviceError."""
        got = self._replies.pop(rid, None)
        if got is None:
            return None
        kind, cmd, payload = got
        if cmd != code:
            return None                 # a stale reply that reused the id
        if kind == frame.KIND_ERROR:
            code_, detail = payload[0] if payload else frame.ERR_BAD_FRAME, \
                bytes(payload[1:]).decode("utf-8", "replace")
            raise DeviceError(code_, detail, command)
        if command in _CHUNK_COMMANDS:
            try:
                return frame.unpack_chunk(payload)
            except ValueError as e:
                raise LinkError(f"{self.port} sent a malformed {command} chunk: {e}") from None
        try:
            body = frame.unpack_json(payload)
        except ValueError:
            raise LinkError(f"{self.port} sent a reply to {command} that is not JSON") from None
        return {} if body is None else body

    def _wait_all(self, pending, command, timeout_s):
        """pending: {rid: (code, wire)}. Yields (rid, reply) as replies arrive,
        resending a frame unchanged after each timeout, up to `retries` times."""
        seen = self._good
        verr = self._dec.errors[frame.ERR_BAD_VERSION]
        raw = self._raw_count
        deadline = {rid: time.monotonic() + timeout_s for rid in pending}
        tries = {rid: 0 for rid in pending}
        while pending:
            for rid in list(pending):
                reply = self._take(rid, pending[rid][0], command)
                if reply is not None:
                    del pending[rid]
                    yield rid, reply
                    continue
                if time.monotonic() >= deadline[rid]:
                    if tries[rid] >= self.retries:
                        raise self._no_reply(seen, verr, raw)
                    tries[rid] += 1
                    # 0x00 first: the retry is not glued to half a frame of noise.
                    self._write(b"\x00" + pending[rid][1])
                    deadline[rid] = time.monotonic() + timeout_s
            if pending:
                self._pump(_READ_WAIT_S)

    def request(self, command, args=None, payload=None, timeout_s=None):
        """command: name from frame.COMMANDS. args -> JSON payload (or raw `payload` bytes).
        Returns the decoded JSON reply (dict) or, for chunk replies, (offset, total, data).
        Retries the same frame (same req id) on timeout; raises DeviceError / LinkError."""
        body = payload if payload is not None else frame.pack_json(args)
        if len(body) > frame.MAX_PAYLOAD:
            raise LinkError(f"{command}: {len(body)} bytes of arguments, the link takes at most "
                            f"{frame.MAX_PAYLOAD}")
        rid, code, wire = self._send(command, body)
        for _, reply in self._wait_all({rid: (code, wire)}, command,
                                       self.timeout_s if timeout_s is None else timeout_s):
            return reply

    def write_raw(self, data):
        """Bytes onto the link as they are (tests: line noise, hand-made frames)."""
        self._write(bytes(data))

    # -- commands ----------------------------------------------------------

    def identify(self):
        info = self.request("identify")
        proto = info.get("protocol")
        if proto != PROTOCOL:
            raise LinkError(f"the device on {self.port} speaks protocol {proto}, "
                            f"this crf speaks {PROTOCOL}")
        return info

    def status(self):
        return self.request("status")

    def set_time(self, rtc_s=None, operator=""):
        if rtc_s is None:
            rtc_s = int(time.time())
        return self.request("time_set", {"rtc_s": int(rtc_s), "operator": operator})

    def profiles(self):
        return self.request("profile_list").get("profiles", [])

    def _fetch(self, command, args, progress=None, offset=0):
        """A whole object by chunks, two requests in flight; the total is the
        one the first reply gives (an open run's record keeps growing)."""
        out = bytearray()
        off, total, data = self.request(command, dict(args, offset=offset, n=frame.MAX_CHUNK))
        self._check_chunk(command, off, offset, data, min(frame.MAX_CHUNK, total - offset))
        out += data
        if progress:
            progress(offset + len(out), total)
        nxt = offset + len(data)
        pending = {}                # rid -> (code, wire); offsets in `want`
        want = {}
        got = {}
        timeout = self.timeout_s
        while nxt < total or pending:
            while nxt < total and len(pending) < 2:
                n = min(frame.MAX_CHUNK, total - nxt)
                rid, code, wire = self._send(command, frame.pack_json(dict(args, offset=nxt, n=n)))
                pending[rid] = (code, wire)
                want[rid] = (nxt, n)
                nxt += n
            for rid, (o, _t, d) in self._wait_all(pending, command, timeout):
                exp_off, exp_n = want.pop(rid)
                self._check_chunk(command, o, exp_off, d, exp_n)
                got[exp_off] = d
                while offset + len(out) in got:
                    out += got.pop(offset + len(out))
                if progress:
                    progress(offset + len(out), total)
                break               # refill the pipeline
        return bytes(out)

    def _check_chunk(self, command, off, want_off, data, want_n):
        if off != want_off or len(data) != want_n:
            raise LinkError(f"{self.port} sent {len(data)} bytes at offset {off} for {command}, "
                            f"{want_n} at {want_off} were asked")

    def pull_profile(self, name):
        return self._fetch("profile_get", {"name": name}).decode("utf-8")

    def push_profile(self, name, text, progress=None):
        data = text.encode("utf-8")
        total = len(data)
        if total > PROFILE_MAX:
            raise LinkError(f"profile {name} is {total} bytes; the freezer stores at most {PROFILE_MAX}")
        head = bytes((len(name.encode()),)) + name.encode()
        step = frame.MAX_PAYLOAD - len(head) - frame.CHUNK_HEAD
        off = 0
        while True:
            chunk = data[off:off + step]
            try:
                reply = self.request("profile_put",
                                     payload=head + frame.pack_chunk(off, total, chunk))
            except DeviceError as e:
                if e.name == "conflict":        # the device says where to go on
                    try:
                        off = int(json.loads(e.detail)["next"])
                        continue
                    except (ValueError, KeyError, TypeError):
                        pass
                raise
            if progress:
                progress(min(off + len(chunk), total), total)
            if "stored" in reply:
                return reply
            off = reply["next"]

    def delete_profile(self, name):
        return self.request("profile_delete", {"name": name})

    def validate_profile(self, text):
        data = text.encode("utf-8")
        if len(data) > frame.MAX_PAYLOAD:
            raise LinkError(f"the freezer validates profiles of at most {frame.MAX_PAYLOAD} bytes "
                            f"over the link; this one is {len(data)} (validate it on the host)")
        return self.request("profile_validate", payload=data)

    def run_start(self, profile, batch="", product="", operator=""):
        return self.request("run_start", {"profile": profile, "batch": batch, "product": product,
                                          "operator": operator})["run"]

    def run_stop(self, operator=""):
        return self.request("run_stop", {"operator": operator})

    def run_hold(self, operator=""):
        return self.request("run_hold", {"operator": operator})

    def run_continue(self, operator=""):
        return self.request("run_continue", {"operator": operator})

    def run_ack(self, operator="", alarm=None):
        return self.request("run_ack", {"operator": operator, "alarm": alarm})

    def logs(self):
        runs = []
        after = 0
        while True:
            reply = self.request("log_list", {"after": after} if after else None)
            runs += reply.get("runs", [])
            if not reply.get("more") or not runs:
                return runs
            after = runs[-1]["run"]

    def fetch_log(self, run, progress=None, offset=0):
        return self._fetch("log_fetch", {"run": run}, progress, offset)

    def ack_log(self, run):
        return self.request("log_ack", {"run": run})

    def config_get(self):
        return self.request("config_get")

    def config_set(self, values):
        return self.request("config_set", {"values": values})

    def login(self, user, pin):
        """Challenge-response: the PIN never leaves the host."""
        ch = self.request("auth_challenge")
        if not ch.get("pin_set"):
            raise DeviceError(frame.ERR_DENIED, "no PIN is set on the freezer", "auth_login")
        try:
            salt = bytes.fromhex(ch["salt"])
            nonce = bytes.fromhex(ch["nonce"])
        except (KeyError, ValueError, TypeError):
            raise LinkError(f"{self.port} sent a malformed login challenge") from None
        key = hashlib.sha256(salt + str(pin).encode()).digest()
        mac = hmac.new(key, nonce, hashlib.sha256).hexdigest()
        return self.request("auth_login", {"user": user, "mac": mac})

    def logout(self):
        return self.request("auth_logout")

    def audit(self, progress=None):
        return self._fetch("audit_fetch", {}, progress)

    def subscribe(self, status_s=1, events=True):
        return self.request("subscribe", {"status_s": int(status_s), "events": bool(events)})

    def poll_unsolicited(self, timeout_s=0.0):
        """[(command_name, dict)]: status and event frames received so far,
        waiting up to timeout_s for the first if there is none yet."""
        end = time.monotonic() + timeout_s
        while True:
            self._pump(_READ_WAIT_S if timeout_s > 0 else 0)
            if self._unsolicited or time.monotonic() >= end:
                break
        out = list(self._unsolicited)
        self._unsolicited.clear()
        return out

    def restart(self):
        return self.request("restart")

    def repl(self):
        return self.request("repl")

    # -- front panel (docs/protocol.md: screen, button) -----------------------

    def screen(self):
        """What the front panel's display shows: {"width", "height", "format":
        "MONO_VLSB", "fb": base64 of the framebuffer, and the panel's state
        ("screen", "operator", "hint", ...)}. On the link the reply is a chunk:
        width * height / 8 framebuffer bytes, then the state as JSON."""
        import base64

        _, total, data = self.request("screen")
        if len(data) != total:
            raise LinkError(f"{self.port} sent a short screen reply ({len(data)} of {total} bytes)")
        n = PANEL_FB_BYTES
        state = json.loads(bytes(data[n:]).decode()) if len(data) > n else {}
        state["fb"] = base64.b64encode(bytes(data[:n])).decode()
        state["format"] = "MONO_VLSB"
        if isinstance(state.get("screen"), int):
            i = state["screen"]
            state["screen"] = SCREENS[i] if 0 <= i < len(SCREENS) else str(i)
        return state

    def button(self, buttons, ms=200):
        """Press panel buttons ("UP", "DOWN", "OK", "STOP" or a list pressed
        together) for ms of virtual time. Virtual freezer only."""
        return self.request("button", {"button": buttons, "ms": int(ms)})
