"""Snapshot tests of the panel's key screens: rendered with the real
framebuf on the MicroPython unix port (tests/panel/render_mpy.py) and
compared pixel by pixel with the reviewed references in tests/panel_ref/.

A difference fails the test and writes the new image next to the test's
tmp dir. To accept changed screens on purpose, regenerate the references
(`make panel-ref`, i.e. CRF_PANEL_REF=regenerate) and review them before
committing; the docs/panel/ copies are refreshed at the same time.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crf_host import panelimg
from crf_host.paths import micropython

REPO = Path(__file__).resolve().parents[2]
REF = REPO / "tests" / "panel_ref"
DOCS = REPO / "docs" / "panel"
# The screens shown in docs/panel.md and the README.
DOC_SCREENS = ("home_running", "home_alarm", "confirm_stop", "end_transfer", "entry_batch",
               "preview", "alarms", "confirm_start")


def _render():
    env = dict(os.environ, MICROPYPATH="%s:%s" % (REPO / "firmware", REPO / "tests" / "panel"))
    res = subprocess.run([micropython(), "-X", "heapsize=128wK", str(REPO / "tests/panel/render_mpy.py")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    shots = {}
    for line in res.stdout.splitlines():
        name, hexbuf = line.split()
        shots[name] = bytes.fromhex(hexbuf)
    return shots


@pytest.fixture(scope="module")
def shots():
    return _render()


def test_regenerate_only_on_purpose(shots):
    if os.environ.get("CRF_PANEL_REF") != "regenerate":
        pytest.skip("references are regenerated only with CRF_PANEL_REF=regenerate (make panel-ref)")
    REF.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, buf in shots.items():
        panelimg.write_png(REF / f"{name}.png", buf)
        if name in DOC_SCREENS:
            shutil.copy(REF / f"{name}.png", DOCS / f"{name}.png")


def test_every_screen_has_a_reference(shots):
    missing = [n for n in shots if not (REF / f"{n}.png").exists()]
    assert not missing, f"no reference image for {missing}: run make panel-ref and review them"


@pytest.mark.parametrize("name", ["home_idle", "home_running", "home_alarm", "menu_running", "preview",
                                  "entry_batch", "confirm_start", "confirm_stop", "alarms",
                                  "end_transfer", "end_wait", "stuck"])
def test_screen_matches_reference(shots, name, tmp_path):
    ref = REF / f"{name}.png"
    if not ref.exists():
        pytest.fail(f"{ref} missing: run make panel-ref and review the images")
    want = panelimg.read_png(ref)
    got = panelimg.pixels(shots[name])
    diff = sum(a != b for rw, rg in zip(want, got) for a, b in zip(rw, rg))
    if diff:
        out = tmp_path / f"{name}.png"
        panelimg.write_png(out, shots[name])
        pytest.fail(f"screen {name}: {diff} pixels differ from {ref}; new image: {out}")


def test_png_round_trip(shots, tmp_path):
    buf = shots["home_running"]
    path = tmp_path / "x.png"
    panelimg.write_png(path, buf, scale=3)
    assert panelimg.to_buf(panelimg.read_png(path)) == buf
    # a lit pixel really is lit (not an all-dark image that matches itself)
    assert sum(map(sum, panelimg.pixels(buf))) > 300


def test_docs_copies_are_the_references():
    for name in DOC_SCREENS:
        d = DOCS / f"{name}.png"
        assert d.exists(), f"{d} missing (make panel-ref)"
        assert d.read_bytes() == (REF / f"{name}.png").read_bytes(), f"{d} differs from the reference"
