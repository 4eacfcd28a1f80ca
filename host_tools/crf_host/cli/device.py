"""Device commands: identity and state, the live monitor, runs, the clock,
configuration and login."""

import json
import time

import click

from crf_host.cli import CONTEXT, Creds, CrfGroup, Fail, RUNNING, _confirm, _console, _device_error_name, _kv_table, _operator, _poll, _print_json, _session, _want_json, crf, engineer_options, json_option, operator_option


# -- device: identity and state ----------------------------------------------------------

@crf.command(context_settings=CONTEXT)
@json_option
def info(as_json):
    """Identify the freezer: model, serial, firmware, protocol, flash."""
    with _session() as s:
        data = dict(s.info)
    if _want_json(as_json):
        _print_json(dict(data, port=s.port))
        return
    rows = [("port", s.port)]
    for key, label in (("model", "model"), ("serial", "serial"), ("fw", "firmware"),
                       ("board", "board"), ("protocol", "protocol")):
        rows.append((label, str(data.get(key, "—"))))
    total, free = data.get("flash_bytes"), data.get("free_flash_bytes")
    if isinstance(total, int) and isinstance(free, int) and total > 0:
        rows.append(("flash", f"{free:,} of {total:,} bytes free ({100 * free / total:.0f} %)"))
    known = {"model", "serial", "fw", "board", "protocol", "flash_bytes", "free_flash_bytes"}
    rows += [(k, str(v)) for k, v in data.items() if k not in known]
    _console().print(_kv_table(rows))


def _status_rows(st):
    from crf_host import monitor as m

    run = st.get("run")
    rows = [("state", str(st.get("state") or "?")),
            ("run", "—" if run in (None, "") else
             f"{run}" + (f" (record {st['record']})" if st.get("record") else "")),
            ("profile", str(st.get("profile") or "—")),
            ("step", m.step_text(st)),
            ("chamber", f"{m.temp(st.get('chamber_c'))}  (setpoint {m.temp(st.get('sp_chamber_c'))})"),
            ("sample", f"{m.temp(st.get('sample_c'))}  (setpoint {m.temp(st.get('sp_sample_c'))})"),
            ("LN2", m.duty(st.get("ln2_duty")) + ("" if st.get("valve") is None else
                                                   f", valve {'open' if st.get('valve') else 'closed'}")),
            ("heater", m.duty(st.get("heater_duty"))),
            ("compensation", "active" if st.get("comp") else "off"),
            ("elapsed", m.hms(st.get("elapsed_s"))),
            ("remaining", m.hms(st.get("remaining_s"))),
            ("alarms", "; ".join(m.alarm_text(a) for a in st.get("alarms") or []) or "none"),
            ("clock", m.utc(st.get("rtc_s"))),
            ("link role", str(st.get("role") or "—"))]
    if st.get("transfer"):
        rows.append(("product", str(st["transfer"])))
    intr = st.get("interrupted")
    if intr:
        rows.append(("interrupted", json.dumps(intr, ensure_ascii=False)
                     if isinstance(intr, (dict, list)) else str(intr)))
    return rows


@crf.command(context_settings=CONTEXT)
@json_option
def status(as_json):
    """State, step, temperatures, outputs and alarms now."""
    with _session() as s:
        st = s.client.status()
    if _want_json(as_json):
        _print_json(st)
        return
    _console().print(_kv_table(_status_rows(st)))


@crf.command(context_settings=CONTEXT)
@click.option("--minutes", default=30, show_default=True, type=click.IntRange(1, 24 * 60),
              help="Time span of the chart.")
@click.option("--height", default=0, type=click.IntRange(0, 60),
              help="Chart height in text rows (default: fit the terminal).")
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts and tests).")
@json_option
def monitor(minutes, height, once, as_json):
    """Live view: temperatures, step, time left, alarms, chart.

    Shows state, profile, step and its note, chamber and sample temperature
    with their setpoints, LN2 and heater duty, elapsed and remaining time,
    alarms, recent events and a scrolling chart of the freeze curve.

    Refreshes about once a second from the freezer's status frames; Ctrl-C
    exits. With --json, prints each status and event frame as one JSON line.
    """
    from crf_host.monitor import MonitorState

    as_json = _want_json(as_json)
    with _session() as s:
        i = s.info
        title = f"{s.port} · {i.get('model', '?')} {i.get('serial', '')} fw {i.get('fw', '?')}"
        state = MonitorState(window_s=minutes * 60)
        state.add_status(s.client.status())
        if once:
            if as_json:
                _print_json(state.status)
            else:
                console = _console()
                console.print(state.render(width=console.width,
                                           chart_height=_chart_height(console, height), title=title))
            return
        s.client.subscribe(status_s=1, events=True)
        try:
            if as_json:
                while True:
                    for name, body in _poll(s.client, 1.0):
                        click.echo(json.dumps({"frame": name, "data": body}, ensure_ascii=False))
            else:
                _live(s, state, title, height)
        except KeyboardInterrupt:
            pass
        finally:
            try:
                s.client.subscribe(status_s=0, events=False)
            except BaseException:  # noqa: BLE001  leaving anyway
                pass
    if not as_json:
        click.echo("monitor stopped")


def _chart_height(console, height):
    """--height, else what fits a terminal beside the ~22 other lines (10 off a terminal)."""
    if height:
        return height
    if console.is_terminal:
        return max(4, min(16, console.size.height - 22))
    return 10


def _live(s, state, title, height):
    from rich.live import Live

    console = _console()

    def frame():
        return state.render(width=console.width, chart_height=_chart_height(console, height),
                            title=title)

    with Live(frame(), console=console, auto_refresh=False, transient=False) as live:
        while True:
            state.feed(_poll(s.client, 0.5))
            live.update(frame(), refresh=True)


# -- device: runs -------------------------------------------------------------------

@crf.group("run", cls=CrfGroup, context_settings=CONTEXT)
def run_group():
    """Start, stop, hold and continue a freeze; acknowledge alarms."""


@run_group.command("start", context_settings=CONTEXT)
@click.argument("profile_name", metavar="PROFILE")
@click.option("--batch", "-b", default="", help="Batch (lot) number, recorded with the run.")
@click.option("--product", default="", help="Product description, recorded with the run.")
@operator_option
@json_option
def run_start(profile_name, batch, product, operator, as_json):
    """Start a freeze with PROFILE (a profile stored on the freezer)."""
    operator = _operator(operator)
    with _session() as s:
        run_id = s.client.run_start(profile_name, batch=batch, product=product, operator=operator)
    if isinstance(run_id, dict):
        run_id = run_id.get("run")
    if _want_json(as_json):
        _print_json({"run": run_id})
        return
    extra = "".join(f", {k} {v}" for k, v in (("batch", batch), ("product", product)) if v)
    click.secho(f"run {run_id} started: profile {profile_name}{extra}, operator {operator}",
                fg="green")


def _operator_action(action, verb, operator, as_json, **kwargs):
    operator = _operator(operator)
    with _session() as s:
        reply = getattr(s.client, action)(operator=operator, **kwargs)
    if _want_json(as_json):
        _print_json(reply if isinstance(reply, dict) else {})
        return
    click.echo(f"{verb} (operator {operator})")


@run_group.command("stop", context_settings=CONTEXT)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@operator_option
@json_option
def run_stop(yes, operator, as_json):
    """Stop the freeze in progress (asks first).

    A stopped run cannot be continued; `crf run hold` only pauses it.
    """
    operator = _operator(operator)
    with _session() as s:
        st = s.client.status()
        if st.get("state") in RUNNING and not yes:
            from crf_host.monitor import step_text

            click.echo(f"Run {st.get('run', '?')} is {st.get('state')}: profile "
                       f"{st.get('profile') or '?'}, step {step_text(st)}.", err=True)
            _confirm("Stop this freeze? Stopping ends the run for good "
                     "(`crf run hold` only pauses it)", "not stopped")
        reply = s.client.run_stop(operator=operator)
    if _want_json(as_json):
        _print_json(reply if isinstance(reply, dict) else {})
        return
    run_id = st.get("run")
    click.secho(f"run {run_id} stopped" if run_id not in (None, "") else "run stopped",
                fg="yellow", nl=False)
    click.secho(f" (operator {operator})", fg="yellow")


@run_group.command("hold", context_settings=CONTEXT)
@operator_option
@json_option
def run_hold(operator, as_json):
    """Hold the freeze at its setpoint until `crf run continue`."""
    _operator_action("run_hold", "run held", operator, as_json)


@run_group.command("continue", context_settings=CONTEXT)
@operator_option
@json_option
def run_continue(operator, as_json):
    """Continue a held freeze or a step waiting for the operator."""
    _operator_action("run_continue", "run continued", operator, as_json)


@run_group.command("ack", context_settings=CONTEXT)
@click.option("--alarm", default=None, metavar="ALARM",
              help="The alarm being acknowledged (default: all present).")
@operator_option
@json_option
def run_ack(alarm, operator, as_json):
    """Acknowledge alarms (recorded with the operator's name)."""
    _operator_action("run_ack", "alarms acknowledged", operator, as_json, alarm=alarm)


# -- device: clock, configuration, login -------------------------------------------------

@crf.group("time", cls=CrfGroup, context_settings=CONTEXT)
def time_group():
    """The freezer's real-time clock (UTC)."""


@time_group.command("sync", context_settings=CONTEXT)
@operator_option
@engineer_options
@json_option
def time_sync(operator, user, pin, as_json):
    """Set the freezer's clock to this computer's UTC time.

    An operator may do it while the freezer is idle; during a run it needs an
    engineer login (the PIN is asked for if the freezer says so).
    """
    from crf_host.monitor import utc

    operator = _operator(operator)
    creds = Creds(user, pin)
    with _session() as s:
        now = round(time.time())
        try:
            reply = s.client.set_time(now, operator=operator)
        except Exception as e:  # noqa: BLE001  only busy/denied get a second try
            if _device_error_name(e) not in ("busy", "denied") or s.login_reply is not None:
                raise
            if not creds.pin:
                click.echo("The freezer refuses a clock change from an operator now "
                           "(a run is open): engineer rights are needed.", err=True)
            s.login(creds)
            now = round(time.time())
            reply = s.client.set_time(now, operator=operator)
    reply = dict(reply) if isinstance(reply, dict) else {}
    new, old = reply.get("rtc_s", now), reply.get("old_rtc_s")
    valid_old = isinstance(old, (int, float)) and not isinstance(old, bool) and old > 0
    diff = (new - old) if valid_old else None
    if _want_json(as_json):
        _print_json(dict(reply, difference_s=diff))
        return
    click.echo(f"freezer clock set to {utc(new)}")
    if diff is None:
        click.echo("it was not set before")
    elif diff == 0:
        click.echo(f"it was {utc(old)}: already in step")
    else:
        click.echo(f"it was {utc(old)}: {_span(abs(diff))} {'behind' if diff > 0 else 'ahead'}")


def _span(s):
    """Seconds for people: '12 s', '3 min 4 s (184 s)', '2 d 3 h 4 min (...)'."""
    if s < 60:
        return f"{s} s"
    d, h, m, sec = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    parts = [f"{v} {u}" for v, u in ((d, "d"), (h, "h"), (m, "min")) if v]
    if not d and sec:
        parts.append(f"{sec} s")
    return f"{' '.join(parts)} ({s:,} s)"


@crf.group(cls=CrfGroup, context_settings=CONTEXT)
def config():
    """The controller configuration on the freezer."""


@config.command("get", context_settings=CONTEXT)
@click.argument("key", required=False)
@json_option
def config_get(key, as_json):
    """Show the configuration, or one KEY's value."""
    with _session() as s:
        reply = s.client.config_get()
    cfg = reply.get("config", reply) if isinstance(reply, dict) else {}
    if key is not None:
        if key not in cfg:
            raise Fail(f"no configuration key {key!r} (keys: {', '.join(sorted(cfg)) or 'none'})")
        if _want_json(as_json):
            _print_json({key: cfg[key]})
        else:
            click.echo(json.dumps(cfg[key], ensure_ascii=False)
                       if not isinstance(cfg[key], str) else cfg[key])
        return
    if _want_json(as_json):
        _print_json(cfg)
        return
    _console().print(_kv_table([(k, json.dumps(v, ensure_ascii=False)) for k, v in sorted(cfg.items())]))


def _parse_value(text):
    """Numbers, true/false/null, JSON lists and objects; anything else is text."""
    def no_constants(name):
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError:
        return text


def _assignment(ctx, param, values):
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        out[key.strip()] = _parse_value(value.strip())
    return out


@config.command("set", context_settings=CONTEXT)
@click.argument("values", nargs=-1, required=True, metavar="KEY=VALUE...", callback=_assignment)
@engineer_options
@json_option
def config_set(values, user, pin, as_json):
    """Change configuration values (engineer; refused during a run).

    Values are read as JSON where they parse (numbers, true/false, null,
    lists), else as text. The freezer checks them together and writes all or
    none.
    """
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        s.login(creds)
        reply = s.client.config_set(values)
    reply = reply if isinstance(reply, dict) else {}
    if _want_json(as_json):
        _print_json(reply)
        return
    changed = reply.get("changed") or {}
    if not changed:
        click.echo("nothing changed (the values were already in force)")
    for key, pair in changed.items():
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        click.echo(f"{key}: {json.dumps(old, ensure_ascii=False)} -> {json.dumps(new, ensure_ascii=False)}")


@crf.command(context_settings=CONTEXT)
@engineer_options
@json_option
def login(user, pin, as_json):
    """Check an engineer PIN on the freezer.

    Each crf command opens its own connection and the freezer keeps a login
    per connection, so this only checks the PIN. Commands that need engineer
    rights log in themselves: give them --pin, set $CRF_PIN, or type the PIN
    when asked.
    """
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        reply = s.login(creds)
    if _want_json(as_json):
        _print_json(reply)
        return
    role = reply.get("role", "engineer")
    exp = reply.get("expires_s")
    click.secho(f"PIN accepted: {creds.user} has {role} rights on this freezer"
                + (f" (the session would expire after {exp} s without engineer commands)"
                   if isinstance(exp, (int, float)) else ""), fg="green")
    click.echo("Each crf command connects anew: give --pin or set CRF_PIN on the commands that "
               "need engineer rights (else they ask).")
