# run.py --warm on: before the firmware loads, import every firmware module
# once and forget it again. MicroPython keeps the names a module brings
# (its qstrs) for good, in pools that grow by doubling and never shrink;
# on a freezer in service every module has been loaded at some point (the
# panel's start flow, each link command), so the pools are at that size.
# Loop-time comparisons (make bench-panel) measure in that steady state as
# well as from a cold boot, where a configuration just under a doubling
# looks lighter than it stays.
import gc
import os
import sys


def _names(root, pkg):
    for n in sorted(os.listdir(root)):
        path = root + "/" + n
        if n.endswith(".py"):
            if n != "__init__.py":
                yield pkg + "." + n[:-3]
        elif "." not in n and n != "__pycache__":
            yield from _names(path, pkg + "." + n)


def load_all(firmware, panel):
    """Import and forget every module of crf (but the boards, which need
    their hardware; and the panel's without the panel)."""
    for name in _names(firmware + "/crf", "crf"):
        if ".boards." in name or not panel and ("panel" in name):
            continue
        __import__(name)
        for m in list(sys.modules):
            if m == "crf" or m.startswith("crf."):
                del sys.modules[m]
        gc.collect()
