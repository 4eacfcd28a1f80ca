# Lists on the panel (menu, alarms, profiles, steps, settings): the cursor
# and the drawing. Loaded on demand with the modules that use them.
from crf.panel import buttons as B
from crf.panel.screens import bar


def cursor(p, b, n):
    """UP/DOWN move the cursor (clamped); True for OK and STOP."""
    if b == B.UP:
        if p.sel > 0:
            p.sel -= 1
        return False
    if b == B.DOWN:
        if p.sel < n - 1:
            p.sel += 1
        return False
    return True


def row(fb, text, y, inverse):
    if inverse:
        fb.fill_rect(0, y - 1, 128, 9, 1)
    fb.text(text[:16], 0, y, 0 if inverse else 1)


def listing(fb, title, rows, sel, foot=None):
    """A title bar and a scrolling list with the cursor row inverted."""
    bar(fb, title[:16], 0)
    n = len(rows)
    last = 5 if foot else 6
    top = sel - last + 1 if sel >= last else 0
    for i in range(last):
        j = top + i
        if j >= n:
            break
        row(fb, rows[j], 11 + 9 * i, j == sel)
    if foot:
        fb.text(foot, 0, 56, 1)
    if n > last:                    # scroll position on the right edge
        h = 54 * last // n
        fb.fill_rect(126, 9 + (54 - h) * top // (n - last), 2, h, 1)
