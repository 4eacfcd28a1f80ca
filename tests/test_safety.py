"""Safety: the alarm rows, the configuration of the limits, the outage
recovery policy, and the fault-injection matrix on the virtual freezer
(docs/safety.md). The full matrix is `make faults`; here a subset of it
(every fault at two moments), which must come out with equal counts."""

import pytest

from crf import config
from crf.safety import guard as A
from crf.safety.guard import Guard
from crf_host import faults
from crf_host.paths import PLANTS_DIR
from crf_host.records import read_run
from crf_host.runner import run_virtual


# -- alarm rows ----------------------------------------------------------------
class _Clock:
    def __init__(self):
        self.rtc = 1798761600

    def rtc_s(self):
        return self.rtc


class _Board:
    alarm_relay = buzzer = led = None

    def set_alarm_relay(self, v):
        self.alarm_relay = v

    def set_buzzer(self, v):
        self.buzzer = v

    def set_led(self, v):
        self.led = v


class _App:
    def __init__(self):
        self.clock = _Clock()
        self.board = _Board()
        self.notes = []

    def note(self, code, who, detail):
        self.notes.append((code, who, detail))


def _idx(code):
    return [r.code for r in A.Alarms(_App()).rows].index(code)


def test_alarm_table_texts_fit_the_panel_and_codes_are_unique():
    rows = A.Alarms(_App()).rows
    codes = [r.code for r in rows]
    assert len(set(codes)) == len(codes) == 16
    assert all(0 < len(r.text) <= 20 for r in rows)
    latching = [r.code for i, r in enumerate(rows) if (A._LATCH >> i) & 1]
    assert "door_open" not in latching and "chamber_probe" in latching
    for code in ("door_open", "chamber_probe", "ln2_supply", "watchdog", "power_fail"):
        assert code in codes


def test_latched_alarm_stays_listed_until_acknowledged_then_clears():
    app = _App()
    al = A.Alarms(app)
    i = _idx("chamber_dev")
    for _ in range(119):
        assert not al.cond(i, True, 1000, 120000)
    assert al.active() == []                             # within its delay
    assert al.cond(i, True, 1000, 120000, v=-40.0, sp=-50.0)
    row = al.active()[0]
    assert (row.code, row.active, row.acked, row.since_s) == ("chamber_dev", True, False, app.clock.rtc)
    assert app.notes[-1] == ("alarm_raised", "controller", "chamber_dev: -40.0 C vs -50.0 C")
    al.cond(i, False, 1000, 120000)                      # condition gone: latched
    assert al.active() == [row] and not row.active and al.unacked() == 1
    assert al.ack("ann") == 1 and al.active() == []
    assert app.notes[-2:] == [("alarm_cleared", "controller", "chamber_dev"),
                              ("alarm_acked", "ann", "chamber_dev")]


def test_acknowledged_alarm_stays_visible_while_its_condition_holds():
    app = _App()
    al = A.Alarms(app)
    i = _idx("ln2_supply")
    al.cond(i, True, 1000, 0)
    assert al.ack("bob") == 1 and al.ack("bob") == 0
    assert al.active()[0].acked and al.unacked() == 0
    al.cond(i, False, 1000, 0)
    assert al.active() == []                             # acked and cleared: gone


def test_non_latching_alarm_goes_when_its_condition_does():
    app = _App()
    al = A.Alarms(app)
    i = _idx("door_open")
    al.cond(i, True, 30000, 30000)
    assert [r.code for r in al.active()] == ["door_open"]
    al.cond(i, False, 1000, 30000)
    assert al.active() == []


def test_relay_is_energised_only_while_healthy_and_buzzer_follows_unacked():
    app = _App()
    g = Guard.__new__(Guard)        # outputs only (no board loop here)
    g.app = app
    g.alarms = A.Alarms(app)
    g._blink = False
    g._outputs()
    assert app.board.alarm_relay is True and app.board.buzzer is False
    g.alarms.cond(_idx("ln2_supply"), True, 1000, 0)
    g._outputs()
    assert app.board.alarm_relay is False and app.board.buzzer is True
    g.alarms.ack("ann")
    g._outputs()
    assert app.board.alarm_relay is False and app.board.buzzer is False   # acked, still present
    g.alarms.cond(_idx("ln2_supply"), False, 1000, 0)
    g._outputs()
    assert app.board.alarm_relay is True


# -- configuration -------------------------------------------------------------
@pytest.mark.parametrize("key,value", [
    ("alarm_chamber_dev_c", 0), ("alarm_chamber_dev_c", 1e9), ("alarm_chamber_min_c", -273.0),
    ("alarm_chamber_max_c", 200.0), ("alarm_band_c", 0), ("alarm_sample_dev_s", 0),
])
def test_a_safety_limit_cannot_be_switched_off_or_set_outside_physics(key, value):
    with pytest.raises(config.ConfigError) as e:
        config.check({key: value})
    assert key in str(e.value) and "safety limit" in str(e.value)


def test_alarm_limits_are_part_of_the_configuration():
    cfg = config.check({"alarm_chamber_dev_c": 3.0, "recover_resume_max_s": 0})
    assert cfg["alarm_chamber_dev_c"] == 3.0 and cfg["recover_resume_max_s"] == 0
    assert {"alarm_chamber_dev_c", "alarm_chamber_dev_s", "alarm_sample_dev_c", "alarm_sample_dev_s",
            "alarm_chamber_min_c", "alarm_chamber_max_c", "alarm_band_c",
            "recover_resume_max_s"} <= set(config.DEFAULTS)


# -- on the virtual freezer ------------------------------------------------------
def _events(out):
    return [e for p in sorted(out.glob("*.run")) for e in read_run(p).events]


def test_a_fault_free_run_raises_no_alarm(tmp_path):
    _, summary, _ = run_virtual(PLANTS_DIR / "bag_50ml.json", "hpc_bag", tmp_path)
    ev = _events(tmp_path)
    assert summary["run_end_s"] is not None
    assert [e for e in ev if e["event"].startswith("alarm")] == [], ev


def test_long_outage_holds_the_product_and_names_the_transfer(tmp_path):
    # Power lost during the freeze for an hour: the next boot records it,
    # alarms, and holds (never warms) waiting for an operator.
    flash = tmp_path / "flash.img"
    plant = PLANTS_DIR / "bag_50ml.json"
    _, s1, _ = run_virtual(plant, "hpc_bag", tmp_path / "a", flash=flash, cut_at_s=2400)
    assert s1["cut"]
    _, s2, _ = run_virtual(plant, "hpc_bag", tmp_path / "b", flash=flash, outage_s=3600,
                           run_for_s=600)
    assert s2["recovered"]["outage_s"] == 3600 and s2["state"] == "held"
    codes = [a[0] for a in s2["alarms"]]
    assert "power_fail" in codes and "outage_hold" in codes
    assert s2["transfer"].startswith("transfer:")
    assert not s2["outputs"]["relay"] and s2["outputs"]["heater"] == 0.0
    ev = _events(tmp_path / "b")
    notes = [e["detail"] for e in ev if e["event"] == "note" and e["detail"].startswith("recovery")]
    assert notes and notes[0].startswith("recovery: hold (outage 3600 s > 900 s")


def test_fault_matrix_subset_detects_every_fault_safely_and_records_it():
    n, det, safe, rec, results = faults.run_matrix(moments=("comp", "end"), workers=2)
    bad = [(r["kind"], r["moment"], r["why"]) for r in results if r["why"]]
    assert n == 2 * len(faults.FAULTS) and det == safe == rec == n, bad


def test_over_cooling_limit_blocks_ln2_independently_of_the_pid(tmp_path):
    # A valve stuck open at the end hold with a 5 C band: over_cool (the hard
    # limit, not the PID) is raised and LN2 stays commanded off.
    import json
    cfg = tmp_path / "band5.json"
    cfg.write_text(json.dumps({"alarm_band_c": 5}))
    s = faults._run(tmp_path, tmp_path / "flash.img",
                    ["--fault", "valve_stuck@end+30/600", "--config", str(cfg),
                     "--exit-after-end", "300", "--run-for", "6000"])
    codes = [a[0] for a in s["alarms"]]
    assert "over_cool" in codes and "valve_stuck" in codes
    assert s["fault"]["outputs"]["ln2_duty"] == 0.0 and not s["outputs"]["relay"]
    assert _events(tmp_path) and any(e["event"] == "alarm_raised" and e["detail"].startswith("over_cool")
                                     for e in _events(tmp_path))
