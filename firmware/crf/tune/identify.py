# Model identification from a relay experiment (Astrom-Hagglund relay
# feedback with hysteresis). The relay switches the heat into the chamber
# between u0 - d (cooling) and u0 + d (heating) whenever the chamber leaves
# the band setpoint +- eps; the loop settles into a limit cycle of period Pu
# and amplitude a (half the mean peak-to-peak swing). By the describing
# function of a relay with hysteresis, N(a) = 4d / (pi a) exp(-j asin(eps/a)),
# the cycle sits where G(j w) = -1 / N(a):
#     |G(j w)| = pi a / (4 d),   arg G(j w) = -pi + asin(eps / a),  w = 2 pi / Pu.
# Period and amplitude are averaged over whole cycles and the phase comes
# from eps / a, not from the timing of single peaks: they hold up on a noisy
# probe and a 1 s control period (the cycle is only ~8 ticks long; its
# sampled timing is too coarse for the phase). The point is the loop as the
# PI sees it, the tick's sample-and-hold included.
#
# One frequency point fixes two parameters. The step that starts the relay
# (the first switch to cooling, from rest) gives the dead time theta; with
# it the phase fixes the time constant and the magnitude the gain of a
# first order plus dead time (FOPDT) model K exp(-theta s) / (tau s + 1):
#     tau = tan(lag - w theta) / w,  K = |G| sqrt(1 + (w tau)^2).
# An integrator takes 90 degrees of the lag, leaving theta_i = (lag - pi/2)/w
# for delay; a time constant takes less, so a FOPDT's step shows more delay
# than theta_i. Unless the step's dead time clearly (two ticks) exceeds
# theta_i, the plant is taken as integrating with dead time,
# k' exp(-theta s) / s, both parameters from the frequency point:
#     theta = (lag - pi/2) / w,  k' = w |G|.
# The chamber (gas coupled to the walls, a leak of under 1 W/K against
# kJ/K of heat capacity) is close to integrating. (The describing function
# takes the peak amplitude for the fundamental's: on the triangular cycle
# of an integrating plant it overstates k' by up to pi^2/8, ~23 %, which
# errs toward gentler gains.)
#
# Pure functions, no firmware state: CPython tests drive them with
# synthetic responses of known models.
import math

REPEAT_CV = 0.15        # period and amplitude must repeat within 15 %
PERIODS = 4             # whole periods in the measured cycles


def _cv(v):
    m = sum(v) / len(v)
    s = 0.0
    for x in v:
        s += (x - m) * (x - m)
    return math.sqrt(s / len(v)) / abs(m) if m else 1.0


def cycles(sw_t, peak_v, skip, noise=0.0):
    """(figures, None) or (None, reason) from the relay's switch log: sw_t[i]
    time (s) of switch i, peak_v[i] the extremum of the reading (deviation
    from the setpoint, K) between switch i and i + 1 (even i: a maximum,
    after a switch to cooling). The first `skip` half cycles are left out.
    Repeatable: period and peak-to-peak swing within REPEAT_CV, the swing
    also within what the reading noise (SD `noise`, K) explains on its own
    (about 1.4 noise per swing; allowed: 2 noise / mean swing on top)."""
    n = len(sw_t) - 1                   # complete half cycles
    if n - skip < 2 * PERIODS:
        return None, "no sustained oscillation: %d relay switches, %d are needed" % (
            len(sw_t), skip + 2 * PERIODS + 1)
    per = []
    p2p = []
    for i in range(skip, n - 1):
        per.append(sw_t[i + 2] - sw_t[i] if i + 2 <= n else 0.0)
        p2p.append(abs(peak_v[i] - peak_v[i + 1]))
    per = per[:-1]
    cp = _cv(per)
    ca = _cv(p2p)
    lim_a = REPEAT_CV + 2.0 * noise * len(p2p) / sum(p2p)
    if cp > REPEAT_CV or ca > lim_a:
        return None, ("relay cycles not repeatable (period varies %.0f %%, amplitude %.0f %%; "
                      "at most %.0f %% and %.0f %%): noise or a load change" % (
                          cp * 100, ca * 100, REPEAT_CV * 100, lim_a * 100))
    return {"a_c": sum(p2p) / len(p2p) / 2.0, "pu_s": (sw_t[n] - sw_t[skip]) / PERIODS}, None


def model(a, eps, d, pu, theta_step, dt=1.0):
    """("fopdt", K, tau, theta) or ("int", k', theta), per watt of relay
    output d; or a refusal reason (str). a: amplitude (K), pu: period (s)."""
    if not (a > 2.0 * eps):
        return "oscillation (%.3f K) within twice the hysteresis (%.3f K): too close to the noise" % (
            a, eps)
    if not (pu > 0.0) or not (d > 0.0):
        return "no oscillation period"
    w = 2.0 * math.pi / pu
    mag = math.pi * a / (4.0 * d)
    lag = math.pi - math.asin(eps / a)
    th = (lag - math.pi / 2.0) / w      # integrating: all the lag beyond 90 deg is delay
    if theta_step is not None and theta_step > th + 2.0 * dt:
        # The step shows more delay than an integrator leaves room for: the
        # rest of the lag is a time constant.
        rest = lag - w * theta_step
        if 0.05 < rest < math.pi / 2.0 - 0.05:
            tau = math.tan(rest) / w
            return ("fopdt", mag * math.sqrt(1.0 + w * w * tau * tau), tau, theta_step)
    return ("int", w * mag, th)


def dead_time(step_t, step_v, noise, eps, dt=1.0):
    """Apparent dead time (s) of the step that starts the relay (the switch
    to cooling from rest at t = 0): where the tangent through the first two
    readings beyond max(3 noise, eps) below the start crosses the start,
    readings dated to the middle of their tick (a mean over it), plus the
    tick's sample-and-hold delay (dt) as in harmonic(). None if the chamber
    never left the band downward (it did not cool)."""
    band = 3.0 * noise
    if band < eps:
        band = eps
    n = len(step_t)
    for i in range(n):
        if step_v[i] < -band:
            t1 = step_t[i] - 0.5 * dt   # the middle of the reading's tick
            if i + 1 < n and step_v[i + 1] < step_v[i]:
                th = t1 - step_v[i] * (step_t[i + 1] - step_t[i]) / (step_v[i + 1] - step_v[i])
                if th < t1:
                    t1 = th if th > 0.0 else 0.0
            return t1 + dt                  # with the tick's sample-and-hold, as harmonic()
    return None
