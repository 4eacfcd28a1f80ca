# Device entry point: the reference board running the freezer firmware.
#
# Ctrl-C is turned off once the firmware is loaded and the board set up: the
# serial link carries binary frames, and a 0x03 byte in them (or line noise)
# must never stop a freeze. An engineer reaches the REPL with the link's
# `repl` command (engineer login, no run in progress): the board raises
# ReplRequested, this script returns with Ctrl-C back on and the port's REPL
# starts (mpremote works again). While the modules load after a reset,
# Ctrl-C still works: the way in when the firmware itself does not answer
# (docs/protocol.md, "Reaching the REPL").
import gc
import micropython

# The largest modules first, with a collection after each, so the compiler's
# scratch memory is freed before the next module's code is placed and the
# heap stays in large pieces (docs/architecture.md, virtual freezer runner).
for _m in ("crf.record.runlog", "crf.link.server", "crf.safety.guard", "crf.panel.ui",
           "crf.panel.screens", "crf.link.cmd_panel", "crf.app"):
    __import__(_m)
    gc.collect()
from crf.boards.pico import Board, ReplRequested
from crf.app import App

board = Board()
micropython.kbd_intr(-1)
try:
    App(board).run()
except ReplRequested:
    micropython.kbd_intr(3)
