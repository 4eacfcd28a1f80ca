# Modules needed only now and then (the profile validator at upload and
# start, the record scanner at boot) are imported when needed and dropped
# after, so their code is not resident in the heap during a run. They load
# from bytecode (.mpy) as on the board: nothing is compiled in the heap.
# On CPython nothing is dropped.
import sys

_MPY = sys.implementation.name == "micropython"
_ours = set()  # type: set[str]  # modules load() imported, the only ones drop() forgets


def load(name):
    if name not in sys.modules:
        __import__(name)
        _ours.add(name)
    return sys.modules[name]


def drop(*names):
    """Forget names[0] if load() imported it, with the other names listed
    (modules it imported itself); a module someone else imported stays."""
    if not _MPY or names[0] not in _ours:
        return
    for name in names:
        if name in sys.modules:
            _ours.discard(name)
            del sys.modules[name]
            # The parent package holds the submodule as an attribute too.
            pkg, _, leaf = name.rpartition(".")
            parent = sys.modules.get(pkg)
            if parent is not None and leaf in parent.__dict__:
                delattr(parent, leaf)
