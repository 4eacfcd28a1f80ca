"""`make faults`: the fault-injection matrix on the virtual freezer.

Each fault is injected at several moments of an HPC bag run (before
nucleation, during compensation, on the final ramp, during the end hold) and
judged on four counts (docs/safety.md, "Fault-injection matrix"):
detected (its alarm within its limit), safe (outputs in the documented safe
state one tick after detection), recorded (the alarm_raised event in the run
record, read with crf_host.records.read_run) and the product's true
temperature within the documented bound. A firmware hang (emulated watchdog,
exit 75, restart on the same flash) and a power cut (restart on the same
flash after an outage) are judged on the boot after the restart.
"""

import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from crf_host.paths import FIRMWARE
from crf_host.records import read_run
from crf_host.runner import run_sim, why_failed

PLANT = FIRMWARE / "crf_sim" / "plants" / "bag_50ml.json"
PROFILE = "hpc_bag"
MOMENTS = (("pre", "pre+120"), ("comp", "comp+20"), ("final", "final+60"), ("end", "end+30"))

# kind: (how long it lasts in s (None: stays), detection limit s, warm bound C)
# The limits are the alarm's delay plus one control period of margin; the
# warm bound is how far the product may rise above max(its temperature at
# injection, -2 C: the freezing plateau after nucleation).
FAULTS = {
    "chamber_open": (None, 4, 3.0),
    "chamber_stuck": (None, 62, 3.0),
    "chamber_range": (None, 4, 3.0),
    "sample_open": (None, 4, 3.0),
    "sample_jump": (None, 4, 3.0),
    "door": (60, 31, 3.0),
    "ln2_low": (None, 6, 3.0),
    "ln2_dry": (600, 180, 10.0),
    "valve_stuck": (240, 130, 3.0),
    "heater_stuck": (240, 180, 3.0),
    "storage_full": (None, 2, 3.0),
    "hang": (None, 7, 5.0),
    "power_cut": (None, 1, 5.0),
}
OUTAGE_S = 300          # power cut: the freezer is off this long
# The device's heap, also with the simulator's fault machinery loaded.
HEAP = "128wK"
COLD_BOUND_C = -110.0   # no fault may take the product below this


def _run(d, flash, extra):
    p, _ = run_sim(["--plant", PLANT, "--speed", "max", "--flash", flash,
                    "--summary", d / "summary.json", "--export-runs", d,
                    "--autostart", PROFILE] + extra, "virtual freezer", HEAP, timeout_s=600)
    try:
        with open(d / "summary.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        raise RuntimeError("virtual freezer failed (exit %d): %s" % (
            p.returncode, why_failed(p)[-300:].replace("\n", " | ")))


def _recorded(d, code):
    for p in sorted(Path(d).glob("*.run")):
        run = read_run(p)
        for e in run.events:
            if e["event"] == "alarm_raised" and str(e["detail"]).split(":")[0] == code:
                return True
    return False


def _safe(kind, o, s):
    """Why the outputs are not in the documented safe state, or None."""
    if o is None:
        return "no output snapshot (fault removed before detection?)"
    if o["relay"] or not o["buzzer"]:
        return "alarm relay energised or buzzer silent"
    if kind.startswith("chamber_"):
        if o["heater_duty"] > 0 or o["ln2_duty"] > 0.3 + 1e-6:
            return "heater on or LN2 above the degraded cap without a chamber reading"
        if o["state"] not in ("held", "end"):
            return "profile not held"
    elif kind.startswith("sample_"):
        if s["fault"]["sample_step"] and (o["probe"] != "chamber" or not o["no_sample"]):
            return "not on the chamber path"
    elif kind == "door":
        if o["valve"] or o["fan"]:
            return "valve or fan on with the door open"
    elif kind == "valve_stuck":
        if o["ln2_duty"] > 0:
            return "LN2 commanded with the valve stuck open"
    elif kind == "heater_stuck":
        if o["heater_duty"] > 0:
            return "heater commanded during a runaway"
    return None


def run_case(case):
    kind, moment, spec = case
    dur, limit, warm = FAULTS[kind]
    d = Path(tempfile.mkdtemp(prefix="crf-fault-"))
    flash = d / "flash.img"
    f = "%s@%s" % (kind, spec) + ("/%d" % dur if dur else "")
    res = {"kind": kind, "moment": moment, "detected": False, "safe": False, "recorded": False,
           "bounded": False, "why": []}
    try:
        s = _run(d, flash, ["--fault", f, "--exit-after-end", "300", "--run-for", "6000"])
        fr = s["fault"]
        if kind in ("hang", "power_cut"):
            if kind == "hang" and s["exit"] != 75:
                res["why"].append("no watchdog reset (exit %s)" % s["exit"])
                return res
            t_fault = fr["injected_s"]
            det = s["sim_s"] - t_fault if kind == "hang" else 0.0
            d2 = d / "boot2"
            d2.mkdir()
            s2 = _run(d2, flash, ["--outage", str(OUTAGE_S if kind == "power_cut" else 0),
                                  "--run-for", "900", "--exit-after-end", "120"])
            codes = [a[0] for a in s2.get("alarms", [])]
            res["detect_s"] = det
            res["detected"] = fr["code"] in codes and det <= limit
            o = s2["outputs"]
            why = None
            if o["relay"] or not o["buzzer"]:
                why = "alarm relay energised or buzzer silent after the restart"
            elif s2["state"] not in ("running", "held", "end", "stopped"):
                why = "run not recovered (state %s)" % s2["state"]
            res["safe"] = why is None
            if why:
                res["why"].append(why)
            res["recovery"] = s2.get("state"), s2.get("transfer")
            res["recorded"] = _recorded(d2, fr["code"])
            p0 = fr["product0_c"]
            res["bounded"] = s2["product_c"] <= max(p0, -2.0) + warm
            res["product_rise_c"] = s2["product_c"] - p0
        else:
            if fr["injected_s"] is None:
                res["why"].append("moment never came")
                return res
            det = None if fr["detected_s"] is None else fr["detected_s"] - fr["injected_s"]
            res["detect_s"] = det
            res["detected"] = det is not None and det <= limit
            why = _safe(kind, fr["outputs"], s)
            res["safe"] = why is None
            if why:
                res["why"].append(why)
            res["recorded"] = _recorded(d, fr["code"])
            if fr.get("action_s") is not None:
                res["action_s"] = fr["action_s"] - fr["injected_s"]
            p0 = fr["product0_c"]
            res["bounded"] = (fr["product_max_c"] <= max(p0, -2.0) + warm
                              and fr["product_min_c"] >= COLD_BOUND_C)
            res["product_rise_c"] = fr["product_max_c"] - max(p0, -2.0)
            res["product_min_c"] = fr["product_min_c"]
        if not res["detected"]:
            res["why"].append("not detected within %d s (%s)" % (limit, res.get("detect_s")))
        if not res["recorded"]:
            res["why"].append("alarm not in the record")
        if not res["bounded"]:
            res["why"].append("product outside its bound (rise %.1f C)" % res["product_rise_c"])
    except Exception as ex:           # a crash is a failed case, reported
        res["why"].append("error: %s" % ex)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    return res


def cases(kinds=None, moments=None):
    out = []
    for k in FAULTS:
        if kinds and k not in kinds:
            continue
        for m, spec in MOMENTS:
            if moments and m not in moments:
                continue
            out.append((k, m, spec))
    return out


def run_matrix(kinds=None, moments=None, workers=2, out=sys.stdout):
    todo = cases(kinds, moments)
    with ProcessPoolExecutor(max_workers=workers) as ex:
        results = list(ex.map(run_case, todo))
    n = len(results)
    det = sum(r["detected"] for r in results)
    safe = sum(r["safe"] and r["bounded"] for r in results)
    rec = sum(r["recorded"] for r in results)
    worst = {}
    for r in results:
        t = r.get("detect_s")
        if t is not None and (r["kind"] not in worst or t > worst[r["kind"]]):
            worst[r["kind"]] = t
        flag = "ok" if r["detected"] and r["safe"] and r["bounded"] and r["recorded"] else "FAIL"
        out.write("%-14s %-6s %-4s detect=%s%s rise=%s %s\n" % (
            r["kind"], r["moment"], flag,
            "-" if t is None else "%.0fs" % t,
            "" if r.get("action_s") is None else " action=%.1fs" % r["action_s"],
            "-" if r.get("product_rise_c") is None else "%.1fC" % r["product_rise_c"],
            "; ".join(r["why"])))
    out.write("worst-case detection (s): %s\n" % json.dumps(worst, sort_keys=True))
    out.write("faults: injected=%d detected=%d safe=%d recorded=%d\n" % (n, det, safe, rec))
    out.flush()
    return n, det, safe, rec, results


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kinds", default="", help="comma-separated fault kinds (default all)")
    ap.add_argument("--moments", default="", help="comma-separated moments (default all)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    n, det, safe, rec, _ = run_matrix([k for k in a.kinds.split(",") if k] or None,
                                      [m for m in a.moments.split(",") if m] or None, a.workers)
    return 0 if det == safe == rec == n else 1


if __name__ == "__main__":
    sys.exit(main())
