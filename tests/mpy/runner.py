# Test runner for the MicroPython unix port (no unittest/pytest there).
#   micropython -X heapsize=128wK tests/mpy/runner.py [DIR]
# Run from the repo root. Runs every test_*.py in DIR (default tests/mpy) in
# an interpreter of its own with the board's heap (-X heapsize=128wK), so a
# file starts from a fresh heap and not from what earlier files left behind
# (MicroPython never frees interned strings, and the heap does not compact);
# in it, calls each module-level callable named test_*. A test passes when
# it returns without raising.
import gc
import os
import sys

HEAP_ARGS = "-X heapsize=128wK"     # the reference board's heap
# A file whose harness shares the heap with the firmware and holds what the
# device does not: the link fuzz test's host side (two link rings, a frame
# decoder, the plant model, ~25 KB on the 64-bit unix port) gets 8 KiW more.
HEAP_FOR = {"test_link_fuzz_mpy.py": "-X heapsize=136wK"}


def _dir_of(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def run_file(test_dir, fname, result):
    """In the child interpreter: one test file; writes "passed failed" to result."""
    # Firmware first so tests import exactly what the device runs: its
    # bytecode when MICROPYPATH names build/mpy (make test-mpy, pytest),
    # else the sources.
    sys.path.insert(0, test_dir)
    if not [p for p in sys.path if p.endswith("build/mpy")]:
        sys.path.insert(0, "firmware")
    modname = fname[:-3]
    passed = failed = 0
    try:
        mod = __import__(modname)
    except Exception as e:
        mod = None
        failed += 1
        print("FAIL", modname, "(import)")
        sys.print_exception(e)
    for name in sorted(dir(mod)) if mod else ():
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
    with open(result, "w") as f:
        f.write("%d %d" % (passed, failed))


def run(test_dir):
    passed = failed = 0
    me = sys.argv[0]
    # Unique per run: suites running side by side must not share files.
    tag = "".join("%02x" % b for b in os.urandom(4))
    for fname in sorted(os.listdir(test_dir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        result = "/tmp/crf-mpy-runner-%s-%s.res" % (tag, fname[:-3])
        try:
            os.remove(result)
        except OSError:
            pass
        os.system("%s %s %s --file %s %s %s" % (sys.executable, HEAP_FOR.get(fname, HEAP_ARGS), me,
                                                 test_dir, fname, result))
        try:
            with open(result) as f:
                p, fl = f.read().split()
            os.remove(result)
            passed += int(p)
            failed += int(fl)
        except (OSError, ValueError):
            failed += 1
            print("FAIL", fname[:-3], "(the interpreter stopped before reporting)")
    print("%d passed, %d failed" % (passed, failed))
    return failed


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--file":
        run_file(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    test_dir = sys.argv[1] if len(sys.argv) > 1 else _dir_of(sys.argv[0])
    if test_dir.endswith("/"):
        test_dir = test_dir[:-1]
    sys.exit(1 if run(test_dir) else 0)


main()
