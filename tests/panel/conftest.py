# The panel's CPython tests import the firmware with the framebuf stand-in.
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for p in (str(HERE), str(REPO / "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)
