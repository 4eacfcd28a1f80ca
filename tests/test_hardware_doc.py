"""docs/hardware.md has ONE pin-map table and it matches the Pico board
module's pin constants exactly."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "hardware.md"
BOARD = REPO / "firmware" / "crf" / "boards" / "pico.py"


def board_pins():
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"^(_PIN_\w+) = const\((\d+)\)", BOARD.read_text(), re.M)}


def doc_table():
    rows = []
    tables = 0
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| GPIO |"):
            tables += 1
            continue
        m = re.fullmatch(r"GP(\d+)", cells[0]) if line.startswith("|") else None
        if m:
            rows.append((int(m.group(1)), int(cells[1]), cells[2].strip("`"), cells[3]))
    return tables, rows


# physical pin of each GPIO on the Pico / Pico 2 (datasheet pinout)
PICO_PIN = {0: 1, 1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12, 10: 14, 11: 15,
            12: 16, 13: 17, 14: 19, 15: 20, 16: 21, 17: 22, 18: 24, 19: 25, 20: 26, 21: 27,
            22: 29, 26: 31, 27: 32, 28: 34}


def test_one_pin_table_matching_the_board_module():
    tables, rows = doc_table()
    assert tables == 1, "docs/hardware.md must have exactly one pin-map table"
    pins = board_pins()
    assert len(pins) >= 17
    documented = {const: gpio for gpio, _, const, _ in rows}
    assert documented == pins
    gpios = [gpio for gpio, _, _, _ in rows]
    assert len(gpios) == len(set(gpios)), "a GPIO listed twice"
    for gpio, phys, _const, _ in rows:
        assert PICO_PIN[gpio] == phys, "GP%d is Pico pin %d, not %d" % (gpio, PICO_PIN[gpio], phys)


def test_status_led_and_buttons_documented():
    text = DOC.read_text()
    assert '| LED | - | `"LED"` | status LED' in text
    for name, bit in (("UP", 1), ("DOWN", 2), ("OK", 4), ("STOP", 8)):
        assert "`BTN_%s = %d`" % (name, bit) in text
        assert re.search(r"^BTN_%s = const\(%d\)" % (name, bit), BOARD.read_text(), re.M)


def test_safety_section_names_independent_limits():
    text = DOC.read_text()
    for words in ("Over-temperature cut-out", "Normally-closed LN2 valve",
                  "Hardware over-cooling cut-off", "flyback diode"):
        assert words in text
