"""The textbook baseline the firmware is benchmarked against (runs on CPython).

One PID (simple_pid) on the chamber probe only, fixed gains, output in [-1, 1]
through the firmware's own split range and time-proportioned valve drive, so
the only difference from the firmware is the control strategy. Every profile
step becomes a chamber setpoint; the baseline never looks at the sample probe,
so it cannot detect nucleation and does not compensate the heat of fusion.
See docs/benchmark.md.
"""

import hashlib
import json
import math
import sys
import time
from pathlib import Path

from simple_pid import PID

from crf_host.paths import FIRMWARE, PROFILES_DIR, REPO

try:
    from crf import config as _config
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(FIRMWARE))
    from crf import config as _config
from crf.control.split import split_range
from crf.control.valve import ValveDriver
from crf.profile import validate as _validate
from crf_sim.plant import Plant
from crf_sim.plantfile import load_plant

CONTROL_MS = 1000          # control period, same as the firmware's trace second
TAIL_S = 120               # keep running this long after the end step starts
MAX_RUN_S = 8 * 3600       # a profile that has not ended by then never will
GAINS_CACHE = REPO / "bench" / "baseline_gains.json"
TUNING_VERSION = 1         # bump when the tuning procedure changes

# Relay test: around -20 C, where the slow ramp spends most of its time.
RELAY_CENTER_C = -20.0
RELAY_AMPLITUDE = 0.5      # controller output, +-; well inside [-1, 1]
RELAY_HYSTERESIS_C = 0.2   # above probe noise so the relay does not chatter
RELAY_SKIP = 2             # first oscillations are the approach, not the limit cycle
RELAY_CYCLES = 5           # oscillations averaged for Ku and Pu
RELAY_MAX_S = 3 * 3600

# Grid search around each rule's gains.
# The relay finds the fast gas/probe mode (Pu of seconds), so the rules come out
# aggressive; the grid reaches well below them (valve-pulse ripple sets the floor).
KP_FACTORS = (0.1, 0.15, 0.25, 0.35, 0.5, 0.7, 1.0)
TI_FACTORS = (0.5, 1.0, 2.0, 4.0)
TD_FACTORS = (0.0, 1.0)
RAMP_START_C = 0.0
RAMP_END_C = -40.0
RAMP_SETTLE_S = 900        # hold at the start temperature before scoring
TUNING_SEED = 1            # fixed so the tuning is reproducible


class Rig:
    """Plant + the firmware's actuator chain, advanced one control period at a time."""

    def __init__(self, spec, seed=None, cfg=None):
        cfg = dict(_config.DEFAULTS, **(cfg or {}))
        self.plant = Plant(spec, seed=seed)
        self.valve = ValveDriver(cfg["valve_period_ms"], cfg["valve_min_on_ms"],
                                 cfg["valve_min_off_ms"])
        self.dead_band = cfg["dead_band"]
        self.next_ms = self.plant.t_ms

    def period(self, u):
        """Apply controller output u for one control period; return (valve_duty, heater_duty)."""
        ln2_duty, heater_duty = split_range(max(-1.0, min(1.0, u)), self.dead_band)
        plant = self.plant
        self.next_ms += CONTROL_MS
        on_ms = total_ms = 0
        while plant.t_ms < self.next_ms:
            on = self.valve.update(plant.t_ms, ln2_duty)
            plant.step(plant.dt_ms, on, heater_duty)
            total_ms += plant.dt_ms
            if on:
                on_ms += plant.dt_ms
        return (on_ms / total_ms if total_ms else 0.0), heater_duty


def make_pid(gains, setpoint):
    # Textbook form: no setpoint weighting, derivative on measurement and
    # integral clamping are simple_pid's defaults.
    return PID(gains["kp"], gains["ki"], gains["kd"], setpoint=setpoint,
               sample_time=None, output_limits=(-1.0, 1.0))


# ---- setpoint schedule -------------------------------------------------------

def _kind(step):
    return step.get("kind", step.get("type"))


class ChamberSchedule:
    """A profile's steps, each turned into a chamber setpoint (see module doc)."""

    def __init__(self, profile, start_c):
        self.steps = profile["steps"]
        self.sp = start_c
        self.index = -1
        self.end_s = None
        self._begin(0, 0.0)

    def _begin(self, index, t_s):
        self.index, self.t0 = index, t_s
        step = self.steps[index]
        kind = _kind(step)
        if kind == "end":
            self.end_s = t_s
        if kind != "ramp" and "target_c" in step:
            self.sp = step["target_c"]  # holds, waits, jumps and end set it at once

    def _done(self, t_s, chamber_c):
        step = self.steps[self.index]
        kind, elapsed = _kind(step), t_s - self.t0
        if kind == "end":
            return False
        if kind == "ramp":
            return self.sp == step["target_c"]
        if kind == "wait":
            if elapsed >= step.get("timeout_s", math.inf):
                return True
            if chamber_c is None:
                return False
            if "below_c" in step:
                return chamber_c <= step["below_c"]
            return chamber_c >= step["above_c"]
        if step.get("until") in ("operator", "nucleation"):
            # Headless, nobody acknowledges; and nucleation needs the sample probe.
            return True
        return elapsed >= step.get("duration_s", 0)

    def update(self, t_s, chamber_c, dt_s=CONTROL_MS / 1000.0):
        """Advance to time t_s; return the chamber setpoint."""
        while self._done(t_s, chamber_c) and self.index + 1 < len(self.steps):
            self._begin(self.index + 1, t_s)
        step = self.steps[self.index]
        if _kind(step) == "ramp" and t_s > self.t0:
            target, rate = step["target_c"], abs(step["rate_c_per_min"]) / 60.0
            move = rate * dt_s
            self.sp = max(target, self.sp - move) if target < self.sp else min(target, self.sp + move)
        return self.sp

    def info(self):
        """(kind, probe, rate) as the firmware's trace reports them: waits, jumps
        and the end are chamber-controlled there too."""
        step = self.steps[self.index]
        kind = _kind(step)
        probe = step.get("probe", "chamber") if kind in ("hold", "ramp") else "chamber"
        return kind, probe, step.get("rate_c_per_min", 0.0)


# ---- a profile run -------------------------------------------------------------

def load_profile(name):
    path = Path(name)
    if not path.suffix:
        path = PROFILES_DIR / (name + ".json")
    profile = _validate.loads(path.read_text())
    _validate.validate(profile)
    return profile


def run_baseline(plant_path, profile, gains=None, seed=None, exit_after_end_s=TAIL_S):
    """Run a profile with the baseline; return (rows, summary, wall_s) like the runner."""
    t_wall = time.monotonic()
    spec = load_plant(str(plant_path))
    if gains is None:
        gains = baseline_gains(plant_path)
    if isinstance(profile, str):
        profile = load_profile(profile)
    rig = Rig(spec, seed=seed)
    plant = rig.plant
    start = plant.read_chamber_probe()
    sched = ChamberSchedule(profile, start if start is not None else plant.chamber_c)
    pid = make_pid(gains, sched.sp)
    rows, u, t_s = [], 0.0, 0.0
    while t_s < MAX_RUN_S:
        chamber = plant.read_chamber_probe()
        sample = plant.read_sample_probe()
        sp = sched.update(t_s, chamber)
        if sched.end_s is not None and t_s >= sched.end_s + exit_after_end_s:
            break
        pid.setpoint = sp
        if chamber is not None:  # on a probe fault hold the last output
            u = pid(chamber, dt=CONTROL_MS / 1000.0)
        kind, probe, rate = sched.info()
        row = {
            "t_s": t_s, "state": "end" if kind == "end" else "running",
            "step": float(sched.index + 1), "kind": kind, "probe": probe,
            "rate_c_per_min": rate, "sp_chamber_c": sp,
            "sp_sample_c": sp if probe == "sample" else None,
            "chamber_c": chamber, "sample_c": sample,
            "chamber_true_c": plant.chamber_c, "sample_true_c": plant.sample_c,
        }
        row["valve_duty"], row["heater_duty"] = rig.period(u)
        row["ln2_kg"], row["valve_cycles"], row["comp"] = plant.ln2_kg, float(rig.valve.cycles), 0.0
        rows.append(row)
        t_s = (plant.t_ms) / 1000.0
    nuc_ms = plant.nucleation_ms
    summary = {
        "ln2_kg": plant.ln2_kg, "valve_cycles": rig.valve.cycles,
        "nucleation_s": nuc_ms / 1000.0 if nuc_ms is not None else None,
        "nucleation_c": plant.nucleation_c, "tm_c": plant.tm_c,
        "run_end_s": sched.end_s, "sim_s": t_s, "heap_peak_bytes": None,
        "gains": gains,
    }
    return rows, summary, time.monotonic() - t_wall


# ---- tuning --------------------------------------------------------------------

def relay_test(spec, center_c=RELAY_CENTER_C, amplitude=RELAY_AMPLITUDE,
               hysteresis_c=RELAY_HYSTERESIS_C, seed=TUNING_SEED):
    """Astrom-Hagglund relay test on the chamber probe; return (ku, pu_s, amplitude_c)."""
    rig = Rig(spec, seed=seed)
    u, t_s = -amplitude, 0
    switches = []          # times the relay turned to cooling: one per oscillation
    lo, hi = math.inf, -math.inf
    while t_s < RELAY_MAX_S and len(switches) < RELAY_SKIP + RELAY_CYCLES + 1:
        y = rig.plant.read_chamber_probe()
        if y is not None:
            if y > center_c + hysteresis_c and u > 0:
                u = -amplitude
                switches.append(t_s)
            elif y < center_c - hysteresis_c and u < 0:
                u = amplitude
            if len(switches) > RELAY_SKIP:
                lo, hi = min(lo, y), max(hi, y)
        rig.period(u)
        t_s += 1
    if len(switches) < RELAY_SKIP + RELAY_CYCLES + 1:
        raise RuntimeError("relay test: no sustained oscillation around %.1f C" % center_c)
    used = switches[RELAY_SKIP:]
    pu = (used[-1] - used[0]) / (len(used) - 1)
    a = (hi - lo) / 2.0
    # Describing function of a relay with hysteresis.
    ku = 4.0 * amplitude / (math.pi * math.sqrt(max(a * a - hysteresis_c ** 2, 1e-6)))
    return ku, pu, a


def rule_gains(ku, pu):
    """PID gains (parallel form, per second) from the ultimate gain and period."""
    rules = {
        "ziegler-nichols": (0.6 * ku, 0.5 * pu, 0.125 * pu),
        "tyreus-luyben": (ku / 2.2, 2.2 * pu, pu / 6.3),
    }
    return {name: {"kp": kp, "ki": kp / ti, "kd": kp * td} for name, (kp, ti, td) in rules.items()}


def ramp_rms(spec, gains, seed=TUNING_SEED, start_c=RAMP_START_C, end_c=RAMP_END_C,
             rate_c_per_min=1.0, settle_s=RAMP_SETTLE_S):
    """Chamber RMS error on a hold-then-ramp chamber setpoint with the given gains."""
    rig = Rig(spec, seed=seed)
    pid = make_pid(gains, start_c)
    ramp_s = int(abs(start_c - end_c) / rate_c_per_min * 60)
    u, sq, n = 0.0, 0.0, 0
    for t_s in range(settle_s + ramp_s):
        sp = start_c - rate_c_per_min * max(0, t_s - settle_s) / 60.0
        y = rig.plant.read_chamber_probe()
        pid.setpoint = sp
        if y is not None:
            u = pid(y, dt=CONTROL_MS / 1000.0)
            if t_s >= settle_s:
                sq += (y - sp) ** 2
                n += 1
        rig.period(u)
    return math.sqrt(sq / n) if n else math.inf


def tune_baseline(plant_spec, kp_factors=KP_FACTORS, ti_factors=TI_FACTORS,
                  td_factors=TD_FACTORS, ramp_start_c=RAMP_START_C, ramp_end_c=RAMP_END_C):
    """Relay test -> ZN and Tyreus-Luyben gains -> grid search on a -1 C/min chamber ramp.

    Deterministic: fixed plant seed, fixed grid, ties resolved by grid order.
    """
    ku, pu, a = relay_test(plant_spec)
    best = None
    for rule, g in rule_gains(ku, pu).items():
        ti, td = g["kp"] / g["ki"], g["kd"] / g["kp"]
        for fk in kp_factors:
            for fi in ti_factors:
                for fd in td_factors:
                    kp = g["kp"] * fk
                    cand = {"kp": kp, "ki": kp / (ti * fi), "kd": kp * td * fd}
                    rms = ramp_rms(plant_spec, cand, start_c=ramp_start_c, end_c=ramp_end_c)
                    if best is None or rms < best[0]:
                        best = (rms, rule, (fk, fi, fd), cand)
    rms, rule, (fk, fi, fd), cand = best
    return dict(cand, ku=ku, pu_s=pu, relay_amplitude_c=a, rule=rule, kp_factor=fk,
                ti_factor=fi, td_factor=fd, tuning_rms_c=rms, tuning_version=TUNING_VERSION)


def _plant_key(plant_path, spec):
    digest = hashlib.sha256(Path(plant_path).read_bytes()).hexdigest()[:16]
    name = spec.get("name") if isinstance(spec, dict) else None
    return "%s:%s" % (name or Path(plant_path).stem, digest)


def baseline_gains(plant_path, cache=GAINS_CACHE, retune=False):
    """Tuned gains for a plant file, from the cache or by tuning (and caching) now."""
    spec = load_plant(str(plant_path))
    key = _plant_key(plant_path, spec)
    cache = Path(cache)
    table = json.loads(cache.read_text()) if cache.exists() else {}
    entry = table.get(key)
    if retune or not entry or entry.get("tuning_version") != TUNING_VERSION:
        entry = tune_baseline(spec)
        table[key] = entry
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    return entry
