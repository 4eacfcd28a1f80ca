"""Autotune identification and tuning rule (firmware/crf/tune/identify.py,
rule.py) on synthetic plants with known parameters: the firmware's relay
logic on a 1 s control tick (readings are means over the tick, the output
holds over the next) around integrating and first-order-plus-dead-time
plants, with and without noise; refusals for a plant that does not
oscillate, one that answers the wrong way, noise-level cycles, cycles that
do not repeat and implausible models. Also the proposal (flat gains or a
schedule) and the gain schedule's configuration check and interpolation."""

import math
import random

import pytest

from crf import config
from crf.control.controller import Controller
from crf.tune import identify, rule

SKIP, MEASURE = 4, 8        # as crf/tune/cycle.py
TICK = 1.0


def relay(plant, d, eps, noise=0.0, seed=1, sub=50, t_max=1500.0):
    """The firmware's relay (cycle.py) on a synthetic plant.
    plant: ("fopdt", K, tau, theta) | ("int", k, theta); a negative gain
    answers the wrong way. Returns the switch log and the step response."""
    rng = random.Random(seed)
    kind, theta = plant[0], plant[-1]
    dt = TICK / sub
    nd = int(round(theta / dt))
    buf = [0.0] * nd
    bi = y = 0
    y = 0.0
    out = -1
    sw_t, peak_v, step_t, step_v = [0.0], [], [], []
    ext = -1e9
    t = 0.0
    while t < t_max and len(sw_t) - 1 < SKIP + MEASURE:
        acc = 0.0
        for _ in range(sub):
            u = out * d
            if nd:
                ud = buf[bi]
                buf[bi] = u
                bi = (bi + 1) % nd
            else:
                ud = u
            if kind == "fopdt":
                y += dt * (plant[1] * ud - y) / plant[2]
            else:
                y += dt * plant[1] * ud
            acc += y
        t += TICK
        e = acc / sub + (rng.gauss(0.0, noise) if noise else 0.0)
        if len(step_t) < 40:
            step_t.append(t)
            step_v.append(e)
        if out < 0:
            ext = max(ext, e)
            if e < -eps:
                peak_v.append(ext)
                sw_t.append(t)
                out, ext = 1, 1e9
        else:
            ext = min(ext, e)
            if e > eps:
                peak_v.append(ext)
                sw_t.append(t)
                out, ext = -1, -1e9
    return sw_t, peak_v, step_t, step_v


def identify_plant(plant, d=300.0, noise=0.0, eps=None, seed=1):
    eps = max(0.05, 2.0 * noise) if eps is None else eps
    sw_t, peak_v, step_t, step_v = relay(plant, d, eps, noise, seed)
    fig, why = identify.cycles(sw_t, peak_v, SKIP, noise)
    if fig is None:
        return why, None
    th = identify.dead_time(step_t, step_v, noise, eps, TICK)
    if th is None:
        return "did not cool", fig
    return identify.model(fig["a_c"], eps, d, fig["pu_s"], th, TICK), fig


def seen_by_pi(plant):
    """The plant as a PI on the same 1 s tick sees it: one tick more delay."""
    return plant[:-1] + (plant[-1] + TICK,)


@pytest.mark.parametrize("k, theta", [(0.002, 2.0), (0.001, 4.0), (0.0017, 3.0), (0.004, 1.5)])
@pytest.mark.parametrize("noise", [0.0, 0.03])
def test_integrating_plant_recovered(k, theta, noise):
    m, fig = identify_plant(("int", k, theta), noise=noise)
    assert m[0] == "int", m
    # Describing function: k' within its known bias (pi^2/8 at most), dead
    # time (with the tick's sample-and-hold) within 20 % (a cycle of a few
    # 1 s ticks is coarse).
    assert k * 0.95 < m[1] < k * 1.25, m
    assert m[2] == pytest.approx(theta + TICK, rel=0.20), m
    # Gains close to SIMC on the true model, never much more aggressive.
    g, gt = rule.simc(m), rule.simc(seen_by_pi(("int", k, theta)))
    assert 0.7 * gt[0] < g[0] < 1.1 * gt[0] and 0.6 * gt[1] < g[1] < 1.1 * gt[1], (g, gt)


@pytest.mark.parametrize("plant", [("fopdt", 0.02, 200.0, 3.0), ("fopdt", 0.01, 30.0, 4.0),
                                   ("fopdt", 0.005, 10.0, 5.0), ("fopdt", 0.01, 8.0, 6.0)])
@pytest.mark.parametrize("noise", [0.0, 0.03])
def test_fopdt_plant_gains_safe_and_close(plant, noise):
    m, fig = identify_plant(plant, noise=noise)
    assert not isinstance(m, str), m
    g, gt = rule.simc(m), rule.simc(seen_by_pi(plant))
    assert g[0] > 0 and g[1] > 0 and g[2] == 0.0
    # Never more aggressive than SIMC on the true model; the proportional
    # gain close to it, the integral slower when the lag is a time constant.
    assert 0.65 * gt[0] < g[0] <= 1.1 * gt[0], (m, g, gt)
    assert 0.2 * gt[1] < g[1] <= 1.1 * gt[1], (m, g, gt)
    if plant[2] > 20 * plant[3]:
        # Slow plant: integrating with k' = K / tau.
        assert m[0] == "int" and m[1] == pytest.approx(plant[1] / plant[2], rel=0.3)


def test_fopdt_from_an_exact_frequency_point():
    # The FOPDT branch: a point made from a known model gives that model back.
    K, tau, theta, d = 0.01, 3.0, 6.0, 300.0
    w = 0.33
    lag = w * theta + math.atan(w * tau)
    mag = K / math.sqrt(1.0 + (w * tau) ** 2)
    a = 4.0 * d * mag / math.pi
    eps = a * math.sin(math.pi - lag)
    m = identify.model(a, eps, d, 2.0 * math.pi / w, theta, 0.1)
    assert m[0] == "fopdt"
    assert m[1] == pytest.approx(K, rel=1e-6) and m[2] == pytest.approx(tau, rel=1e-6)
    assert m[3] == theta
    kp, ki, kd = rule.simc(m)
    assert kp == pytest.approx((tau + theta / 3) / (K * 2 * theta))
    assert ki == pytest.approx(kp / (tau + theta / 3))


def test_non_oscillating_plant_refused():
    # Too little gain for the relay to leave its band: no cycles.
    m, _ = identify_plant(("int", 1e-7, 2.0), eps=0.05)
    assert isinstance(m, str) and "no sustained oscillation" in m


def test_wrong_way_plant_refused():
    # Heat cools it: the relay runs away, and the step shows no cooling.
    sw_t, peak_v, step_t, step_v = relay(("int", -0.002, 2.0), 300.0, 0.05, t_max=300)
    fig, why = identify.cycles(sw_t, peak_v, SKIP)
    assert fig is None and "no sustained oscillation" in why
    assert identify.dead_time(step_t, step_v, 0.01, 0.05) is None


def test_noise_level_oscillation_refused():
    m = identify.model(0.08, 0.05, 300.0, 8.0, 2.0)
    assert isinstance(m, str) and "too close to the noise" in m


def test_cycles_that_do_not_repeat_refused():
    sw = [0.0]
    pv = []
    for i in range(SKIP + MEASURE):
        sw.append(sw[-1] + (4.0 if i % 4 < 2 else 9.0))
        pv.append((1.0 if i % 2 == 0 else -1.0) * (1.0 if i % 4 < 2 else 2.5))
    fig, why = identify.cycles(sw, pv, SKIP)
    assert fig is None and "not repeatable" in why
    # Noise explains some spread of the swing, not this much.
    fig, why = identify.cycles(sw, pv, SKIP, 0.1)
    assert fig is None and "not repeatable" in why


def test_rule_refuses_implausible_models():
    assert "does not respond" in rule.simc(("int", -0.002, 2.0))
    assert "does not respond" in rule.simc(("fopdt", -0.01, 20.0, 3.0))
    assert "dead time" in rule.simc(("int", 0.002, 0.1))
    assert "dead time" in rule.simc(("int", 0.002, 1000.0))
    assert "outside" in rule.simc(("int", 1e-12, 2.0))           # absurd gains
    assert rule.simc("a reason") == "a reason"


def test_simc_integrating_numbers():
    kp, ki, kd = rule.simc(("int", 0.002, 2.0))
    assert kp == pytest.approx(1 / (0.002 * 4.0)) and ki == pytest.approx(kp / 16.0) and kd == 0.0


def test_proposal_flat_or_schedule():
    prop, spread = rule.proposal([(-20.0, 160.0, 11.0, 0.0), (-60.0, 150.0, 10.0, 0.0)])
    assert spread <= rule.SCHEDULE_RATIO
    assert prop == {"chamber_kp": 150.0, "chamber_ki": 10.0, "chamber_kd": 0.0,
                    "chamber_gain_schedule": []}
    prop, spread = rule.proposal([(-20.0, 190.0, 15.0, 0.0), (-60.0, 150.0, 9.6, 0.0)])
    assert spread > rule.SCHEDULE_RATIO
    assert prop["chamber_gain_schedule"] == [[-60.0, 150.0, 9.6, 0.0], [-20.0, 190.0, 15.0, 0.0]]
    config.check(prop)          # what tune apply stores passes the configuration check


def test_schedule_config_check_and_interpolation():
    rows = [[-60, 100, 5, 0], [-20, 200, 15, 1]]
    cfg = config.check({"chamber_gain_schedule": rows})
    c = Controller(cfg)

    class P:
        pass

    for t, want in ((-80, (100, 5, 0)), (-60, (100, 5, 0)), (-40, (150, 10, 0.5)),
                    (-20, (200, 15, 1)), (10, (200, 15, 1))):
        p = P()
        c._gains(p, cfg["chamber_gain_schedule"], t)
        assert (p.kp, p.ki, p.kd) == pytest.approx(want)
    for bad, words in (([[-20, 1, 1, 1]], "one row"), ([[-20, 1, 1, 1], [-30, 1, 1, 1]], "increase"),
                       ([[-20, 1, 1]], "[t_c, kp, ki, kd]"), ("x", "list"),
                       ([[-20, -1, 1, 1], [0, 1, 1, 1]], "kp must be"),
                       ([[-20, 1, True, 1], [0, 1, 1, 1]], "ki must be")):
        with pytest.raises(config.ConfigError) as e:
            config.check({"chamber_gain_schedule": bad})
        assert "chamber_gain_schedule" in str(e.value) and words in str(e.value), str(e.value)


def test_controller_uses_the_schedule():
    # The same error at two temperatures: more power where the schedule's gains are higher.
    sch = [[-60, 100, 0, 0], [-20, 300, 0, 0]]
    out = {}
    for t in (-60.0, -20.0):
        cfg = config.check({"chamber_gain_schedule": sch, "chamber_ki": 0})
        c = Controller(cfg)
        c.update(1000, 1, t + 1.0, 0.0, 0.0, 0.0, t, None)
        out[t] = c.chamber_pid.kp
    assert out[-60.0] == 100 and out[-20.0] == 300
