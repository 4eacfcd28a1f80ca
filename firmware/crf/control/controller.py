# The freezer's controller: chamber PID with feed-forward, cascade from the
# sample probe, split-range to LN2 valve and heater.
#
# The chamber loop works in watts, not in valve duty: the cooling one kg of LN2
# gives depends on the chamber temperature (latent heat plus warming the gas to
# the exhaust temperature), so dividing by the valve's present cooling power
# keeps the loop gain constant from +20 to -150 deg C.
#
# In sample-probe steps the sample loop sets the chamber setpoint as a lead
# below the sample. Physics gives most of that lead: a sample with time
# constant tau on a ramp of rate r lags by r * tau, and once frozen its
# apparent heat capacity (latent heat released along the freeze-concentration
# curve) multiplies tau. The PI only trims what the model misses.
from crf.control.pid import PID
from crf.control.split import split_range

MODE_OFF = 0
MODE_CHAMBER = 1
MODE_SAMPLE = 2

_LN2_LATENT_J_KG = 199000.0   # physics.md
_N2_CP_J_KGK = 1040.0
_LN2_BOIL_C = -196.0
# 10 % DMSO suspension (physics.md estimates)
_CP_LIQUID = 3.7
_CP_FROZEN = 1.9
_LATENT_KJ_KG = 290.0


def ln2_cooling_w(cfg, chamber_c):
    return cfg["ln2_flow_kg_min"] / 60.0 * (_LN2_LATENT_J_KG + _N2_CP_J_KGK * (chamber_c - _LN2_BOIL_C))


def frozen_capacity_ratio(sample_c, tm_c):
    """Apparent heat capacity of the frozen sample relative to the liquid."""
    if tm_c is None or sample_c >= tm_c - 0.5:
        return 1.0
    r = (_CP_FROZEN + _LATENT_KJ_KG * (-tm_c) / (sample_c * sample_c)) / _CP_LIQUID
    return r if r < 8.0 else 8.0


class Controller:
    def __init__(self, cfg):
        self.cfg = cfg
        self.chamber_pid = PID(cfg["chamber_kp"], cfg["chamber_ki"], cfg["chamber_kd"],
                               cfg["chamber_d_filter_s"], i_band=cfg["chamber_i_band_c"])
        self.sample_pid = PID(cfg["sample_kp"], cfg["sample_ki"], 0.0, 0.0,
                              -cfg["sample_lead_max_c"], cfg["sample_lag_max_c"])
        self.mode = MODE_OFF
        self.chamber_sp = 0.0
        self.power_w = 0.0
        self.ln2_duty = 0.0
        self.heater_duty = 0.0
        self.sample_f = None
        self.tau_s = 240.0      # liquid sample time constant, learned on the ramp
        self.tm_c = None        # melting point, learned at nucleation
        self._after_comp = False

    def reset(self):
        self.mode = MODE_OFF
        self.chamber_pid.reset()
        self.sample_pid.reset()
        self.sample_f = None
        self.tm_c = None
        self.tau_s = 240.0
        self._after_comp = False
        self.ln2_duty = 0.0
        self.heater_duty = 0.0

    def filter_sample(self, sample_c, dt_ms):
        if sample_c is None:
            return self.sample_f
        if self.sample_f is None:
            self.sample_f = sample_c
        else:
            dt = dt_ms * 0.001
            self.sample_f += dt / (self.cfg["sample_filter_s"] + dt) * (sample_c - self.sample_f)
        return self.sample_f

    def _lead_ff(self, rate_c_s, sample_c):
        return rate_c_s * self.tau_s * frozen_capacity_ratio(sample_c, self.tm_c)

    def nucleated(self, tm_c):
        # Remember the melting point for the frozen-capacity model; the next
        # entry into sample mode starts from the model's lead.
        self.tm_c = tm_c
        self._after_comp = True

    def learn_tau(self, rate_c_s):
        # Fold what the PI integral learned about the liquid sample into tau.
        if rate_c_s < -1e-4:
            tau = self.tau_s + self.sample_pid.integral / rate_c_s
            if 30.0 < tau < 3600.0:
                self.sample_pid.integral = 0.0
                self.tau_s = tau

    def enter_sample_mode(self, sp_sample, rate_c_s, sample_c):
        ff = self._lead_ff(rate_c_s, sample_c)
        if self.tm_c is not None and self._after_comp:
            # After a compensation excursion the model's lead is the best start;
            # the excursion's chamber setpoint says nothing about the ramp.
            self.sample_pid.track(ff, sp_sample, sample_c, ff)
            self._after_comp = False
        else:
            # Bumpless: keep the present chamber setpoint as the starting lead.
            self.sample_pid.track(self.chamber_sp - sp_sample, sp_sample, sample_c, ff)
        self.mode = MODE_SAMPLE

    def enter_chamber_mode(self, sp_chamber, chamber_c):
        if self.mode == MODE_OFF:
            self.chamber_pid.reset()
        self.mode = MODE_CHAMBER

    def _gains(self, pid, rows, t):
        # Gain schedule (config chamber_gain_schedule, checked rows
        # [t_c, kp, ki, kd]): linear in temperature, nearest row outside.
        a = rows[0]
        if t > a[0]:
            for b in rows:
                if t <= b[0]:
                    f = (t - a[0]) / (b[0] - a[0])
                    pid.kp = a[1] + f * (b[1] - a[1])
                    pid.ki = a[2] + f * (b[2] - a[2])
                    pid.kd = a[3] + f * (b[3] - a[3])
                    return
                a = b
        pid.kp = a[1]
        pid.ki = a[2]
        pid.kd = a[3]

    def update(self, dt_ms, mode, sp_chamber, rate_chamber_c_s, sp_sample, rate_sample_c_s,
               chamber_c, sample_f, fan_on=True):
        """One control period; sample_f is the filtered sample reading (filter_sample).
        Returns (ln2_duty, heater_duty)."""
        cfg = self.cfg
        if mode == MODE_OFF or chamber_c is None:
            self.mode = MODE_OFF
            self.ln2_duty = 0.0
            self.heater_duty = 0.0
            return 0.0, 0.0
        if mode == MODE_SAMPLE and sample_f is not None:
            if self.mode != MODE_SAMPLE:
                self.enter_sample_mode(sp_sample, rate_sample_c_s, sample_f)
            lim = cfg["sample_lead_max_c"]
            self.sample_pid.set_limits(-lim, cfg["sample_lag_max_c"])
            ff = self._lead_ff(rate_sample_c_s, sample_f)
            i_before = self.sample_pid.integral
            lead = self.sample_pid.update(sp_sample, sample_f, dt_ms, ff)
            sp = sp_sample + lead
            floor = sample_f - lim
            if sp < floor:
                sp = floor
            # Move the chamber setpoint no faster than the chamber can follow
            # (warming limited separately: heat put in now is LN2 spent again
            # later). While limited the sample loop does not integrate (no windup).
            dt = dt_ms * 0.001
            prev = self.chamber_sp
            down = cfg["cascade_sp_rate_c_min"] / 60.0 * dt
            up = cfg["cascade_warm_rate_c_min"] / 60.0 * dt
            if sp < prev - down:
                sp = prev - down
                self.sample_pid.integral = i_before
            elif sp > prev + up:
                sp = prev + up
                self.sample_pid.integral = i_before
            rate = (sp - prev) / dt if dt_ms > 0 else rate_sample_c_s
        else:
            if self.mode != MODE_CHAMBER:
                self.enter_chamber_mode(sp_chamber, chamber_c)
            sp = sp_chamber
            rate = rate_chamber_c_s
        self.chamber_sp = sp
        # Feed-forward: heat flow that moves the chamber at `rate` against the leak and fan.
        ff_w = cfg["chamber_heat_capacity_j_k"] * rate - cfg["chamber_ua_w_k"] * (cfg["ambient_c"] - chamber_c)
        if fan_on:
            ff_w -= cfg["fan_w"]
        cool_w = ln2_cooling_w(cfg, chamber_c)
        heat_w = cfg["heater_w"]
        pid = self.chamber_pid
        sch = cfg.get("chamber_gain_schedule")
        if sch:
            self._gains(pid, sch, chamber_c)
        pid.set_limits(-cool_w, heat_w)
        p_w = pid.update(sp, chamber_c, dt_ms, ff_w)
        self.power_w = p_w
        u = p_w / cool_w if p_w < 0.0 else p_w / heat_w
        self.ln2_duty, self.heater_duty = split_range(u, cfg["dead_band"])
        return self.ln2_duty, self.heater_duty
