# Engineer login for the serial link: a PIN store on the device's flash and a
# challenge-response login, so the PIN never crosses the link.
#
# <root>/auth.json holds {"salt": hex, "key": hex} with key = SHA-256(salt || PIN)
# (salt: 8 random bytes, PIN as UTF-8); the PIN itself is never stored.
# Set it from the REPL:  import crf.link.auth as a; a.set_pin("1234")
#
# Login: auth_challenge gives a fresh random nonce (8 bytes, valid for one
# attempt and at most 60 s) and the salt; the host answers
# HMAC-SHA256(key, nonce). Five wrong answers in a row lock logins for 300 s.
# A session lasts 15 min from its last engineer command. All times are
# integer ms from the board clock (ticks_ms / ticks_diff).
import binascii
import hashlib
import json
import os

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

FAILS_MAX = const(5)
LOCK_MS = const(300000)
SESSION_MS = const(900000)
NONCE_MS = const(60000)
_BLOCK = const(64)          # SHA-256 block size (HMAC pads the key to it)
_SALT = const(8)
_NONCE = const(8)
PIN_MIN = const(4)
PIN_MAX = const(16)


def store_path(root="/"):
    return (root if root != "/" else "") + "/auth.json"


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) from hashlib: MicroPython has no hmac module."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = bytearray(_BLOCK)
    k[:len(key)] = key
    ipad = bytearray(_BLOCK)
    opad = bytearray(_BLOCK)
    for i in range(_BLOCK):
        ipad[i] = k[i] ^ 0x36
        opad[i] = k[i] ^ 0x5C
    inner = hashlib.sha256(ipad)
    inner.update(msg)
    outer = hashlib.sha256(opad)
    outer.update(inner.digest())
    return outer.digest()


def pin_key(salt, pin):
    """SHA-256(salt || PIN as UTF-8): what the device stores instead of the PIN."""
    return hashlib.sha256(bytes(salt) + pin.encode()).digest()


def set_pin(pin, root="/"):
    """Store a new engineer PIN (4-16 digits) on the flash at root; returns its path."""
    pin = str(pin)
    if not (PIN_MIN <= len(pin) <= PIN_MAX and pin.isdigit()):
        raise ValueError("PIN: %d to %d digits" % (PIN_MIN, PIN_MAX))
    salt = os.urandom(_SALT)
    text = json.dumps({"salt": _hex(salt), "key": _hex(pin_key(salt, pin))})
    path = store_path(root)
    tmp = path[:-5] + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)            # atomic: the old PIN or the new one, never neither
    return path


def _hex(b):
    return binascii.hexlify(b).decode()


def _same(a, b):
    # Constant-time comparison of two equal-length byte strings.
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


class Auth:
    """Login state of one link: nonce, failure count and lock, session."""

    def __init__(self, root, clock):
        self.path = store_path(root)
        self.clock = clock
        self.user = None            # engineer of the open session
        self._last = 0              # session: ticks of its last engineer command
        self._nonce = None
        self._nonce_t = 0
        self._fails = 0
        self._locked = False
        self._lock_t = 0

    def _store(self):
        # Read each time: set_pin() from the REPL takes effect without a restart.
        try:
            with open(self.path) as f:
                d = json.loads(f.read())
            return binascii.unhexlify(d["salt"]), binascii.unhexlify(d["key"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def poll(self):
        """Once per loop pass: end an expired session, lock or nonce (before
        the tick counter could wrap around to them)."""
        c = self.clock
        now = c.ticks_ms()
        if self.user is not None and c.ticks_diff(now, self._last) >= SESSION_MS:
            self.user = None
        if self._locked and c.ticks_diff(now, self._lock_t) >= LOCK_MS:
            self._locked = False
        if self._nonce is not None and c.ticks_diff(now, self._nonce_t) >= NONCE_MS:
            self._nonce = None

    def locked_s(self):
        if not self._locked:
            return 0
        left = LOCK_MS - self.clock.ticks_diff(self.clock.ticks_ms(), self._lock_t)
        return (left + 999) // 1000 if left > 0 else 0

    def challenge(self):
        st = self._store()
        self._nonce = os.urandom(_NONCE)
        self._nonce_t = self.clock.ticks_ms()
        return {"nonce": _hex(self._nonce), "salt": _hex(st[0]) if st else "",
                "pin_set": st is not None, "locked_s": self.locked_s()}

    def login(self, user, mac_hex):
        """(True, None) when the mac proves the PIN, else (False, reason);
        the reason is "locked" once this failure locks logins."""
        nonce = self._nonce
        self._nonce = None                      # one attempt per nonce
        if self._locked:
            return False, "locked for %d s" % self.locked_s()
        if nonce is None:
            return False, "no challenge: ask auth_challenge first (a nonce serves one attempt, 60 s)"
        st = self._store()
        if st is None:
            return False, "no PIN set on the device: set one from the REPL or the front panel"
        try:
            mac = binascii.unhexlify(mac_hex)
        except (ValueError, TypeError):
            mac = b""
        if _same(mac, hmac_sha256(st[1], nonce)):
            self._fails = 0
            self.user = user
            self._last = self.clock.ticks_ms()
            return True, None
        self._fails += 1
        if self._fails >= FAILS_MAX:
            self._fails = 0
            self._locked = True
            self._lock_t = self.clock.ticks_ms()
            return False, "locked"
        return False, "wrong PIN, %d attempts left" % (FAILS_MAX - self._fails)

    def active(self):
        """The user of a live session, without counting this as a command."""
        if self.user is not None and self.clock.ticks_diff(self.clock.ticks_ms(), self._last) < SESSION_MS:
            return self.user
        return None

    def engineer(self):
        """The user of a live session (its 15 min restart now), or None."""
        if self.user is None:
            return None
        c = self.clock
        now = c.ticks_ms()
        if c.ticks_diff(now, self._last) >= SESSION_MS:
            self.user = None
            return None
        self._last = now
        return self.user

    def logout(self):
        user = self.user
        self.user = None
        return user
