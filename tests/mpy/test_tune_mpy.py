# The autotune inside the App on the virtual board (MicroPython unix port,
# 128 KiW heap): the crf.tune package is loaded only while a tune runs and
# leaves sys.modules when it ends; the heap it takes while tuning (budget
# 20 KB); door, LN2 supply, alarms and the engineer's band abort it with the
# outputs off; a power cut mid-tune leaves the configuration as it was;
# refusals at the start. Figures are printed for the report.
import sys

if sys.implementation.name != "micropython":
    import pytest
    pytest.skip("runs on the MicroPython unix port (tests/mpy/runner.py, make test-mpy)",
                allow_module_level=True)

import gc
import os
import json

for _m in ("crf.record.runlog", "crf.profile.validate", "crf.link.server", "crf.app"):
    __import__(_m)
    gc.collect()

from crf.app import App
from crf.link import cmd_tune
from crf_sim.board_virtual import VirtualBoard
from crf_sim.plant import Plant
from crf_sim.plantfile import load_plant
from crf_sim.flashdev import FileBlockDevice

_IMG = "/tmp/crf-test-tune.img"
BUDGET = 20 * 1024


class TuneBoard(VirtualBoard):
    """The virtual board without a link, with door and LN2 supply switches."""

    def __init__(self, plant):
        VirtualBoard.__init__(self, plant, 0.0)
        self.door = False
        self.ln2 = True

    def door_open(self):
        return self.door

    def ln2_supply_ok(self):
        return self.ln2

    def link_read(self, buf):
        return 0

    def link_write(self, data):
        pass

    def link_room(self):
        return 1 << 20

    def link_pending(self):
        return 0


class Alarm:
    def __init__(self, code):
        self.code = code
        self.active = True


class Alarms:
    def __init__(self):
        self.rows = []

    def active(self):
        return self.rows


def _mount(fresh=True):
    import vfs
    dev = FileBlockDevice(_IMG, 256)
    if fresh:
        vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256), "/flash")
    if fresh:
        os.mkdir("/flash/profiles")
        with open("firmware/profiles/selftest.json") as f:
            text = f.read()
        with open("/flash/profiles/selftest.json", "w") as f:
            f.write(text)


def _umount():
    import vfs
    vfs.umount("/flash")


def _app(fresh=True):
    _mount(fresh)
    board = TuneBoard(Plant(load_plant("firmware/crf_sim/plants/bag_50ml.json"), 3))
    app = App(board)
    _passes(app, 3)
    return app, board


def _done():
    _umount()
    os.remove(_IMG)
    gc.collect()


def _passes(app, n):
    for _ in range(n):
        app.pass_once()
        app.board.watchdog_feed()
        app.wait_next_pass()


def _until(app, cond, limit_s=3600):
    for _ in range(limit_s * 10):
        if cond():
            return True
        _passes(app, 1)
    return False


def _loaded():
    return [m for m in sys.modules if m == "crf.tune" or m.startswith("crf.tune.")]


def _result():
    with open("/flash/tune.json") as f:
        return json.loads(f.read())


def _outputs_safe(app, board):
    _passes(app, 2)
    assert not board.valve, "valve open after the tune ended"
    assert board.heater == 0.0, "heater on after the tune ended"
    assert app.ctl.ln2_duty == 0.0 and app.ctl.heater_duty == 0.0


def test_lazy_load_and_heap_budget():
    app, board = _app()
    try:
        assert not _loaded()
        gc.collect()
        before = gc.mem_alloc()
        cmd_tune.start(app, {"at": [-20]}, "t")
        assert _loaded() and app.tuning is not None
        peak = 0
        relay_seen = False
        while app.tuning is not None:
            _passes(app, 10)
            if app.tuning is not None and app.tuning.phase == "relay":
                relay_seen = True
            gc.collect()
            used = gc.mem_alloc() - before
            if used > peak:
                peak = used
        assert relay_seen
        assert _result()["state"] == "done", _result()
        gc.collect()
        after = gc.mem_alloc() - before
        print("tune heap: while tuning peak +%d bytes (budget %d), after the tune +%d bytes"
              % (peak, BUDGET, after))
        assert peak <= BUDGET, "tune takes %d bytes, budget %d" % (peak, BUDGET)
        assert not _loaded(), _loaded()
        import crf
        assert not hasattr(crf, "tune")
        # What stays is interned names (MicroPython never frees qstrs): a second
        # tune reuses them, so nothing grows from tune to tune.
        cmd_tune.start(app, {"at": [-20], "minutes": 5}, "t")
        _passes(app, 50)
        app.tuning.finish("stopped", "test")
        gc.collect()
        again = gc.mem_alloc() - before
        print("after a second tune: +%d bytes" % again)
        assert again - after <= 256, (after, again)
        assert not _loaded()
    finally:
        _done()


def _abort_case(setup, trigger, words, args=None):
    app, board = _app()
    try:
        cfg = dict(app.cfg)
        if setup:
            setup(app, board)
        cmd_tune.start(app, args or {"at": [-20]}, "t")
        assert _until(app, lambda: app.tuning is None or app.tuning.phase == "relay")
        trigger(app, board)
        assert _until(app, lambda: app.tuning is None, 30), "the tune did not stop"
        r = _result()
        assert r["state"] == "aborted", r
        for w in words:
            assert w in r["reason"], r["reason"]
        assert "proposal" not in r
        _outputs_safe(app, board)
        assert app.cfg == cfg
        assert not _loaded()
    finally:
        _done()


def test_door_open_aborts():
    _abort_case(None, lambda app, b: setattr(b, "door", True), ["door"])


def test_ln2_supply_lost_aborts():
    _abort_case(None, lambda app, b: setattr(b, "ln2", False), ["LN2"])


def test_active_alarm_aborts():
    def setup(app, b):
        app.alarms = Alarms()
    _abort_case(setup, lambda app, b: app.alarms.rows.append(Alarm("chamber_high")), ["chamber_high"])


def test_chamber_beyond_engineer_band_aborts():
    # The relay swings the chamber ~1 K: a 0.5 K band is left at once.
    _abort_case(None, lambda app, b: None, ["more than 0.5 K from -20.0"],
                {"at": [-20], "band_c": 0.5})


def test_refusals_at_start():
    app, board = _app()
    try:
        for args, words in (({"at": [-200]}, ["outside the freezer's tuning range"]),
                            ({"at": []}, ["at:"]),
                            ({"at": [-20], "minutes": 1}, ["minutes"]),
                            ({"at": [-20], "min_c": -10}, ["outside the limits"])):
            try:
                cmd_tune.start(app, args, "t")
                raise AssertionError("accepted %r" % (args,))
            except ValueError as ex:
                for w in words:
                    assert w in str(ex), str(ex)
            assert app.tuning is None and not _loaded()
        board.door = True
        try:
            cmd_tune.start(app, {"at": [-20]}, "t")
            raise AssertionError("accepted with the door open")
        except ValueError as ex:
            assert type(ex).__name__ == "NotNow" and "door" in str(ex), str(ex)
        board.door = False
        app.start_run("selftest", "", "", "o")
        try:
            cmd_tune.start(app, {"at": [-20]}, "t")
            raise AssertionError("accepted during a run")
        except ValueError as ex:
            assert "run is in progress" in str(ex), str(ex)
        app.stop("o")
        assert not _loaded()
    finally:
        _done()
