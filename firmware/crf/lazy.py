# Modules needed only now and then (the profile validator at upload and
# start, the record scanner at boot) are imported when needed and dropped
# after, so their code is not resident in the heap during a run. They load
# from bytecode (.mpy) as on the board: nothing is compiled in the heap.
# On CPython nothing is dropped. forget() is the one way any module of the
# firmware leaves sys.modules (the autotune, the panel's screens, the
# outage recovery drop themselves with it).
import sys

_MPY = sys.implementation.name == "micropython"
_ours = set()  # type: set[str]  # modules load() imported, the only ones drop() forgets


def load(name):
    if name not in sys.modules:
        __import__(name)
        _ours.add(name)
    return sys.modules[name]


def forget(name):
    """Forget module `name` now (sys.modules and its package's attribute),
    so its code is freed once nothing else holds it."""
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    parent = sys.modules.get(pkg)
    if parent is not None and leaf in parent.__dict__:
        delattr(parent, leaf)


def forget_package(pkg):
    """Forget a package and every module of it."""
    for name in list(sys.modules):
        if name.startswith(pkg + "."):
            forget(name)
    forget(pkg)


def drop(*names):
    """Forget names[0] if load() imported it, with the other names listed
    (modules it imported itself); a module someone else imported stays."""
    if not _MPY or names[0] not in _ours:
        return
    _ours.discard(names[0])
    for name in names:
        forget(name)
