# Controller configuration: defaults, overridden by config.json on the flash.
# Units are in the names; powers in watts, temperatures in deg C, times in ms or s.
import json
from crf.calibration import cal_coefficients  # noqa: F401 (part of this module's API)

DEFAULTS = {
    # loop timing
    "pass_ms": 100,               # loop pass: sensor conversion, valve timing
    "control_period_ms": 1000,    # PID update period
    # LN2 valve (cryogenic solenoid): minimum on/off times bound wear
    "valve_period_ms": 4000,
    "valve_min_on_ms": 200,
    "valve_min_off_ms": 200,
    "dead_band": 0.01,            # split-range dead band (fraction of full output)
    # physics used for feed-forward and output scaling (estimates for the freezer)
    "ln2_flow_kg_min": 0.2,       # effective LN2 reaching the chamber with the valve open
    "heater_w": 400.0,
    "chamber_heat_capacity_j_k": 3500.0,
    "chamber_ua_w_k": 0.6,
    "ambient_c": 22.0,
    "fan_w": 20.0,
    # chamber loop: gains in W/K, W/(K s), W s/K
    "chamber_kp": 150.0,
    "chamber_ki": 10.0,
    "chamber_kd": 0.0,
    "chamber_d_filter_s": 2.0,
    "chamber_i_band_c": 1.5,      # integrate only near the setpoint: no windup on big moves
    "chamber_gain_schedule": [],  # rows [t_c, kp, ki, kd]: gains by chamber temperature (crf tune)
    # sample loop (cascade): output is the chamber lead in K
    "sample_kp": 4.0,
    "sample_ki": 0.02,
    "sample_lead_max_c": 30.0,    # chamber may be at most this far below the sample
    "sample_lag_max_c": 5.0,      # ... and at most this far above it
    "sample_filter_s": 3.0,
    "cascade_sp_rate_c_min": 6.0, # fastest the cascade cools the chamber setpoint
    "cascade_warm_rate_c_min": 6.0,  # ... and warms it (warming costs heater and LN2)
    # heat-of-fusion compensation
    "comp_rate_c_min": 12.0,      # chamber cooling rate into the excursion
    "comp_release_c": 3.0,        # excursion ends once the sample is this far below its post-nucleation peak
    # run record
    "log_interval_ms": 5000,      # one sample record per interval (1000 for 1 s)
    # two-point probe calibration (crf/calibration.py): what each probe
    # read in an ice bath (true 0 C) and in LN2 at ~1 atm (true -195.8 C)
    "chamber_cal_ice_c": 0.0,
    "chamber_cal_ln2_c": -195.8,
    "sample_cal_ice_c": 0.0,
    "sample_cal_ln2_c": -195.8,
    # alarm limits (docs/safety.md); a limit cannot be switched off
    "alarm_chamber_dev_c": 5.0,   # chamber this far from its setpoint ...
    "alarm_chamber_dev_s": 120,   # ... for this long
    "alarm_sample_dev_c": 5.0,    # sample-probe steps: sample this far from its setpoint ...
    "alarm_sample_dev_s": 300,    # ... for this long
    "alarm_chamber_min_c": -170.0,  # hard limits, independent of the PID: LN2 blocked below
    "alarm_chamber_max_c": 50.0,  # ... heater blocked above
    "alarm_band_c": 20.0,         # LN2 blocked while the chamber is this far below its setpoint, heater this far above
    # power-failure recovery: resume if the outage was at most this long (0: always hold)
    "recover_resume_max_s": 900,
}

_LIMITS = {
    "pass_ms": (20, 1000),
    "control_period_ms": (100, 10000),
    "valve_period_ms": (100, 60000),
    "valve_min_on_ms": (20, 10000),
    "valve_min_off_ms": (20, 10000),
    "dead_band": (0.0, 0.5),
    "ln2_flow_kg_min": (0.01, 5.0),
    "heater_w": (10.0, 5000.0),
    "chamber_heat_capacity_j_k": (10.0, 1e6),
    "chamber_ua_w_k": (0.0, 100.0),
    "ambient_c": (-40.0, 60.0),
    "fan_w": (0.0, 1000.0),
    "chamber_kp": (0.0, 1e5),
    "chamber_ki": (0.0, 1e4),
    "chamber_kd": (0.0, 1e5),
    "chamber_d_filter_s": (0.0, 600.0),
    "chamber_i_band_c": (0.0, 100.0),
    "sample_kp": (0.0, 1e3),
    "sample_ki": (0.0, 100.0),
    "sample_lead_max_c": (0.0, 150.0),
    "sample_lag_max_c": (0.0, 50.0),
    "sample_filter_s": (0.0, 600.0),
    "cascade_sp_rate_c_min": (0.1, 50.0),
    "cascade_warm_rate_c_min": (0.1, 50.0),
    "comp_rate_c_min": (1.0, 60.0),
    "comp_release_c": (0.5, 30.0),
    "log_interval_ms": (1000, 60000),
    "chamber_cal_ice_c": (-5.0, 5.0),       # a class B probe is within 0.3 C; 5 C is a broken chain
    "chamber_cal_ln2_c": (-205.0, -186.0),
    "sample_cal_ice_c": (-5.0, 5.0),
    "sample_cal_ln2_c": (-205.0, -186.0),
    "alarm_chamber_dev_c": (0.5, 50.0),
    "alarm_chamber_dev_s": (10, 3600),
    "alarm_sample_dev_c": (0.5, 50.0),
    "alarm_sample_dev_s": (10, 7200),
    "alarm_chamber_min_c": (-196, -20),   # LN2 boils at -196 C
    "alarm_chamber_max_c": (20, 80),
    "alarm_band_c": (2, 100),
    "recover_resume_max_s": (0, 86400),
}


class ConfigError(ValueError):
    pass


def check(values):
    """Validated copy of DEFAULTS updated with `values`; ConfigError names the key."""
    cfg = dict(DEFAULTS)  # type: dict  # values: numbers, and the gain schedule (a list)
    if not isinstance(values, dict):
        raise ConfigError("config: must be a JSON object")
    for key in values:
        if key not in DEFAULTS:
            raise ConfigError("config: %s: unknown setting" % key)
        v = values[key]
        if key == "chamber_gain_schedule":
            cfg[key] = _schedule(v, key)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError("config: %s: must be a number" % key)
        lo, hi = _LIMITS[key]
        if not lo <= v <= hi:
            raise ConfigError("config: %s: %s outside %s..%s%s" % (
                key, v, lo, hi, " (a safety limit cannot be switched off or set outside the "
                "physical range)" if key.startswith("alarm_") else ""))
        cfg[key] = int(v) if isinstance(DEFAULTS[key], int) else float(v)
    if cfg["valve_min_on_ms"] + cfg["valve_min_off_ms"] > cfg["valve_period_ms"]:
        raise ConfigError("config: valve_period_ms: shorter than min on + min off")
    return cfg


def _schedule(v, key):
    # The check lives in its own module, loaded only for this key.
    from crf.control import schedule
    try:
        return schedule.check(v, key)
    except ValueError as ex:
        raise ConfigError(str(ex))
    finally:
        from crf.lazy import forget
        forget("crf.control.schedule")


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return dict(DEFAULTS)
    try:
        values = json.loads(text)
    except ValueError:
        raise ConfigError("config: %s is not valid JSON" % path)
    return check(values)
