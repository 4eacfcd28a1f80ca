"""Shared pytest setup: the host imports the firmware's modules from firmware/."""

import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))


@pytest.fixture
def pt100_float32(monkeypatch):
    """The PT100 code computing in 32-bit floats, as on the rp2 port: its
    constants and sqrt as numpy.float32, which then propagates through every
    product. Returns numpy.float32 for the test's inputs."""
    import numpy as np
    from crf.drivers import pt100
    f32 = np.float32
    monkeypatch.setattr(pt100, "A", f32(pt100.A))
    monkeypatch.setattr(pt100, "B", f32(pt100.B))
    monkeypatch.setattr(pt100, "C", f32(pt100.C))
    monkeypatch.setattr(pt100, "sqrt", lambda x: np.sqrt(f32(x)))
    return f32
