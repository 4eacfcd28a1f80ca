# Lumped physical model of the LN2 controlled-rate freezer for the virtual
# freezer: chamber gas + wall/rack nodes, delayed LN2 injection, heater, fan,
# sample units with supercooling and latent heat, and the two probes.
# Equations, parameter values and their sources: docs/plant-model.md.
# Runs unchanged on CPython and the MicroPython unix port.

import math

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from crf_sim.sensor import XorShift32, Probe

L_N2 = 199000.0      # J/kg, LN2 latent heat of vaporisation
CP_N2 = 1040.0       # J/(kg K), nitrogen gas
T_LN2 = -196.0       # deg C, LN2 boiling point (rounded)
WALL_REF_C = 20.0    # wall heat capacity is specified at this temperature


class Plant:
    def __init__(self, spec, seed=None):
        self.spec = spec
        if seed is None:
            seed = spec['seed']
        self.seed = seed
        self.dt_ms = spec['dt_ms']
        dt = self.dt_ms / 1000.0
        self._dt_s = dt
        self.t_ms = 0
        self._carry_ms = 0
        t0 = spec['initial_c']
        self.ambient_c = spec['ambient_c']

        c = spec['chamber']
        self.gas_j_per_k = c['gas_j_per_k']
        self._wall_c0 = c['wall_j_per_k']
        self._wall_beta = c['wall_cp_slope_per_k']
        self._hgw = c['gas_wall_w_per_k']
        self._ua = c['leak_w_per_k']
        self._fan_w = c['fan_w']
        self._heater_w = c['heater_w']

        n = spec['ln2']
        self._flow_kg_s = n['flow_kg_per_min'] / 60.0
        self._keep = 1.0 - n['line_loss']
        self.line_loss = n['line_loss']
        nd = n['delay_ms'] // self.dt_ms
        self._ring = bytearray(nd)   # valve states in transit (delay)
        self._ring_i = 0
        sup = n['supply']
        self._sup_kind = sup['kind']
        self._sup = sup
        self._sup_i = 0
        self.ln2_kg = 0.0
        self.supply_factor = self._supply_factor()

        md = spec['medium']
        self.tm_c = md['tm_c']
        cpl = md['cp_liquid_kj_per_kgk'] * 1000.0
        cpf = md['cp_frozen_kj_per_kgk'] * 1000.0
        lat = md['latent_kj_per_kg'] * 1000.0
        tm = self.tm_c
        dc = cpl - cpf
        self._cpl = cpl
        # equilibrium curve below Tm as a quadratic a*T^2 - b*T + c = 0
        self._qa = cpf
        self._qb0 = cpf * tm - dc * tm + lat
        self._qc = tm * (lat - dc * tm)
        self._cpf = cpf
        self._lat = lat
        self._dc = dc
        self._n_block = max(1, 1000 // self.dt_ms)
        self._block_s = self._n_block * dt
        self._kc = math.exp(-self._block_s / md['crystal_tau_s'])

        # sample units, preallocated flat lists
        rng = XorShift32(seed)
        sc_lo, sc_hi = md['supercool_c']
        mass = []
        ha = []
        tnuc = []
        self.probe_unit = 0
        for e in spec['samples']:
            if e['probe']:
                self.probe_unit = len(mass)
            m = e['volume_ml'] * md['density_g_per_ml'] / 1000.0
            for _ in range(e['count']):
                mass.append(m)
                ha.append(e['h_w_m2k'] * e['area_m2'])
                tnuc.append(tm - (sc_lo + (sc_hi - sc_lo) * rng.uniform()))
        nu = len(mass)
        self.n_units = nu
        self._m = mass
        self._ha = ha
        self.nucleation_units_c = tnuc   # each unit's nucleation temperature
        self._h = [m * cpl * (t0 - tm) for m in mass]
        self.units_c = [t0] * nu
        self._x = [-1.0] * nu            # crystallisation progress, <0 liquid
        self._gs = 0.0
        for v in ha:
            self._gs += v
        self._s = self._gs * t0          # sum(hA_i * T_i)
        self._sum_tg = 0.0
        self._blk = 0

        self.chamber_c = t0
        self.wall_c = t0
        self.sample_c = t0
        self._hw = self._wall_h(t0)
        self.ln2_kg = 0.0
        self.q_ln2_j = 0.0
        self.q_heater_j = 0.0
        self.q_fan_j = 0.0
        self.q_ambient_j = 0.0
        self.q_samples_j = 0.0
        self.nucleation_ms = None
        self.nucleation_c = None

        se = spec['sensors']
        res = se['resolution_c']
        nrng = XorShift32(seed ^ 0x5A5A5A5A)   # noise stream apart from nucleation
        self._chamber_probe = Probe(se['chamber']['tau_s'], se['chamber']['noise_c'], res, nrng, t0)
        self._sample_probe = Probe(se['sample']['tau_s'], se['sample']['noise_c'], res, nrng, t0)
        self._ac = self._chamber_probe.alpha(dt)
        self._as = self._sample_probe.alpha(self._block_s)

    # --- wall enthalpy with heat capacity C0*(1 + beta*(T - 20)) ---
    def _wall_h(self, t):
        u = t - WALL_REF_C
        return self._wall_c0 * (u + 0.5 * self._wall_beta * u * u)

    def _wall_t(self, hw):
        h = hw / self._wall_c0
        b = self._wall_beta
        if b == 0.0:
            return WALL_REF_C + h
        d = 1.0 + 2.0 * b * h
        if d < 0.0:
            d = 0.0
        return WALL_REF_C + 2.0 * h / (1.0 + math.sqrt(d))

    def _supply_factor(self):
        k = self._sup_kind
        s = self._sup
        if k == 'constant':
            return s['factor']
        if k == 'dewar':
            left = s['initial_kg'] - self.ln2_kg
            if left <= 0.0:
                return 0.0
            low = s['low_kg']
            if left >= low:
                return 1.0
            f = s['floor_factor']
            return f + (1.0 - f) * left / low
        pts = s['points']
        t = self.t_ms / 1000.0
        i = self._sup_i
        while i + 1 < len(pts) and pts[i + 1][0] <= t:
            i += 1
        self._sup_i = i
        if t <= pts[0][0]:
            return pts[0][1]
        if i + 1 >= len(pts):
            return pts[i][1]
        t0, f0 = pts[i]
        t1, f1 = pts[i + 1]
        return f0 + (f1 - f0) * (t - t0) / (t1 - t0)

    def step(self, dt_ms, valve_open, heater_duty, fan_on=True):
        step_ms = self.dt_ms
        self._carry_ms += dt_ms
        n = self._carry_ms // step_ms
        if n <= 0:
            return
        self._carry_ms -= n * step_ms
        if heater_duty < 0.0:
            heater_duty = 0.0
        elif heater_duty > 1.0:
            heater_duty = 1.0
        dt = self._dt_s
        cg = self.gas_j_per_k
        cg_dt = cg / dt
        hgw = self._hgw
        ua = self._ua
        amb = self.ambient_c
        p_heat = self._heater_w * heater_duty
        p_fan = self._fan_w if fan_on else 0.0
        p_in = p_heat + p_fan
        keep = self._keep
        flow = self._flow_kg_s
        ring = self._ring
        nring = len(ring)
        ri = self._ring_i
        vin = 1 if valve_open else 0
        const_sup = self._sup_kind == 'constant'
        tg = self.chamber_c
        tw = self.wall_c
        hw = self._hw
        gs = self._gs
        s = self._s
        ln2 = self.ln2_kg
        q_ln2 = self.q_ln2_j
        q_amb = self.q_ambient_j
        q_smp = self.q_samples_j
        ac = self._ac
        pc = self._chamber_probe.lagged_c
        sum_tg = self._sum_tg
        blk = self._blk
        nblk = self._n_block
        fac = self.supply_factor
        lin = L_N2 - CP_N2 * T_LN2   # J/kg at 0 deg C exhaust
        for _ in range(n):
            if nring:
                v = ring[ri]
                ring[ri] = vin
                ri += 1
                if ri == nring:
                    ri = 0
            else:
                v = vin
            if not const_sup:
                self.ln2_kg = ln2
                fac = self._supply_factor()
            if v:
                draw = flow * fac
                ln2 += draw * dt
                mc = draw * keep
            else:
                mc = 0.0
            # gas: backward Euler (stiff node), wall and samples at known temperatures
            tg = (cg_dt * tg - mc * lin + p_in + hgw * tw + s) / (cg_dt + mc * CP_N2 + hgw + gs)
            q_ln2 -= mc * (lin + CP_N2 * tg) * dt
            q_wall = hgw * (tg - tw) * dt
            q_leak = ua * (amb - tw) * dt
            q_amb += q_leak
            q_smp -= (gs * tg - s) * dt
            hw += q_wall + q_leak
            tw = self._wall_t(hw)
            pc += (tg - pc) * ac
            sum_tg += tg
            blk += 1
            self.t_ms += step_ms
            if blk == nblk:
                s = self._samples(sum_tg, blk)
                sum_tg = 0.0
                blk = 0
        self._ring_i = ri
        self.chamber_c = tg
        self.wall_c = tw
        self._hw = hw
        self._s = s
        self.ln2_kg = ln2
        self.supply_factor = fac
        self.q_ln2_j = q_ln2
        self.q_ambient_j = q_amb
        self.q_samples_j = q_smp
        self.q_heater_j += p_heat * dt * n
        self.q_fan_j += p_fan * dt * n
        self._chamber_probe.lagged_c = pc
        self._sum_tg = sum_tg
        self._blk = blk

    def _samples(self, sum_tg, k):
        # Apply one block of gas->sample heat: exactly what the gas gave up.
        dt = self._dt_s
        ha = self._ha
        hs = self._h
        ms = self._m
        ts = self.units_c
        xs = self._x
        tn = self.nucleation_units_c
        tm = self.tm_c
        cpl = self._cpl
        kc = self._kc
        qa = self._qa
        qb0 = self._qb0
        qc = self._qc
        ac4 = 4.0 * qa * qc
        s = 0.0
        for i in range(self.n_units):
            g = ha[i]
            h = hs[i] + g * (sum_tg - k * ts[i]) * dt
            hs[i] = h
            hm = h / ms[i]
            tl = tm + hm / cpl       # metastable (unfrozen) liquid temperature
            x = xs[i]
            if x < 0.0:
                t = tl
                if tl <= tn[i]:
                    xs[i] = 0.0      # nucleated; latent release starts next block
                    if i == self.probe_unit:
                        self.nucleation_ms = self.t_ms
                        self.nucleation_c = tl
            elif hm >= 0.0:
                xs[i] = -1.0         # melted back
                t = tl
            else:
                x = 1.0 - (1.0 - x) * kc
                xs[i] = x
                b = qb0 + hm
                te = 2.0 * qc / (b + math.sqrt(b * b - ac4))
                t = tl + x * (te - tl)
            ts[i] = t
            s += g * t
        self.sample_c = ts[self.probe_unit]
        p = self._sample_probe
        p.lagged_c += (self.sample_c - p.lagged_c) * self._as
        return s

    def equilibrium_c(self, h_j_per_kg):
        """Equilibrium temperature of the medium at a specific enthalpy (0 = liquid at Tm)."""
        if h_j_per_kg >= 0.0:
            return self.tm_c + h_j_per_kg / self._cpl
        b = self._qb0 + h_j_per_kg
        return 2.0 * self._qc / (b + math.sqrt(b * b - 4.0 * self._qa * self._qc))

    def samples_energy_j(self):
        """Enthalpy of all sample units (0 = liquid at Tm), incl. heat in transit, J."""
        e = (self._gs * self._sum_tg - self._blk * self._s) * self._dt_s
        for h in self._h:
            e += h
        return e

    def stored_energy_j(self):
        """Enthalpy of gas + wall + samples, J (reference: 0 C gas, 20 C wall)."""
        return self.gas_j_per_k * self.chamber_c + self._hw + self.samples_energy_j()

    def read_chamber_probe(self):
        return self._chamber_probe.read()

    def read_sample_probe(self):
        return self._sample_probe.read()

    def set_fault(self, probe, kind, value=0.0):
        self._probe(probe).set_fault(kind, value)

    def fault(self, probe):
        return self._probe(probe).fault

    def _probe(self, probe):
        if probe == 'chamber':
            return self._chamber_probe
        if probe == 'sample':
            return self._sample_probe
        raise ValueError("probe: must be 'chamber' or 'sample'")
