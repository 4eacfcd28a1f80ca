# Engineer login (crf.link.auth) on the MicroPython unix port and CPython:
# HMAC-SHA256 against RFC 4231, the PIN store keeps no PIN, one attempt per
# nonce, lockout after five failures, session expiry, all on integer ms from
# a clock that wraps.
import json
import os
import sys

from crf.link import auth
from crf.clock import ticks_add, ticks_diff, TICKS_PERIOD

_n = [0]


class Clock:
    def __init__(self):
        self.ms = TICKS_PERIOD - 1000       # crosses the wrap a second in
        self.ticks_diff = ticks_diff

    def ticks_ms(self):
        return self.ms

    def advance(self, ms):
        self.ms = ticks_add(self.ms, ms)


def _root():
    _n[0] += 1
    base = "/tmp" if sys.implementation.name == "micropython" else __import__("tempfile").mkdtemp()
    root = "%s/crf-auth-%d-%d" % (base, os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    try:
        os.mkdir(root)
    except OSError:
        pass
    try:
        os.remove(auth.store_path(root))
    except OSError:
        pass
    return root


def _mac(ch, pin):
    import binascii
    key = auth.pin_key(binascii.unhexlify(ch["salt"]), pin)
    return binascii.hexlify(auth.hmac_sha256(key, binascii.unhexlify(ch["nonce"]))).decode()


def test_hmac_sha256_rfc4231():
    import binascii
    h = binascii.hexlify
    assert h(auth.hmac_sha256(b"Jefe", b"what do ya want for nothing?")) == \
        b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    # case 6: a key longer than the block is hashed first
    assert h(auth.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")) == \
        b"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_pin_store_keeps_salt_and_key_not_the_pin():
    root = _root()
    path = auth.set_pin("482913", root)
    with open(path) as f:
        text = f.read()
    assert "482913" not in text
    d = json.loads(text)
    assert sorted(d) == ["key", "salt"] and len(d["salt"]) == 16 and len(d["key"]) == 64
    for bad in ("12", "12345678901234567", "12a4", ""):
        try:
            auth.set_pin(bad, root)
        except ValueError:
            pass
        else:
            raise AssertionError("PIN %r accepted" % bad)


def test_login_with_the_right_pin_and_one_attempt_per_nonce():
    root = _root()
    auth.set_pin("1234", root)
    a = auth.Auth(root, Clock())
    ch = a.challenge()
    assert ch["pin_set"] and ch["locked_s"] == 0 and len(ch["nonce"]) == 16
    mac = _mac(ch, "1234")
    assert a.login("ann", mac) == (True, None)
    assert a.engineer() == "ann" and a.active() == "ann"
    ok, why = a.login("ann", mac)                # the nonce is spent
    assert not ok and why.startswith("no challenge")
    assert a.engineer() == "ann"                 # a refused login ends no session
    assert a.logout() == "ann" and a.engineer() is None


def test_no_pin_set_refuses():
    root = _root()
    a = auth.Auth(root, Clock())
    ch = a.challenge()
    assert not ch["pin_set"]
    ok, why = a.login("ann", "00" * 32)
    assert not ok and "no PIN" in why


def test_five_failures_lock_for_300_s_then_the_right_pin_works():
    root = _root()
    auth.set_pin("1234", root)
    clock = Clock()
    a = auth.Auth(root, clock)
    for left in (4, 3, 2, 1):
        a.challenge()
        assert a.login("eve", "00" * 32) == (False, "wrong PIN, %d attempts left" % left)
    a.challenge()
    assert a.login("eve", "zz") == (False, "locked")      # malformed counts as wrong
    ch = a.challenge()
    assert ch["locked_s"] == 300
    ok, why = a.login("ann", _mac(ch, "1234"))            # even the right PIN waits
    assert not ok and why == "locked for 300 s"
    clock.advance(299000)
    a.poll()
    assert a.challenge()["locked_s"] == 1
    clock.advance(1000)
    a.poll()
    ch = a.challenge()
    assert ch["locked_s"] == 0
    assert a.login("ann", _mac(ch, "1234")) == (True, None)


def test_session_lasts_15_min_from_the_last_engineer_command():
    root = _root()
    auth.set_pin("1234", root)
    clock = Clock()
    a = auth.Auth(root, clock)
    assert a.login("ann", _mac(a.challenge(), "1234"))[0]
    clock.advance(14 * 60000)
    assert a.engineer() == "ann"                 # renews
    clock.advance(14 * 60000)
    assert a.active() == "ann"                   # looking does not renew ...
    clock.advance(60000)
    a.poll()
    assert a.active() is None and a.engineer() is None


def test_nonce_expires_after_60_s():
    root = _root()
    auth.set_pin("1234", root)
    clock = Clock()
    a = auth.Auth(root, clock)
    ch = a.challenge()
    clock.advance(60000)
    a.poll()
    ok, why = a.login("ann", _mac(ch, "1234"))
    assert not ok and why.startswith("no challenge")
