# Tuning rule and sanity checks. SIMC (Skogestad, "Simple analytic rules for
# model reduction and PID controller tuning", J. Process Control 13, 2003,
# with the tau + theta/3 refinement of Skogestad & Grimholt 2012 for
# delay-dominant plants): PI gains from a FOPDT model with the closed-loop
# time constant tau_c = theta (the "tight but robust" choice, gain margin
# ~3, sensitivity peak ~1.6). Not the Ziegler-Nichols table: its quarter-
# decay gains are aggressive on a plant with dead time and noise.
#   FOPDT K, tau, theta:  kp = (tau + theta/3) / (K (tau_c + theta)),
#                         Ti = min(tau + theta/3, 4 (tau_c + theta))
#   integrating k', theta: kp = 1 / (k' (tau_c + theta)), Ti = 4 (tau_c + theta)
# Gains are in the chamber loop's units: W/K and W/(K s) (ki = kp / Ti).
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

THETA_MIN_S = 0.5
THETA_MAX_S = 300.0
TAU_MAX_S = 1e5
KP_MAX = 1e5            # config limits of chamber_kp / chamber_ki
KI_MAX = 1e4
SCHEDULE_RATIO = 1.25   # gains differing by more than this between temperatures: schedule


def simc(model, tc_factor=1.0):
    """(kp, ki, kd) from a model tuple of identify.fopdt, or a refusal reason."""
    if isinstance(model, str):
        return model
    kind = model[0]
    theta = model[-1]
    if not (THETA_MIN_S <= theta <= THETA_MAX_S):
        return "dead time %.2f s is implausible (%.1f..%.0f s expected)" % (theta, THETA_MIN_S, THETA_MAX_S)
    tc = tc_factor * theta
    if kind == "int":
        k = model[1]
        if not (k > 0.0):
            return "the chamber does not respond to heat as it should (gain %g): check valve and heater" % k
        kp = 1.0 / (k * (tc + theta))
        ti = 4.0 * (tc + theta)
    else:
        k = model[1]
        tau = model[2]
        if not (k > 0.0):
            return "the chamber does not respond to heat as it should (gain %g): check valve and heater" % k
        if not (0.0 <= tau <= TAU_MAX_S):
            return "time constant %g s is implausible" % tau
        t1 = tau + theta / 3.0
        kp = t1 / (k * (tc + theta))
        ti = t1 if t1 < 4.0 * (tc + theta) else 4.0 * (tc + theta)
    ki = kp / ti
    if not (0.0 < kp <= KP_MAX) or not (0.0 < ki <= KI_MAX):
        return "computed gains kp %g W/K, ki %g W/(K s) are outside 0..%g, 0..%g" % (kp, ki, KP_MAX, KI_MAX)
    return kp, ki, 0.0


def proposal(points):
    """Configuration values from the per-temperature results.

    points: list of (t_c, kp, ki, kd). One point, or gains that differ by at
    most SCHEDULE_RATIO: flat gains (the more cautious, lower kp of the set
    and its ki) and an empty schedule; otherwise a schedule over the points
    (flat gains then hold the warmest point, for reference)."""
    pts = sorted(points)
    kps = [p[1] for p in pts]
    kis = [p[2] for p in pts]
    spread = max(max(kps) / min(kps), max(kis) / min(kis))
    if len(pts) < 2 or spread <= SCHEDULE_RATIO:
        i = kps.index(min(kps))
        p = pts[i]
        return {"chamber_kp": _r(p[1]), "chamber_ki": _r(p[2]), "chamber_kd": _r(p[3]),
                "chamber_gain_schedule": []}, spread
    w = pts[-1]
    return {"chamber_kp": _r(w[1]), "chamber_ki": _r(w[2]), "chamber_kd": _r(w[3]),
            "chamber_gain_schedule": [[_r(p[0]), _r(p[1]), _r(p[2]), _r(p[3])] for p in pts]}, spread


def _r(x):
    # Four significant figures: enough for gains, short in config.json.
    if x == 0:
        return 0.0
    m = abs(x)
    d = 0
    while m < 1000.0 and d < 6:
        m *= 10.0
        d += 1
    return round(x, d)
