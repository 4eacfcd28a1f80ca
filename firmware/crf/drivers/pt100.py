"""Platinum RTD (PT100 / PT1000) resistance <-> temperature, IEC 60751.

Callendar-Van Dusen:
    R(t) = R0 * (1 + A*t + B*t^2 + C*(t - 100)*t^3),  C term only below 0 C.

Inverse:
- t >= 0 C: the quadratic root, written as 2*d / (A + sqrt(A^2 + 4*B*d)) with
  d = R/R0 - 1, which avoids the cancellation of the textbook form (-A + sqrt(..))
  and so keeps its accuracy in 32-bit floats.
- t < 0 C: Newton's method on the full equation, started from that quadratic
  root (at most a few degrees off at -200 C); 2-3 steps reach well below the
  converter's resolution (about 0.03 C).  All arithmetic is plain float, so the
  rp2 port's 32-bit floats keep the error under 0.01 C (see tests/mpy).
"""

from math import sqrt

A = 3.9083e-3
B = -5.775e-7
C = -4.183e-12

_ITER = 6  # Newton step limit (2-3 are used over -200..0 C)
_TOL = 1e-4  # C; stop once a Newton step is below this


def resistance(t, r0=100.0):
    """Resistance in ohms at t degrees C (forward Callendar-Van Dusen)."""
    x = A * t + B * t * t
    if t < 0.0:
        x = x + C * (t - 100.0) * t * t * t
    return r0 * (x + 1.0)


def temperature(r, r0=100.0):
    """Temperature in degrees C for a resistance r in ohms.

    Valid over the IEC 60751 range (-200..850 C); slightly below -200 C it
    extrapolates the same equation smoothly.
    """
    d = r / r0 - 1.0
    disc = A * A + B * d * 4.0
    if disc < 0.0:  # beyond ~+3900 C: no real root; clamp at the vertex
        disc = 0.0
    t = d * 2.0 / (sqrt(disc) + A)
    if t >= 0.0:
        return t
    for _ in range(_ITER):
        t2 = t * t
        f = A * t + B * t2 + C * (t - 100.0) * t2 * t - d
        fp = A + B * t * 2.0 + C * (t * 4.0 - 300.0) * t2
        dt = f / fp
        t = t - dt
        if abs(dt) < _TOL:
            break
    return t
