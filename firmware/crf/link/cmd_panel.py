# Link commands of the front panel: `screen` returns what the display shows
# (support staff see what the operator sees); `button` presses a panel
# button on the virtual freezer only (refused on real hardware: nobody may
# operate a real freezer's panel from a laptop). Handlers as in cmd_device.py.
import binascii
from crf.link import frame as F
from crf.link.args import Refused, bad, get_int

_NAMES = ("UP", "DOWN", "OK", "STOP")
_SCREENS = ("home", "menu", "profiles", "preview", "entry", "confirm_start", "confirm_stop",
            "alarms", "settings", "info", "message", "config")


def c_screen(s, a):
    d = getattr(s.board, "display", None)
    if d is None:
        raise Refused(F.ERR_NOT_FOUND, "this freezer has no display")
    buf = getattr(d, "shown", d.buf)      # the glass if the board knows it, else the drawing
    r = {"width": d.width, "height": d.height, "format": "MONO_VLSB",
         "fb": binascii.b2a_base64(buf).decode().strip()}
    p = s.app.panel
    if p is not None:
        r["screen"] = _SCREENS[p.screen] if p.screen < len(_SCREENS) else str(p.screen)
        r["sending"] = p.sending
        r["dirty"] = p.dirty
        r["operator"] = p.operator
        r["faults"] = p.faults
        r["stuck"] = p.btn.stuck
    vb = getattr(s.board, "panel_buttons", None)
    if vb is not None:
        r["pending_presses"] = len(vb.queue)
    return r


def c_button(s, a):
    vb = getattr(s.board, "panel_buttons", None)
    if vb is None:
        raise Refused(F.ERR_DENIED, "button: simulation only, refused on real hardware "
                                    "(press the freezer's own buttons)")
    names = a.get("button")
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, (list, tuple)) or not names:
        raise bad("button: UP, DOWN, OK, STOP or a list of them (pressed together) is needed")
    mask = 0
    for n in names:
        if not isinstance(n, str) or n.upper() not in _NAMES:
            raise bad("button: %s is not one of UP, DOWN, OK, STOP" % n)
        mask |= 1 << _NAMES.index(n.upper())
    ms = get_int(a, "ms", 1, 120000, 200)
    if not vb.press(mask, ms):
        raise Refused(F.ERR_BUSY, "button: %d presses already wait" % vb.MAX)
    return {"queued": len(vb.queue)}
