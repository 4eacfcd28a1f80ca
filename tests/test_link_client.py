"""The host client (crf_host.link) against stand-in devices on a pty: what it
says when the other end is silent, talks nonsense or another protocol
version; retries with the same frame; two log requests in flight; find_port."""

import os
import threading
import time
import tty

import pytest

from crf.link import frame
from crf_host import link
from crf_host.link import Client, DeviceError, LinkError


class FakeDevice:
    """The master side of a pty; `answer(kind, rid, cmd, payload)` -> list of wire bytes."""

    def __init__(self, answer=None, noise=b""):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.answer = answer
        self.noise = noise
        self.requests = []          # (time, rid, cmd, payload)
        self.in_flight_max = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        dec = frame.Decoder()
        while not self._stop:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for kind, rid, cmd, payload in dec.feed(data):
                self.requests.append((time.monotonic(), rid, cmd, payload))
                if self.noise:
                    os.write(self.master, self.noise)
                if self.answer:
                    for w in self.answer(self, kind, rid, cmd, payload):
                        os.write(self.master, w)

    def close(self):
        self._stop = True
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def device(request):
    devs = []

    def make(answer=None, noise=b""):
        d = FakeDevice(answer, noise)
        devs.append(d)
        return d

    yield make
    for d in devs:
        d.close()


def reply(body):
    def answer(dev, k, rid, cmd, payload):
        return [frame.encode(frame.KIND_RESPONSE, rid, cmd, frame.pack_json(body))]
    return answer


def _version_frame(version, kind, rid, cmd):
    """A well-formed frame (CRC right) of another protocol version."""
    import binascii
    import struct

    body = struct.pack("<BBHBBH", version, kind, rid, cmd, 0, 0)
    body += struct.pack("<I", binascii.crc32(body))
    out = bytearray()         # COBS by hand
    block = bytearray()
    for b in body:
        if b == 0:
            out += bytes((len(block) + 1,)) + block
            block = bytearray()
        else:
            block.append(b)
    out += bytes((len(block) + 1,)) + block + b"\x00"
    return bytes(out)


def test_silent_port_gives_no_reply_in_one_sentence(device):
    d = device()
    with Client(d.port, timeout_s=0.2, retries=1) as c:
        with pytest.raises(LinkError) as e:
            c.identify()
    assert str(e.value) == (f"no reply from {d.port} within 0.2 s: "
                            "is it a freezer running the crf firmware?")
    # The retry was the same frame: same request id, same bytes.
    assert len(d.requests) == 2 and d.requests[0][1:] == d.requests[1][1:]


def test_device_talking_nonsense_is_named(device):
    d = device(noise=b"OK id model=CRF-1 fw=0.1.0\nEV 0 start hpc_bag\n")
    with Client(d.port, timeout_s=0.2, retries=0) as c:
        with pytest.raises(LinkError) as e:
            c.identify()
    assert "not in crf protocol 1" in str(e.value) and "line protocol v0" in str(e.value)
    d2 = device(noise=b"\r\nMicroPython v1.24 on 2024-11-29; Raspberry Pi Pico\r\n>>> ")
    with Client(d2.port, timeout_s=0.2, retries=0) as c:
        with pytest.raises(LinkError) as e:
            c.status()
    assert "MicroPython REPL" in str(e.value)


def test_other_protocol_version_is_named(device):
    d = device(answer=lambda dev, k, rid, cmd, p: [_version_frame(2, frame.KIND_RESPONSE, rid, cmd)])
    with Client(d.port, timeout_s=0.2, retries=0) as c:
        with pytest.raises(LinkError) as e:
            c.identify()
    assert "another protocol version" in str(e.value) and "protocol 1" in str(e.value)
    d2 = device(answer=reply({"protocol": 2, "model": "CRF-9"}))
    with Client(d2.port, timeout_s=0.5) as c:
        with pytest.raises(LinkError) as e:
            c.identify()
    assert str(e.value) == f"the device on {d2.port} speaks protocol 2, this crf speaks 1"


def test_error_frames_become_device_errors(device):
    def answer(dev, k, rid, cmd, p):
        return [frame.encode(frame.KIND_ERROR, rid, cmd, frame.pack_error(frame.ERR_DENIED, "engineer login needed"))]
    d = device(answer=answer)
    with Client(d.port, timeout_s=0.5) as c:
        with pytest.raises(DeviceError) as e:
            c.config_set({"chamber_kp": 1.0})
    assert (e.value.code, e.value.name, e.value.detail) == (9, "denied", "engineer login needed")
    assert isinstance(e.value, LinkError) and "config_set" in str(e.value)


def test_lost_reply_is_retried_with_the_same_frame(device):
    def answer(dev, k, rid, cmd, p):
        if len(dev.requests) == 1:
            return []                 # the first reply is "lost"
        return [frame.encode(frame.KIND_RESPONSE, rid, cmd, frame.pack_json({"run": 7}))]
    d = device(answer=answer)
    with Client(d.port, timeout_s=0.2) as c:
        assert c.run_start("hpc_bag", operator="ann") == 7
    assert len(d.requests) == 2 and d.requests[0][1:] == d.requests[1][1:]


def test_fetch_log_keeps_two_requests_in_flight_and_checks_offsets(device):
    record = bytes((i * 7) % 251 for i in range(10000))
    pending = []

    def answer(dev, k, rid, cmd, p):
        a = frame.unpack_json(p)
        pending.append((rid, a))
        dev.in_flight_max = max(dev.in_flight_max, len(pending))
        if len(pending) < 2 and a["offset"] + a["n"] < len(record) and a["offset"] > 0:
            return []                 # hold the reply until the next request comes
        out = []
        for r, args in pending:
            o, n = args["offset"], args["n"]
            out.append(frame.encode(frame.KIND_RESPONSE, r, cmd,
                                    frame.pack_chunk(o, len(record), record[o:o + n])))
        pending.clear()
        return out

    d = device(answer=answer)
    seen = []
    with Client(d.port, timeout_s=1.0) as c:
        got = c.fetch_log(3, progress=lambda done, total: seen.append((done, total)))
        assert got == record
        assert c.fetch_log(3, offset=6000) == record[6000:]
    assert d.in_flight_max == 2
    assert seen[-1] == (len(record), len(record))
    offsets = [frame.unpack_json(p)["offset"] for _, _, _, p in d.requests]
    assert offsets[:5] == [0, 2040, 4080, 6120, 8160]


def test_find_port(monkeypatch):
    class P:
        def __init__(self, device, vid):
            self.device, self.vid = device, vid

    monkeypatch.delenv("CRF_PORT", raising=False)
    ports = [P("/dev/ttyS0", None), P("/dev/ttyACM3", 0x2E8A)]
    monkeypatch.setattr(link.list_ports, "comports", lambda: ports)
    assert link.find_port("/dev/x") == "/dev/x"
    assert link.find_port() == "/dev/ttyACM3"
    monkeypatch.setenv("CRF_PORT", "/dev/ttyUSB9")
    assert link.find_port() == "/dev/ttyUSB9"
    monkeypatch.delenv("CRF_PORT")
    ports.append(P("/dev/ttyACM4", 0x2E8A))
    with pytest.raises(LinkError) as e:
        link.find_port()
    assert "/dev/ttyACM3, /dev/ttyACM4" in str(e.value)
    ports[:] = []
    with pytest.raises(LinkError) as e:
        link.find_port()
    assert "no freezer found" in str(e.value)
