# tune_result and tune_apply (crf.link.cmd_tune), loaded for the command
# only: the last tune's result, <root>/tune.json, as a chunked transfer read
# straight into the link's chunk buffer; its proposal into the configuration
# through config_set (checked, written atomically, audited), then an audit
# line of its own.
import json
from crf.link import frame as F
from crf.link.args import Refused, get_int


def _path(s):
    return (s.root if s.root != "/" else "") + "/tune.json"


def result(s, a):
    import os
    from crf.record.reader import read_at
    path = _path(s)
    try:
        total = os.stat(path)[6]
    except OSError:
        raise Refused(F.ERR_NOT_FOUND, "no autotune result on this freezer")
    with open(path, "rb") as f:
        return s.chunk_reply(lambda o, n, buf: read_at(f, buf, o, n),
                             get_int(a, "offset", 0, 0x3FFFFFFF, 0), total,
                             get_int(a, "n", 0, F.MAX_CHUNK, F.MAX_CHUNK))


def apply(s, a):
    import gc
    gc.collect()                # the file's text in one piece
    try:
        with open(_path(s)) as f:
            r = json.loads(f.read())
    except (OSError, ValueError):
        raise Refused(F.ERR_NOT_FOUND, "no autotune result on this freezer")
    if r.get("state") != "done" or not r.get("proposal"):
        raise Refused(F.ERR_CONFLICT, "the last autotune proposed no gains (%s: %s)"
                      % (r.get("state"), r.get("reason")))
    from crf import lazy
    try:
        reply = lazy.load("crf.link.cmd_admin").c_config_set(s, {"values": r["proposal"]})
    finally:
        lazy.drop("crf.link.cmd_admin", "crf.config")
    s.audit.add(s.user, "engineer", "tune_apply", {"run": r.get("run"), "changed": reply["changed"]})
    return {"changed": reply["changed"], "run": r.get("run")}
