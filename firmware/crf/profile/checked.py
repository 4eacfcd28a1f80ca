# A profile is validated in full when it is stored (profile_put) or first
# started; the SHA-256 of the text that passed is kept beside it (NAME.ok).
# A run start whose text still has that digest parses it without loading the
# validator, whose ~17 KB would otherwise have to fit into a heap the run
# has already divided up. Any change to the text changes the digest, and
# the validator runs again.
import binascii
import hashlib
import os


def digest(text):
    return binascii.hexlify(hashlib.sha256(text.encode()).digest()).decode()


def _path(pdir, name):
    return pdir + "/" + name + ".ok"


def passed(pdir, name, sha):
    """True if this exact text (its digest sha) passed the validator."""
    try:
        with open(_path(pdir, name)) as f:
            return f.read() == sha
    except OSError:
        return False


def mark(pdir, name, sha):
    tmp = _path(pdir, name) + ".tmp"
    with open(tmp, "w") as f:
        f.write(sha)
    os.rename(tmp, _path(pdir, name))


def unmark(pdir, name):
    try:
        os.remove(_path(pdir, name))
    except OSError:
        pass
