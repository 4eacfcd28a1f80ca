# The virtual freezer on the MicroPython unix port:
#   micropython -X heapsize=128wK firmware/crf_sim/run.py [options]
# The unchanged firmware runs against VirtualBoard; the link is stdin/stdout.
# Options are listed in docs/architecture.md.
#
# This script is compiled from source inside the heap, so it is kept small:
# the start (options, flash, board, App: crf_sim/start.py) is loaded as
# bytecode and forgotten before the loop (crf_sim/loop.py); the finish
# (records out, summary: crf_sim/finish.py) is loaded after it.
import sys
import gc

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_FIRMWARE = _HERE.rsplit("/", 1)[0] if "/" in _HERE else ".."
if _FIRMWARE not in sys.path:
    sys.path.append(_FIRMWARE)      # after MICROPYPATH: build/mpy when the host set it


def _opt(name, value):
    i = sys.argv.index(name) if name in sys.argv else -1
    return i >= 0 and sys.argv[i + 1:][:1] == [value]


# The front panel (crf.panel) is fitted unless --panel off (loop-time
# comparisons without it).
_PANEL = not _opt("--panel", "off")
if _opt("--warm", "on"):
    # Loop-time benchmarks in the steady state (crf_sim/warm.py).
    from crf_sim import warm
    warm.load_all(_FIRMWARE, _PANEL)
    del sys.modules["crf_sim.warm"]
    gc.collect()
# The firmware's largest modules first, with a collection after each, so
# the heap stays in large pieces (128 KiW heap; see docs/architecture.md).
for _m in ("crf.record.runlog", "crf.link.server", "crf.safety.guard", "crf.panel.ui",
           "crf.panel.screens", "crf.link.cmd_panel", "crf.app"):
    if _PANEL or "panel" not in _m:
        __import__(_m)
        gc.collect()


def main(argv):
    from crf import lazy
    from crf_sim import start
    v = start.setup(argv, _HERE, _FIRMWARE)
    start = None
    lazy.forget("crf_sim.start")
    if isinstance(v, int):
        return v
    from crf_sim import loop
    loop.run(v)
    from crf_sim import finish
    return finish.finish(v)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
