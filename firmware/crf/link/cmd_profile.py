# Link commands for the profiles on the flash (<root>/profiles/NAME.json):
# list, get (chunked), put (chunked upload, validated, stored atomically),
# delete, validate. Handlers as in cmd_device.py.
import json
import os
import hashlib
import binascii
from crf.link import frame as F
from crf.link.args import Refused, bad, get_int, profile_name
from crf import lazy
from crf.profile import checked
from crf.record.fileio import read_at

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# The validator is loaded to check an upload, then dropped (crf.lazy).
_VALIDATE = "crf.profile.validate"
_ACCEPTANCE = "crf.profile.acceptance"    # imported by the validator
UPLOAD_MAX = const(8192)    # largest profile text
_LIST_MAX = const(1800)     # the list reply stops here and says "more"


def _path(s, name):
    return s.app.profiles_dir + "/" + name + ".json"


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return None


def _sha_file(s, path):
    h = hashlib.sha256()
    buf = s.data                # the transfer buffer is free between replies
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf[:n])
    return binascii.hexlify(h.digest()).decode()


def _running(s, name):
    app = s.app
    if app.running() and app.profile_name == name:
        raise Refused(F.ERR_BUSY, "profile %s is running" % name)


def c_profile_list(s, a):
    d = s.app.profiles_dir
    out = []
    size = 20
    more = False
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".json"):
            continue
        if size > _LIST_MAX:
            more = True
            break
        path = d + "/" + fn
        out.append({"name": fn[:-5], "bytes": os.stat(path)[6], "sha256": _sha_file(s, path)})
        size += len(fn) + 100
    r = {"profiles": out}  # type: dict
    if more:
        r["more"] = True
    return r


def c_profile_get(s, a):
    name = profile_name(a.get("name"))
    path = _path(s, name)
    total = _size(path)
    if total is None:
        raise Refused(F.ERR_NOT_FOUND, "no profile %s" % name)

    def read(offset, n, buf):
        with open(path, "rb") as f:
            return read_at(f, buf, offset, n)

    offset = get_int(a, "offset", 0, total, 0)
    n = get_int(a, "n", 0, F.MAX_CHUNK, F.MAX_CHUNK)
    if n > total - offset:
        n = total - offset
    return s.chunk_reply(read, offset, total, n)


def drop_upload(s):
    """Forget an unfinished upload and its partial file."""
    up = s.upload
    s.upload = None
    if up is not None:
        try:
            up[2].close()
            os.remove(up[5])
        except OSError:
            pass


def c_profile_put(s, p):
    # 1 byte name length, name, then a chunk (offset, total, data). Chunks
    # arrive in order; offset 0 starts a new upload (replacing any other).
    # They go straight to a file on the flash: RAM holds one chunk, not the
    # profile, whatever its size.
    nl = p[0] if p else 0
    if len(p) < 1 + nl + F.CHUNK_HEAD:
        raise bad("profile_put: name length, name and chunk are needed")
    name = profile_name(bytes(p[1:1 + nl]).decode())
    offset, total, data = F.unpack_chunk(p[1 + nl:])
    if total > UPLOAD_MAX:
        raise bad("profile of %d bytes: at most %d" % (total, UPLOAD_MAX))
    _running(s, name)
    up = s.upload
    now = s.clock.ticks_ms()
    if offset == 0:
        drop_upload(s)
        part = _path(s, name)[:-5] + ".up"
        up = s.upload = [name, total, open(part, "wb"), 0, now, part, hashlib.sha256()]
    elif up is None or up[0] != name or up[1] != total:
        raise Refused(F.ERR_CONFLICT, '{"next":0}')
    if offset != up[3]:
        raise Refused(F.ERR_CONFLICT, '{"next":%d}' % up[3])
    end = offset + len(data)
    if end > total:
        raise bad("chunk ends at %d, past the total %d" % (end, total))
    up[2].write(data)
    up[6].update(data)
    up[3] = end
    up[4] = now
    if end < total:
        return {"next": end}
    s.upload = None
    up[2].close()
    part = up[5]
    s.app.spend_reserve()
    validate = lazy.load(_VALIDATE)
    try:
        with open(part) as f:
            try:
                prof = json.load(f)             # parsed from the flash, no text copy in RAM
            except (ValueError, RuntimeError) as e:
                raise validate.ProfileError([(None, "json", "not valid JSON (%s)" % e)])
        warnings = validate.validate(prof)      # ProfileError: bad_args, one problem a line
        if prof.get("name") != name:
            raise bad("the profile text is named %s, the upload %s" % (prof.get("name"), name))
        path = _path(s, name)
        old = _sha_file(s, path) if _size(path) is not None else None
        os.rename(part, path)                   # atomic: old text or new, never half
    except Exception:
        try:
            os.remove(part)
        except OSError:
            pass
        raise
    finally:
        validate = None
        lazy.drop(_VALIDATE, _ACCEPTANCE)
        s.app.keep_reserve()
    sha = binascii.hexlify(up[6].digest()).decode()
    checked.mark(s.app.profiles_dir, name, sha)     # this text passed: a start need not validate it
    s.record(s.user, "engineer", "profile_put", {"name": name, "sha256": sha, "old_sha256": old},
             "profile_change", "%s stored, sha256 %s (was %s)" % (name, sha[:16], old and old[:16]))
    return {"stored": name, "sha256": sha, "warnings": warnings}


def c_profile_delete(s, a):
    name = profile_name(a.get("name"))
    path = _path(s, name)
    if _size(path) is None:
        raise Refused(F.ERR_NOT_FOUND, "no profile %s" % name)
    _running(s, name)
    old = _sha_file(s, path)
    os.remove(path)
    checked.unmark(s.app.profiles_dir, name)
    s.record(s.user, "engineer", "profile_delete", {"name": name, "old_sha256": old},
             "profile_change", "%s deleted, sha256 %s" % (name, old[:16]))
    return {}


def c_profile_validate(s, p):
    s.app.spend_reserve()
    v = lazy.load(_VALIDATE)
    try:
        return {"warnings": v.validate(v.loads(bytes(p).decode()))}
    finally:
        v = None
        lazy.drop(_VALIDATE, _ACCEPTANCE)
        s.app.keep_reserve()
