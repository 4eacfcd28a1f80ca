"""The front panel's state machine on CPython: a fake App with the link's
operator calls and the alarm layer's contract (tests/panel/panel_fake.py),
buttons as the board's raw bitmask pass by pass (100 ms), drawing into the
framebuf stand-in (text recorded, so a test reads what a screen says)."""


import pytest
from hypothesis import given, settings, strategies as st

import panel_fake as F
from crf.link import auth
from crf.panel import buttons as B
from crf.panel import ui as U


@pytest.fixture
def root(tmp_path):
    F.write_profiles(str(tmp_path))
    return str(tmp_path)


def texts(app):
    return [t[0] for t in app.board.display.fb.texts]


def shown(app):
    """Everything on the display now, as one string."""
    F.settle(app)
    return " | ".join(texts(app))


def enter(app, text, chars="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_."):
    p = app.panel
    for ch in text:
        while p.chars[p.cand] != ch:
            F.press(app, F.UP)
        F.press(app, F.OK)


def to_entry(app, profile_index=0):
    """From the status screen to the batch entry of the start flow."""
    p = app.panel
    F.press(app, F.OK)                       # menu
    assert p.screen == U.MENU
    F.press(app, F.OK)                       # Start run -> profile list (next pass)
    F.settle(app, 2)
    assert p.screen == U.PROFILES
    for _ in range(profile_index):
        F.press(app, F.DOWN)
    F.press(app, F.OK)
    assert p.screen == U.PREVIEW
    F.press(app, F.OK)
    assert p.screen == U.ENTRY


def start_flow(app, batch="B12", product="", operator="ANN", profile_index=0):
    p = app.panel
    to_entry(app, profile_index)
    enter(app, batch)
    F.long_press(app, F.OK)
    enter(app, product)
    F.long_press(app, F.OK)
    enter(app, operator)
    F.long_press(app, F.OK)
    assert p.screen == U.CONFIRM_START


# -- buttons ---------------------------------------------------------------------

def feed(samples, t0=1000):
    """Buttons fed (raw, ms since last) pairs; the events in order."""
    b = B.Buttons(F.Clock().ticks_diff, F.Clock().ticks_add)
    t = t0
    out = []
    for raw, dt in samples:
        t += dt
        ev = b.update(raw, t)
        if ev:
            out.append((ev >> 4, ev & 15))
    return b, out


def test_bounce_and_one_sample_glitch_give_nothing():
    _, ev = feed([(0, 100), (B.OK, 100), (0, 100), (0, 100), (B.OK, 5), (0, 5), (B.OK, 5), (0, 5), (0, 100)])
    assert ev == []


def test_up_repeats_when_held_ok_fires_on_release_stop_long_once():
    _, ev = feed([(0, 100)] + [(B.UP, 100)] * 20 + [(0, 100)] * 3)
    assert ev[0] == (B.UP, B.PRESS)
    assert 5 <= sum(1 for e in ev if e == (B.UP, B.REPEAT)) <= 8
    _, ev = feed([(0, 100)] + [(B.OK, 100)] * 3 + [(0, 100)] * 3)
    assert ev == [(B.OK, B.PRESS)]
    _, ev = feed([(0, 100)] + [(B.STOP, 100)] * 40 + [(0, 100)] * 3)
    assert ev == [(B.STOP, B.LONG)]                # nothing more on release


def test_chord_of_all_buttons_does_nothing_until_all_released():
    b, ev = feed([(0, 100)] + [(B.ALL, 100)] * 50 + [(B.STOP, 100)] * 30 + [(0, 100)] * 3)
    assert ev == [] and b.chords == 1


def test_stuck_button_reported_once_then_ignored_others_still_work():
    samples = [(0, 100)] + [(B.STOP, 100)] * 320          # 32 s
    samples += [(B.STOP | B.OK, 100)] * 3 + [(B.STOP, 100)] * 3   # OK while STOP is stuck
    b, ev = feed(samples)
    assert ev.count((B.STOP, B.STUCK)) == 1
    assert (B.OK, B.PRESS) in ev
    assert (B.STOP, B.LONG) in ev and ev.index((B.STOP, B.LONG)) < ev.index((B.STOP, B.STUCK))
    assert b.stuck == B.STOP
    b.update(0, 10 ** 6)
    b.update(0, 10 ** 6 + 100)
    assert b.stuck == 0                            # released: usable again


def test_ticks_wrap_is_harmless(root):
    app, p = F.make(root)                           # the fake clock wraps in 5 s
    for _ in range(80):
        F.step(app, 100)
    F.press(app, F.OK)
    assert p.screen == U.MENU and p.faults == 0


# -- flows -------------------------------------------------------------------------

def test_start_from_the_panel_records_operator_batch_product(root):
    app, p = F.make(root)
    start_flow(app, batch="B12", product="HPC", operator="ANN")
    assert "B B12" in shown(app) and "O ANN" in shown(app)
    assert not app.calls                           # nothing before the confirmation
    F.press(app, F.OK)
    F.settle(app, 3)
    assert app.calls == [("start", "ANN", "hpc_bag", "B12", "HPC")]
    assert p.screen == U.HOME and "RUN 1/5 hpc_bag" in shown(app)
    assert "sys" not in p.__dict__
    import sys
    assert "crf.panel.forms" not in sys.modules   # the start flow's code is dropped


def test_batch_and_operator_are_required_product_is_not(root):
    app, p = F.make(root)
    to_entry(app)
    F.long_press(app, F.OK)                         # empty batch
    assert p.screen == U.ENTRY and p.field == 1 and p.hint == "a batch id is needed"
    enter(app, "7")
    F.long_press(app, F.OK)
    F.long_press(app, F.OK)                         # empty product: fine
    assert p.field == 3
    F.long_press(app, F.OK)                         # empty operator
    assert p.screen == U.ENTRY and p.hint == "an operator id is needed"


def test_entry_stop_deletes_then_goes_back(root):
    app, p = F.make(root)
    to_entry(app)
    enter(app, "AB")
    assert p.text == "AB"
    F.press(app, F.STOP)
    assert p.text == "A"
    F.press(app, F.STOP)
    F.press(app, F.STOP)
    assert p.screen == U.PREVIEW and not app.calls


def test_refused_start_says_why_and_nothing_runs(root):
    app, p = F.make(root)
    app.refuse = "chamber probe has no reading"
    start_flow(app)
    F.press(app, F.OK)
    F.settle(app, 3)
    assert p.screen == U.MESSAGE and "chamber probe" in "".join(p.msg)
    assert not app.running()


def running(root, operator="ANN"):
    app, p = F.make(root)
    start_flow(app, operator=operator)
    F.press(app, F.OK)
    F.settle(app, 3)
    assert app.running()
    return app, p


def test_short_stop_only_hints_long_stop_asks_ok_stops(root):
    app, p = running(root)
    F.press(app, F.STOP)
    assert app.engine.state == "running" and p.hint == "hold STOP 2 s"
    F.long_press(app, F.STOP)
    assert p.screen == U.CONFIRM_STOP and app.engine.state == "running"
    assert "STOP THE RUN?" in shown(app) and "as ANN" in shown(app)
    F.press(app, F.OK)
    assert app.calls[-1] == ("stop", "ANN") and app.engine.state == "stopped"


def test_stop_confirmation_cancelled_by_stop_or_timeout(root):
    app, p = running(root)
    F.long_press(app, F.STOP)
    F.press(app, F.STOP)
    assert p.screen == U.HOME and app.engine.state == "running"
    F.long_press(app, F.STOP)
    for _ in range(16):                             # 16 s of passes with a tick each second
        for _ in range(9):
            F.step(app, 100)
        F.step(app, 100, ticked=True)
    assert p.screen == U.HOME and app.engine.state == "running"
    F.press(app, F.OK)                              # an OK later opens the menu, not a stop
    assert app.engine.state == "running"


def test_hold_and_continue_from_the_menu_with_the_operator(root):
    app, p = running(root, operator="BO")
    F.press(app, F.OK)
    F.settle(app, 2)
    assert p.items[0] == "Hold"
    F.press(app, F.OK)
    assert app.engine.state == "held" and app.calls[-1] == ("hold", "BO")
    F.press(app, F.OK)
    F.settle(app, 2)
    assert p.items[0] == "Continue"
    F.press(app, F.OK)
    assert app.engine.state == "running" and app.calls[-1] == ("continue", "BO")


def test_menu_during_a_run_offers_no_start_or_settings(root):
    app, p = running(root)
    F.press(app, F.OK)
    F.settle(app, 2)
    assert "Start run" not in p.items and "Settings" not in p.items


def test_alarm_banner_ack_silences_keeps_alarm_listed(root):
    app, p = running(root)
    app.board.buzzer = True
    app.alarms.rows.append(F.Row("chamber_dev", "chamber dev 3.1C", 120))
    F.step(app, 100, ticked=True)
    assert "!chamber dev 3.1" in shown(app)
    F.press(app, F.OK)                              # OK on the status screen: the alarm list
    F.settle(app, 2)
    assert p.screen == U.ALARMS and "!chamber dev 3.1" in shown(app)
    F.press(app, F.OK)
    assert app.calls[-1] == ("ack", "ANN", 1) and app.board.buzzer is False
    assert p.screen == U.ALARMS and " chamber dev 3.1" in shown(app)   # still listed, acked
    assert app.running()


def test_without_an_alarm_layer_the_list_says_so(root):
    app, p = F.make(root, alarms=False)
    F.press(app, F.OK)
    F.settle(app, 2)
    p.sel = 1
    F.press(app, F.OK)                              # "Alarms"
    assert p.screen == U.ALARMS and "(not fitted)" in shown(app)
    F.press(app, F.OK)
    assert p.screen == U.MESSAGE and not app.calls


def test_end_screen_tells_when_to_transfer(root):
    app, p = running(root)
    app.engine.state = "end"
    app.sample_c = -70.0
    F.loop(app, 61)                                 # the status screen looks every 5 s
    out = shown(app)
    assert "WAIT: sample" in out and "TRANSFER" not in out
    app.sample_c = -81.0
    F.loop(app, 61)
    assert "TRANSFER TO LN2" in shown(app) and "STORAGE NOW" in shown(app)


def test_stuck_button_is_reported_and_recorded(root):
    app, p = running(root)
    for _ in range(320):
        F.step(app, 100, F.STOP)
    assert p.stuck == "STOP" and "STOP KEY STUCK" in shown(app)
    assert any("STOP button held 30 s" in n[2] for n in app.notes)
    assert p.screen == U.CONFIRM_STOP               # the long press before it got stuck
    F.step(app, 15000, F.STOP, ticked=True)          # the confirmation times out...
    assert app.engine.state == "running"             # ...and a stuck STOP never confirms


# -- settings behind the engineer PIN ---------------------------------------------

def open_settings(app):
    p = app.panel
    F.press(app, F.OK)
    F.settle(app, 2)
    p.sel = p.items.index("Settings")
    F.press(app, F.OK)
    F.settle(app, 2)


def test_settings_need_the_pin_and_change_it(root):
    auth.set_pin("2468", root)
    app, p = F.make(root)
    open_settings(app)
    assert p.screen == U.ENTRY and p.chars == "0123456789"
    enter(app, "2469")
    F.long_press(app, F.OK)
    assert p.screen == U.MESSAGE and "wrong PIN, 4 attempts left" in "".join(p.msg)
    assert app.notes[-1][0] == "auth"
    F.press(app, F.OK)
    open_settings(app)
    enter(app, "2468")
    assert "****" in shown(app) and "2468" not in shown(app)
    F.long_press(app, F.OK)
    assert p.screen == U.SETTINGS, p.last_fault
    F.press(app, F.DOWN)                             # Change PIN
    F.press(app, F.OK)
    enter(app, "1357")
    F.long_press(app, F.OK)
    enter(app, "1357")
    F.long_press(app, F.OK)
    assert "engineer PIN changed" in "".join(p.msg)
    salt, key = auth.Auth(root, app.clock)._store()
    assert key == auth.pin_key(salt, "1357")


def test_five_wrong_pins_lock_the_settings(root):
    auth.set_pin("2468", root)
    app, p = F.make(root)
    for _ in range(5):
        open_settings(app)
        enter(app, "1111")
        F.long_press(app, F.OK)
        F.press(app, F.OK)
    open_settings(app)
    assert p.screen == U.MESSAGE and "locked" in "".join(p.msg)


def test_no_pin_set_says_so(root):
    app, p = F.make(root)
    open_settings(app)
    enter(app, "1234")
    F.long_press(app, F.OK)
    assert "no PIN set" in "".join(p.msg)


def test_device_info(root):
    app, p = F.make(root)
    F.press(app, F.OK)
    F.settle(app, 2)
    p.sel = p.items.index("Device info")
    F.press(app, F.OK)
    F.settle(app, 2)
    out = shown(app)
    assert "fake-0001" in out and "board fake" in out and "flash " in out, p.last_fault


# -- the loop's budget ------------------------------------------------------------

def test_no_drawing_in_a_control_tick_pass_and_bounded_transfer(root):
    app, p = F.make(root)
    d = app.board.display
    F.settle(app)
    F.press(app, F.OK)                               # dirty
    F.settle(app, 2)
    before = d.steps
    for _ in range(5):
        F.step(app, 300, ticked=True)
    assert d.steps == before                         # nothing sent in tick passes
    p.dirty = True
    F.step(app, 300)                                 # draw
    F.step(app, 100)
    assert d.steps - before <= 4                     # at most 4 pages a pass


def test_status_refresh_sends_only_the_pages_that_changed(root):
    app, p = running(root)
    d = app.board.display
    F.loop(app, 60)                                  # the start hint gone, drawn whole
    assert p.hint is None and not p.sending
    before = d.steps
    F.loop(app, 60)                                  # nothing changed: nothing sent
    assert d.steps == before
    app.sample_c -= 0.5                              # one temperature: pages 2..5
    F.loop(app, 60)
    assert d.steps - before == 4
    before = d.steps
    app.engine.elapsed_ms += 61000                   # the times line: page 7
    F.loop(app, 60)
    assert d.steps - before == 1
    before = d.steps
    app.engine.state = "held"                        # the layout: whole
    F.loop(app, 60)
    assert d.steps - before == 8
    assert p.faults == 0, p.last_fault


def test_an_idle_panel_sleeps_between_ticks_and_a_button_wakes_it(root):
    app, p = running(root)
    F.loop(app, 60)
    served = F.loop(app, 100)                        # 10 s, nothing pressed
    # the 10 ticks' passes, and the passes after each 5 s look (a redraw
    # and its transfer) - not the 100
    assert served <= 10 + 2 * 4, served
    assert p.asleep
    F.loop(app, 1, F.STOP)                           # the interrupt: served at once
    assert not p.asleep
    F.loop(app, 2, F.STOP)
    F.loop(app, 3, 0)
    assert p.hint == "hold STOP 2 s"                 # the short STOP was seen
    F.loop(app, 30)
    assert p.asleep and p.faults == 0


def test_redraw_at_most_4_per_second(root):
    app, p = F.make(root)
    frames = 0
    for i in range(100):                             # 10 s, a press every 200 ms
        F.step(app, 100, F.UP if i % 2 else 0)
        if app.board.display.page == 0:
            frames += 1
    assert frames <= 40


# -- random presses: nothing unintended ------------------------------------------

RAW = st.sampled_from([0, F.UP, F.DOWN, F.OK, F.STOP, F.UP | F.DOWN, 15, F.OK | F.STOP])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(RAW, st.integers(1, 40)), max_size=60))
def test_random_presses_never_start_a_run_without_confirming_never_fault(tmp_path_factory, seq):
    root = str(tmp_path_factory.mktemp("p"))
    F.write_profiles(root)
    app, p = F.make(root)
    for raw, n in seq:
        for _ in range(n):
            F.step(app, 100, raw, ticked=(app.clock.ms // 100) % 10 == 0)
    assert p.faults == 0, p.last_fault
    for c in app.calls:
        if c[0] == "start":
            assert c[3] and c[1], c                  # a batch id and an operator, always
    assert p.screen in range(12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(RAW, st.integers(1, 30)), max_size=40))
def test_random_presses_during_a_run_stop_only_via_long_stop_and_ok(tmp_path_factory, seq):
    root = str(tmp_path_factory.mktemp("p"))
    F.write_profiles(root)
    app, p = running(root)
    app.alarms.rows.append(F.Row("door", "door open", 5))
    last_screen = []
    for raw, n in seq:
        for _ in range(n):
            before = p.screen
            F.step(app, 100, raw)
            if app.engine.state == "stopped" and not last_screen:
                last_screen.append(before)
    assert p.faults == 0, p.last_fault
    if app.engine.state == "stopped":
        assert last_screen == [U.CONFIRM_STOP]       # only ever from the confirmation
    assert all(c[0] != "start" for c in app.calls[1:])
