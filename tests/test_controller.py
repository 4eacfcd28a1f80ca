"""Controller physics: output scaling, frozen-capacity lead, split range in use (CPython)."""
from crf import config
from crf.control.controller import (Controller, MODE_CHAMBER, MODE_SAMPLE,
                                    frozen_capacity_ratio, ln2_cooling_w)

CFG = config.check({})


def test_ln2_cooling_power_falls_as_chamber_cools():
    warm = ln2_cooling_w(CFG, 20.0)
    cold = ln2_cooling_w(CFG, -90.0)
    # 199 kJ/kg latent + 1.04 kJ/kg K of gas warming up to the exhaust temperature
    assert abs(warm - CFG["ln2_flow_kg_min"] / 60 * (199e3 + 1040 * 216)) < 1e-6
    assert 1.3 < warm / cold < 1.45


def test_frozen_capacity_ratio_follows_freeze_concentration():
    assert frozen_capacity_ratio(-2.0, -3.5) == 1.0      # still liquid
    r8 = frozen_capacity_ratio(-8.0, -3.5)
    r20 = frozen_capacity_ratio(-20.0, -3.5)
    r40 = frozen_capacity_ratio(-40.0, -3.5)
    assert r8 > r20 > r40
    assert 4.0 < r8 < 6.0 and 0.6 < r40 < 0.8


def test_cooling_ramp_feeds_forward_through_the_valve_only():
    c = Controller(CFG)
    c.chamber_sp = 0.0
    ln2, heat = c.update(1000, MODE_CHAMBER, 0.0, -10.0 / 60, 0.0, 0.0, 0.0, None)
    assert ln2 > 0.3 and heat == 0.0                      # 10 C/min needs most of the valve
    ln2, heat = c.update(1000, MODE_CHAMBER, 5.0, 0.0, 0.0, 0.0, 0.0, None)
    assert ln2 == 0.0 and heat > 0.0                      # warming uses the heater alone


def test_cascade_lead_grows_when_product_frozen_and_is_rate_limited():
    c = Controller(CFG)
    c.chamber_sp = -10.0
    rate = -1.0 / 60
    for _ in range(5):
        c.update(1000, MODE_SAMPLE, 0.0, 0.0, -10.0, rate, -12.0, -10.0)
    lead_liquid = c.chamber_sp - (-10.0)
    c.nucleated(-3.5)
    c.mode = MODE_CHAMBER                                 # re-enter after the excursion
    sp_before = c.chamber_sp
    c.update(1000, MODE_SAMPLE, 0.0, 0.0, -10.0, rate, -12.0, -10.0)
    step = CFG["cascade_sp_rate_c_min"] / 60
    assert abs(c.chamber_sp - sp_before) <= step + 1e-9   # never faster than the chamber follows
    for _ in range(600):
        c.update(1000, MODE_SAMPLE, 0.0, 0.0, -10.0, rate, -20.0, -10.0)
    assert c.chamber_sp - (-10.0) < lead_liquid - 2.0     # frozen sample: a deeper lead


def test_learn_tau_absorbs_integral():
    c = Controller(CFG)
    c.sample_pid.integral = -2.0                          # PI found 2 K more lead than tau gave
    c.learn_tau(-1.0 / 60)
    assert abs(c.tau_s - 360.0) < 1e-6 and c.sample_pid.integral == 0.0
