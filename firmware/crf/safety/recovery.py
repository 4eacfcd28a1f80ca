# Power-failure recovery: what the first control tick after a boot does with
# a run cut off by an outage or a watchdog reset (RunLog.interrupted facts).
# Policy (docs/safety.md, "Power-failure recovery"), configurable:
#   resume  if the outage was at most recover_resume_max_s (0: never), the
#           profile is the one that ran, the run was running (not held by an
#           operator) and the product is within 5 C (_PATH_C) of where it
#           was at the cut (not warmed off the path): the interrupted step
#           continues from the product's present temperature (never warming
#           it back), a hold step for what remained of it.
#   hold    otherwise: the profile is held at the product's present
#           temperature (never warmed) until an operator continues or stops;
#           the alarm says which transfer is allowed now.
# Imported only at boot when needed, and dropped afterwards.
from crf.control.controller import MODE_CHAMBER
from crf.profile.engine import RUNNING, HELD, END

_PATH_C = 5.0           # "on the path": the product warmed at most this much during the outage
_LN2_VAPOUR_C = -40.0   # cord-blood practice: direct to LN2 vapour only at or below -40 C


def transfer_text(product_c):
    if product_c is not None and product_c <= _LN2_VAPOUR_C:
        return "transfer: -80 C freezer or LN2 vapour"
    return "transfer: -80 C freezer only (> -40 C)"


def _profile(app, facts):
    from crf.profile.checked import digest
    name = facts.get("profile")
    if not name:
        return None, "profile unknown"
    try:
        prof, text, _ = app.load_profile_text(name)
    except (OSError, ValueError):
        return None, "profile %s not loadable" % name
    if facts.get("profile_sha256") and digest(text) != facts["profile_sha256"]:
        return None, "profile %s changed since the run started" % name
    return prof, None


def decide(app, facts, prof):
    """'resume' or 'hold', and why."""
    cfg = app.cfg
    out = facts.get("outage_s")
    if prof is None:
        return "hold", "profile"
    if out is None:
        return "hold", "outage unknown (clock)"
    if out > cfg["recover_resume_max_s"]:
        return "hold", "outage %d s > %d s" % (out, cfg["recover_resume_max_s"])
    if facts.get("state") not in ("running", "end"):
        return "hold", "run was %s" % facts.get("state")
    steps = prof["steps"]
    i = facts.get("step", -1)
    if i < 0 or i >= len(steps):
        return "hold", "step unknown"
    g = app.safety
    then = facts.get("sample_c") if g.sample_ok else None
    now = app.sample_c if g.sample_ok else None
    if then is None or now is None:
        then = facts.get("chamber_c")
        now = app.chamber_c
    if then is None or now is None:
        return "hold", "no product temperature"
    if now > then + _PATH_C:
        return "hold", "product warmed %.1f C during the outage" % (now - then)
    return "resume", "outage %d s, product %.1f C" % (out, now)


def apply(app, facts):
    g = app.safety
    if facts.get("kind") == "tune":
        # An autotune cut off: no product to follow; its record is closed as
        # interrupted and the gains in force stay (they change only on apply).
        app.note("note", "controller", "recovery: autotune interrupted by the outage; gains unchanged")
        log = app.log
        if log is not None and log.f is not None:
            log.seal(facts.get("last_t_ms", 0), app.clock.rtc_s(), 2)     # SEAL_INTERRUPTED
        return "none"
    prof, why = _profile(app, facts)
    action, reason = decide(app, facts, prof)
    product = app.sample_c if g.sample_ok else app.chamber_c
    tr = transfer_text(product)
    e = app.engine
    app.note("note", "controller", "recovery: %s (%s%s); %s" % (
        action, reason, "; " + why if why else "", tr))
    if prof is not None and not 0 <= facts.get("step", -1) < len(prof["steps"]):
        prof = None
    if prof is None:
        # Nothing to follow: the record is closed as interrupted, outputs off.
        log = app.log
        if log is not None and log.f is not None:
            log.seal(facts.get("last_t_ms", 0), app.clock.rtc_s(), 2)     # SEAL_INTERRUPTED
        g.transfer = tr
        return action
    app.profile_name = facts.get("profile")
    app.run_ms = facts.get("last_t_ms", 0)
    app._reached_end = facts.get("state") == "end"
    app.ctl.reset()
    app.valve.reset()
    s = app.ctl.filter_sample(app.sample_c if g.sample_ok else None, 0)
    ch = app.chamber_c
    _resume_at(e, prof, facts["step"], app.run_ms - facts.get("step_since_ms", 0), app.run_ms,
               ch, s, facts.get("nucleated", False))
    if action == "hold":
        # Hold at the product's present temperature, never warmer.
        _hold_here(e, ch, s)
        g.transfer = tr
    app.ctl.chamber_sp = e.sp_chamber
    app._drain_events("controller")
    app.board.set_fan(True)
    return action


# -- on the profile engine (boot-time only, so kept out of engine.py) --------
def _resume_at(e, profile, index, step_ms, elapsed_ms, chamber_c, sample_c, nucleated):
    # Continue step `index`, `step_ms` into it, from the probes' present
    # temperatures: a ramp starts where the controlled probe is now (the
    # product is never warmed back), a hold keeps what remained of it.
    e.profile = profile
    e.state = RUNNING
    e.elapsed_ms = elapsed_ms
    e.nucleation_ms = None
    e.no_sample = False
    e.sp_chamber = chamber_c
    e.sp_sample = sample_c if sample_c is not None else chamber_c
    e.probe = "sample" if sample_c is not None else "chamber"
    e._enter(index, chamber_c, sample_c, chamber_c)
    if e.kind != "ramp":
        e.step_ms = step_ms if step_ms > 0 else 0
    if nucleated:
        e._comp_done = True
    if e.kind == "end":
        e.state = END


def _hold_here(e, chamber_c, sample_c):
    # Held at the present temperatures (for the chamber the colder of chamber
    # and product) until an operator continues or stops.
    if e.probe == "sample" and sample_c is not None:
        e.sp = sample_c
        e.sp_sample = sample_c
    else:
        sp = chamber_c if sample_c is None or chamber_c < sample_c else sample_c
        e.probe = "chamber"
        e.mode = MODE_CHAMBER
        e.sp = sp
        e.sp_chamber = sp
    e.state = HELD
    e._event("hold", e.index)
