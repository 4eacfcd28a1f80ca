# Probe model for the virtual freezer: first-order lag, seeded noise,
# converter quantization and injectable faults. Shared by CPython and
# MicroPython, so the noise comes from our own PRNG (identical sequences).

import math

FAULT_KINDS = (None, 'open', 'short', 'stuck', 'offset')


class XorShift32:
    # Small PRNG with the same integer arithmetic on both interpreters.
    def __init__(self, seed):
        s = (int(seed) * 2654435761 + 0x6D2B79F5) & 0xFFFFFFFF
        if s == 0:
            s = 0x9E3779B9  # xorshift must not start at 0
        self.state = s

    def next_u32(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def uniform(self):
        # [0, 1)
        return self.next_u32() / 4294967296.0

    def gauss(self):
        # Sum of 4 uniforms: near-normal, zero mean, unit variance, bounded.
        s = self.uniform() + self.uniform() + self.uniform() + self.uniform()
        return (s - 2.0) * 1.7320508075688772


def quantize(value_c, resolution_c):
    if resolution_c <= 0.0:
        return value_c
    n = value_c / resolution_c
    # round half away from zero so readings are symmetric about 0 C
    k = int(n + 0.5) if n >= 0.0 else -int(-n + 0.5)
    return k * resolution_c


class Probe:
    def __init__(self, tau_s, noise_c, resolution_c, rng, initial_c):
        self.tau_s = tau_s
        self.noise_c = noise_c
        self.resolution_c = resolution_c
        self.rng = rng
        self.lagged_c = initial_c  # what the sensing element itself is at
        self.fault = None
        self.fault_value = 0.0
        self.last_c = None         # last good reading (for 'stuck')

    def alpha(self, dt_s):
        # exact discrete first-order lag factor for a step of dt_s
        if self.tau_s <= 0.0:
            return 1.0
        return 1.0 - math.exp(-dt_s / self.tau_s)

    def set_fault(self, kind, value=0.0):
        if kind not in FAULT_KINDS:
            raise ValueError('fault kind: must be one of None, open, short, stuck, offset')
        if kind == 'stuck':
            if self.last_c is None:
                self.last_c = quantize(self.lagged_c, self.resolution_c)
        self.fault = kind
        self.fault_value = float(value)

    def read(self):
        f = self.fault
        if f == 'open' or f == 'short':
            return None
        if f == 'stuck':
            return self.last_c
        v = self.lagged_c
        if self.noise_c > 0.0:
            v += self.noise_c * self.rng.gauss()
        if f == 'offset':
            v += self.fault_value
        v = quantize(v, self.resolution_c)
        self.last_c = v
        return v
