"""Shared pytest setup: the host imports the firmware's modules from firmware/."""

import sys
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))
