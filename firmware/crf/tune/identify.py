# Model identification from a relay experiment (Astrom-Hagglund relay
# feedback with hysteresis). The relay switches the heat into the chamber
# between u0 - d (cooling) and u0 + d (heating) whenever the chamber leaves
# the band setpoint +- eps; the loop settles into a limit cycle of period Pu
# and amplitude a. By the describing function of a relay with hysteresis,
# N(a) = 4d / (pi a) * exp(-j asin(eps / a)), the limit cycle sits where
# G(j w) = -1 / N(a):
#     |G(j w)| = pi a / (4 d),   arg G(j w) = -pi + asin(eps / a),  w = 2 pi / Pu.
# Period and amplitude are averaged over whole cycles, so they hold up on a
# noisy probe and a 1 s control period, where the timing of single peaks
# would not.
#
# One frequency point fixes two parameters. The step that starts the relay
# (the first switch to cooling, from rest) gives the dead time theta; with
# it the phase fixes the time constant and the magnitude the gain of a
# first order plus dead time (FOPDT) model K exp(-theta s) / (tau s + 1):
#     tau = tan(pi - asin(eps/a) - w theta) / w,  K = |G| sqrt(1 + (w tau)^2).
# If the step's dead time does not fit the phase (beyond 90 degrees of lag
# left for the lag: a slower, integrating plant; or more lag than the phase
# allows: noise on the step), the plant is taken as integrating with dead
# time, k' exp(-theta s) / s, both parameters from the relay point:
#     theta = (pi/2 - asin(eps/a)) / w,  k' = w |G|.
# The chamber (gas coupled to the walls, a leak of under 1 W/K against
# kJ/K of heat capacity) is close to integrating.
#
# Pure functions, no firmware state: CPython tests drive them with
# synthetic responses of known models.
import math

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

REPEAT_CV = 0.15        # period and amplitude must repeat within 15 %
_SOLVE_STEPS = const(60)


def _mean(v):
    return sum(v) / len(v)


def _cv(v):
    m = _mean(v)
    if m == 0:
        return 1.0
    s = 0.0
    for x in v:
        s += (x - m) * (x - m)
    return math.sqrt(s / len(v)) / abs(m)


def cycles(sw_t, peak_v, peak_t, skip):
    """Measured figures from the relay's switch log.

    sw_t[i]: time (s) of switch i; peak_v[i], peak_t[i]: the extremum of the
    chamber reading (deviation from the setpoint, K) between switch i and
    i + 1 and its time (s). Even i: switched to cooling (a maximum follows),
    odd i: to heating (a minimum). The first `skip` half cycles are left out
    (transient, bias still adapting). Returns (figures dict, None) or
    (None, reason)."""
    n = len(sw_t) - 1                   # complete half cycles
    if n - skip < 4:
        return None, "no sustained oscillation: %d relay switches, %d are needed" % (
            len(sw_t), skip + 5)
    hp = []
    th = []
    hi = []
    lo = []
    periods = []
    p2p = []
    for i in range(skip, n):
        hp.append(sw_t[i + 1] - sw_t[i])
        th.append(peak_t[i] - sw_t[i])
        if i % 2 == 0:
            hi.append(peak_v[i])
        else:
            lo.append(peak_v[i])
        if i + 1 < n and i >= skip:
            periods.append(sw_t[i + 2] - sw_t[i])
            p2p.append(abs(peak_v[i] - peak_v[i + 1]))
    if not hi or not lo:
        return None, "no sustained oscillation"
    if len(periods) >= 2:
        cp = _cv(periods)
        ca = _cv(p2p)
        if cp > REPEAT_CV or ca > REPEAT_CV:
            return None, ("relay cycles not repeatable (period varies %.0f %%, amplitude %.0f %%; "
                          "at most %.0f %%): noise or a load change" % (
                              cp * 100, ca * 100, REPEAT_CV * 100))
    return {"a_c": (_mean(hi) - _mean(lo)) / 2.0, "center_c": (_mean(hi) + _mean(lo)) / 2.0,
            "half_s": _mean(hp), "theta_s": _mean(th), "pu_s": 2.0 * _mean(hp),
            "cycles": len(hp) // 2}, None


def model(a, eps, d, pu, theta_step):
    """("fopdt", K, tau, theta) or ("int", k', theta), gains per watt of relay
    output; or a refusal reason (str)."""
    if not (d > 0.0):
        return "relay amplitude must be positive"
    if not (pu > 0.0):
        return "no oscillation period"
    if not (a > 2.0 * eps) or not (a > 0.0):
        return "oscillation (%.3f K) within twice the hysteresis (%.3f K): too close to the noise" % (
            a, eps)
    w = 2.0 * math.pi / pu
    mag = math.pi * a / (4.0 * d)
    lag = math.pi - math.asin(eps / a)          # phase lag of the plant at w
    if theta_step is not None and theta_step > 0.0:
        rest = lag - w * theta_step             # lag left for the time constant
        if 0.05 < rest < math.pi / 2.0 - 0.05:
            tau = math.tan(rest) / w
            return ("fopdt", mag * math.sqrt(1.0 + w * w * tau * tau), tau, theta_step)
    return ("int", w * mag, (lag - math.pi / 2.0) / w)


def dead_time(step_t, step_v, noise, eps):
    """Apparent dead time (s) of the step that starts the relay: the first time
    the chamber left its starting band by more than max(3 noise, eps) in the
    expected direction (step_v: deviations after the switch to cooling, so
    negative). None if it never did."""
    band = 3.0 * noise
    if band < eps:
        band = eps
    for i in range(len(step_t)):
        if step_v[i] < -band:
            return step_t[i]
    return None
