# Request arguments of the serial link: checks that name what is wrong, and
# the exception a command handler raises to answer with an error frame.
from crf.link import frame as F

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

ID_MAX = const(32)          # operator, batch, product, user ids
NAME_MAX = const(24)        # profile names (file names on the flash)
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


class Refused(Exception):
    """Answer with an error frame: args (frame.ERR_* code, detail text)."""


def bad(text):
    return Refused(F.ERR_BAD_ARGS, text)


def get_int(a, key, lo, hi, default=None):
    v = a.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise bad("%s: an integer %d..%d is needed" % (key, lo, hi))
    return v


def get_text(a, key, limit=ID_MAX):
    v = a.get(key)
    if v is None:
        return ""
    if not isinstance(v, str) or len(v) > limit:
        raise bad("%s: text of at most %d characters is needed" % (key, limit))
    return v


def operator(a):
    """Who an operator action is recorded under."""
    return get_text(a, "operator") or "operator"


def profile_name(n):
    if not isinstance(n, str) or not 0 < len(n) <= NAME_MAX:
        raise bad("profile name: 1 to %d characters a-z 0-9 _ - are needed" % NAME_MAX)
    for ch in n:
        if ch not in _NAME_CHARS:
            raise bad("profile name %s: only a-z 0-9 _ - are allowed" % n)
    return n
