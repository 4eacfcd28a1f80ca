# Link commands of the front panel (docs/protocol.md): `screen` returns what
# the display shows, so support staff see what the operator sees; `button`
# presses panel buttons on the virtual freezer only (refused on real
# hardware: a real freezer's panel is operated by hand). Handlers as in
# cmd_device.py.
from crf.link import frame as F
from crf.link.args import Refused, bad, get_int


def c_screen(s, a):
    # A transfer chunk (offset 0): the framebuffer (width * height / 8
    # bytes, MONO_VLSB), then a small JSON object of the panel's state, put
    # together in the server's preallocated chunk buffer.
    d = getattr(s.board, "display", None)
    if d is None:
        raise Refused(F.ERR_NOT_FOUND, "this freezer has no display")
    import gc
    buf = getattr(d, "shown", d.buf)      # the glass if the board knows it, else the drawing
    r = {"width": d.width, "height": d.height,
         "heap_free": gc.mem_free() if hasattr(gc, "mem_free") else None}
    p = s.app.panel
    if p is not None:
        r["screen"] = p.screen
        r["busy"] = p.sending or p.dirty or p.pending is not None or p.start_req
        r["operator"] = p.operator
        r["hint"] = p.hint
        r["message"] = " ".join(p.msg) if p.screen == 10 else None
        r["alarms"] = p.unacked() if getattr(s.app, "alarms", None) is not None else None
        r["stuck"] = p.stuck
        r["faults"] = p.faults
        r["last_fault"] = None if p.last_fault is None else str(p.last_fault)
    vb = getattr(s.board, "panel_buttons", None)
    if vb is not None:
        r["pending_presses"] = len(vb.queue)
    js = F.pack_json(r)
    n = len(buf)
    s.data[:n] = buf
    s.data[n:n + len(js)] = js
    F.chunk_head_into(s.chunk, 0, n + len(js))
    return n + len(js)


def c_button(s, a):
    vb = getattr(s.board, "panel_buttons", None)
    if vb is None:
        raise Refused(F.ERR_DENIED, "button: simulation only (the virtual freezer with its "
                                    "panel, run.py --panel on); refused on real hardware")
    names = a.get("button")
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, (list, tuple)) or not names:
        raise bad("button: UP, DOWN, OK, STOP or a list of them is needed")
    mask = 0
    for n in names:
        i = "UP DOWN OK STOP".split().index(n) if n in ("UP", "DOWN", "OK", "STOP") else -1
        if i < 0:
            raise bad("button: %s is not one of UP, DOWN, OK, STOP" % n)
        mask |= 1 << i
    if not vb.press(mask, get_int(a, "ms", 1, 120000, 200)):
        raise Refused(F.ERR_BUSY, "button: 16 presses already wait")
    s.board.button_woke = True      # as a board's pin interrupt: the panel wakes
    return {"queued": len(vb.queue)}
