"""The panel's link handlers (button refused on real hardware) and the host
side: the screen reply decoded, PNG, terminal rendering, key mapping."""

import base64
import json

import pytest

import panel_fake as F
from crf.link import cmd_panel, frame
from crf.link.args import Refused
from crf_host import panelimg, panelsim


class Server:
    """What the handlers use of crf.link.server.Server."""

    def __init__(self, app):
        self.app = app
        self.board = app.board
        self.chunk = bytearray(frame.MAX_PAYLOAD)
        self.data = memoryview(self.chunk)[frame.CHUNK_HEAD:]


class VButtons:
    def __init__(self):
        self.queue = []

    def press(self, mask, ms):
        if len(self.queue) >= 16:
            return False
        self.queue.append((mask, ms))
        return True


def test_button_is_refused_on_real_hardware(tmp_path):
    app, p = F.make(str(tmp_path))
    with pytest.raises(Refused) as e:
        cmd_panel.c_button(Server(app), {"button": "STOP", "ms": 3000})
    assert e.value.args[0] == frame.ERR_DENIED and "simulation only" in e.value.args[1]


def test_button_names_masks_and_bad_input(tmp_path):
    app, p = F.make(str(tmp_path))
    app.board.panel_buttons = VButtons()
    s = Server(app)
    assert cmd_panel.c_button(s, {"button": ["UP", "STOP"], "ms": 2500}) == {"queued": 1}
    assert app.board.panel_buttons.queue == [(F.UP | F.STOP, 2500)]
    for bad in ({"button": "up"}, {"button": "FIRE"}, {"button": []}, {"button": "OK", "ms": 0},
                {"button": "OK", "ms": "long"}):
        with pytest.raises(Refused) as e:
            cmd_panel.c_button(s, bad)
        assert e.value.args[0] == frame.ERR_BAD_ARGS
    for _ in range(15):
        cmd_panel.c_button(s, {"button": "UP"})
    with pytest.raises(Refused) as e:
        cmd_panel.c_button(s, {"button": "UP"})
    assert e.value.args[0] == frame.ERR_BUSY


def test_screen_reply_is_the_framebuffer_then_state(tmp_path):
    app, p = F.make(str(tmp_path))
    F.settle(app)
    s = Server(app)
    n = cmd_panel.c_screen(s, {})
    off, total, data = frame.unpack_chunk(bytes(s.chunk[:frame.CHUNK_HEAD + n]))
    assert off == 0 and total == len(data) == n
    assert data[:1024] == bytes(app.board.display.shown) and any(data[:1024])
    state = json.loads(data[1024:])
    assert state["screen"] == 0 and state["width"] == 128 and state["alarms"] == 0


def test_screen_without_display_is_not_found(tmp_path):
    app, p = F.make(str(tmp_path))
    app.board.display = None
    with pytest.raises(Refused) as e:
        cmd_panel.c_screen(Server(app), {})
    assert e.value.args[0] == frame.ERR_NOT_FOUND


def test_png_and_terminal_rendering():
    rows = [[1 if (x // 8 + y // 8) % 2 else 0 for x in range(128)] for y in range(64)]
    buf = panelimg.to_buf(rows)
    assert panelimg.pixels(buf) == rows
    data = panelimg.png_bytes(buf, scale=2)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    lines = panelimg.terminal_lines(buf)
    assert len(lines) == 32 and all(len(ln) == 128 for ln in lines)
    assert lines[0][:16] == " " * 8 + "█" * 8
    reply = {"fb": base64.b64encode(buf).decode(), "width": 128, "height": 64}
    assert panelimg.from_reply(reply)[0] == buf
    with pytest.raises(ValueError):
        panelimg.from_reply({"fb": base64.b64encode(buf[:100]).decode()})


def test_read_png_refuses_other_images(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"GIF89a")
    with pytest.raises(ValueError):
        panelimg.read_png(p)


def test_keys_map_to_buttons():
    assert panelsim.decode_keys(b"\x1b[A\x1b[Bk\rsSOaq?") == [
        ("UP", 200), ("DOWN", 200), ("UP", 200), ("OK", 200), ("STOP", 200), ("STOP", 2500),
        ("OK", 2500), (["UP", "DOWN", "OK", "STOP"], 200), (None, 0)]
    reply = {"fb": base64.b64encode(bytes(1024)).decode(), "screen": "home"}
    lines = panelsim.frame_text(reply, {"state": "idle", "run": None}, "OK")
    assert lines[0].startswith("┌") and "screen home" in lines[-2] and "pressed OK" in lines[-2]
