# Test runner for the MicroPython unix port (no unittest/pytest there).
#   micropython -X heapsize=128wK tests/mpy/runner.py [DIR]
# Run from the repo root. Imports every test_*.py in DIR (default tests/mpy)
# and calls each module-level callable named test_*; a test passes when it
# returns without raising.
import gc
import sys


def _dir_of(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def _listdir(path):
    import os

    return sorted(os.listdir(path))


def run(test_dir):
    # Firmware first so tests import exactly what the device runs.
    sys.path.insert(0, test_dir)
    sys.path.insert(0, "firmware")
    passed = failed = 0
    for fname in _listdir(test_dir):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        try:
            mod = __import__(modname)
        except Exception as e:
            failed += 1
            print("FAIL", modname, "(import)")
            sys.print_exception(e)
            continue
        for name in sorted(dir(mod)):
            fn = getattr(mod, name)
            if not name.startswith("test_") or not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL", modname + "." + name)
                sys.print_exception(e)
            # Keep heap use per test, not cumulative, under the 128 KiW cap.
            gc.collect()
        del sys.modules[modname]
        gc.collect()
    print("%d passed, %d failed" % (passed, failed))
    return failed


def main():
    test_dir = sys.argv[1] if len(sys.argv) > 1 else _dir_of(sys.argv[0])
    if test_dir.endswith("/"):
        test_dir = test_dir[:-1]
    sys.exit(1 if run(test_dir) else 0)


main()
