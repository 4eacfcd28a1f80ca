# The run header record is built from the JSON text without an extra copy of
# it on MicroPython (memoryview of the str's UTF-8 bytes): at run start a
# fragmented heap may hold only one or two holes of the header's size.
import sys

if sys.implementation.name != "micropython":
    import pytest
    pytest.skip("runs on the MicroPython unix port (tests/mpy/runner.py, make test-mpy)",
                allow_module_level=True)

import gc

from crf.record import format as fmt


def test_str_and_bytes_give_the_same_record_utf8_included():
    text = '{"operator": "Zoë Ångström", "batch": "B-1", "pad": "' + "x" * 1500 + '"}'
    a = fmt.pack_header(text)
    b = fmt.pack_header(text.encode())
    assert a == b
    n = len(text.encode())
    assert len(a) == n + 5 and a[3:3 + n] == text.encode()


def test_no_copy_of_the_text():
    text = '{"pad": "' + "y" * 2000 + '"}'
    gc.collect()
    before = gc.mem_alloc()
    rec = fmt.pack_header(text)
    used = gc.mem_alloc() - before
    # the record itself (~2 KB) and small change, not a second 2 KB copy
    assert len(rec) <= used < len(rec) + 512, used


def test_parts_make_the_record_and_no_copy_of_the_text():
    # What the run log writes at a run start: only the text itself is a
    # piece of KB size; the parts are the record, byte for byte.
    text = '{"operator": "Zoë", "pad": "' + "z" * 2000 + '"}'
    gc.collect()
    before = gc.mem_alloc()
    parts = fmt.header_parts(text)
    used = gc.mem_alloc() - before
    assert used < 256, used
    assert b"".join(bytes(p) for p in parts) == bytes(fmt.pack_header(text))
