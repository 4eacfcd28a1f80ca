"""`crf tune`: autotune the chamber loop on the freezer it runs on
(docs/commissioning.md), and `crf tune apply|result|stop|status`.

`crf tune` logs in as an engineer, starts the tune (link command
tune_start), shows its progress and the relay oscillation live until it
ends, then prints the identified models and the proposed gains beside the
ones in force. Nothing changes on the freezer until `crf tune apply`, which
stores the proposal through the audited configuration (config_set).
Ctrl-C during `crf tune` stops the tune (outputs safe, old gains kept).
"""

import time

import click

from crf_host.cli import (CONTEXT, CrfGroup, Creds, Fail, _confirm, _console, _print_json, _session,
                          _table, _want_json, crf, engineer_options, json_option)

POLL_S = 0.5


def fetch_result(client):
    """The last tune's result (tune_result is a chunked transfer of tune.json)."""
    import json

    return json.loads(client._fetch("tune_result", {}))
WINDOW_S = 120          # freezer seconds of oscillation shown


def _temps(ctx, param, value):
    if value is None:
        return None
    try:
        temps = [float(t) for t in str(value).split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: comma-separated temperatures in °C are needed "
                                 "(e.g. --at=-20,-60)", ctx=ctx, param=param) from None
    if not 1 <= len(temps) <= 4:
        raise click.BadParameter("one to four temperatures", ctx=ctx, param=param)
    return temps


def _gain_rows(result):
    """(key, in force, proposed) for the gain settings of a result."""
    prop = result.get("proposal") or {}
    cur = result.get("current") or {}
    rows = []
    for k in ("chamber_kp", "chamber_ki", "chamber_kd", "chamber_gain_schedule"):
        if k in prop or k in cur:
            rows.append((k, cur.get(k), prop.get(k)))
    return rows


def _fmt(v):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        if not v:
            return "(none: flat gains)"
        return "; ".join("%g °C: kp %g, ki %g, kd %g" % tuple(r) for r in v)
    return str(v)


def print_result(console, r):
    state = r.get("state")
    colour = {"done": "green", "refused": "red", "aborted": "red", "stopped": "yellow"}.get(state, "white")
    console.print(f"[bold]Autotune[/bold] at {', '.join('%g °C' % t for t in r.get('at', []))}: "
                  f"[{colour}]{state}[/{colour}]"
                  + (f" — {r.get('reason')}" if r.get("reason") else "")
                  + f"  ({r.get('minutes', 0):.1f} freezer min, record run {r.get('run')})")
    t = _table(("at °C", "right"), ("min", "right"), ("noise K", "right"), ("hyst K", "right"),
               ("relay W", "right"), ("Pu s", "right"), ("amp K", "right"), "model",
               ("kp W/K", "right"), ("ki W/(K·s)", "right"), title="Per temperature")
    for x in r.get("results", []):
        rel, m, g = x.get("relay") or {}, x.get("model") or {}, x.get("gains") or {}
        if m.get("kind") == "fopdt":
            model = "FOPDT K %.3g K/W, τ %.1f s, θ %.1f s" % (m["k_k_per_w"], m["tau_s"], m["theta_s"])
        elif m.get("kind") == "integrating":
            model = "integrating k' %.3g K/(W·s), θ %.1f s" % (m["k_k_per_ws"], m["theta_s"])
        else:
            model = "—"
        t.add_row(f"{x.get('at_c'):g}", f"{x.get('minutes', 0):.1f}", f"{x.get('noise_c', 0):.3f}",
                  f"{x.get('eps_c', 0):.3f}", f"±{x.get('d_w', 0):.0f}",
                  f"{rel['pu_s']:.1f}" if rel else "—", f"{rel['a_c']:.2f}" if rel else "—", model,
                  f"{g['kp']:.1f}" if g else "—", f"{g['ki']:.2f}" if g else "—")
    console.print(t)
    if state == "done":
        g = _table("setting", "in force", "proposed", title="Gains (crf tune apply stores the proposal)")
        for k, cur, new in _gain_rows(r):
            g.add_row(k, _fmt(cur), _fmt(new))
        console.print(g)


def _frame(st, samples, console):
    from rich.console import Group
    from rich.text import Text

    from crf_host.monitor import chart

    phase = st.get("phase", "?")
    head = Text()
    head.append(f"Autotune {st.get('index')}/{st.get('of')} at {st.get('at_c'):g} °C: ", style="bold")
    head.append(phase, style="cyan")
    head.append(f"   {st.get('t_s', 0) // 60} min {st.get('t_s', 0) % 60:02d} s freezer time")
    if phase == "relay":
        head.append(f"   relay ±{st.get('d_w', 0):.0f} W around {st.get('u0_w', 0):.0f} W, "
                    f"hysteresis ±{st.get('eps_c', 0):.3f} K, half cycles "
                    f"{st.get('half_cycles', 0)}/{st.get('half_cycles_needed', 0)}")
    n = st.get("n", 0)
    pts = [(k, v) for k, v in samples if k >= n - WINDOW_S]
    sp = st.get("sp_c")
    series = [("bright_blue", pts)]
    if sp is not None and pts:
        series.insert(0, ("dim", [(pts[0][0], sp), (pts[-1][0], sp)]))
    lines = chart(series, n - WINDOW_S, n, console.width, 10) if pts else [Text("(waiting for readings)")]
    return Group(head, *lines, Text("chamber °C (blue) and setpoint, last %d s; Ctrl-C stops the tune"
                                    % WINDOW_S, style="dim"))


def _follow(client, console, as_json):
    """Poll tune_status until the tune ends; live view unless JSON."""
    samples = []
    since = 0
    live = None
    if not as_json:
        from rich.live import Live

        live = Live(console=console, auto_refresh=False, transient=False)
        live.start()
    try:
        while True:
            st = client.request("tune_status", {"since": since})
            if not st.get("active"):
                return
            first = st.get("first", since)
            for i, c in enumerate(st.get("c_centi", [])):
                samples.append((first + i, c / 100.0))
            since = st.get("n", since)
            del samples[:-WINDOW_S * 2]
            if live is not None:
                live.update(_frame(st, samples, console), refresh=True)
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        try:
            client.request("tune_stop", {})
            console.print("[yellow]tune stopped: outputs off, the gains in force are unchanged[/yellow]")
        except Exception as e:  # noqa: BLE001  it may have ended meanwhile
            console.print(f"[yellow]stopping the tune: {e}[/yellow]")
        raise SystemExit(130)
    finally:
        if live is not None:
            live.stop()
            console.print()


@crf.group("tune", cls=CrfGroup, invoke_without_command=True, context_settings=CONTEXT)
@click.option("--at", "at", callback=_temps, metavar="T1,T2",
              help="Test temperatures in °C (default -20,-60; write --at=-20,-60).")
@click.option("--band", type=click.FloatRange(0.5, 20), default=None,
              help="Abort if the chamber strays more than this many K from the test "
                   "temperature during the relay (default 5).")
@click.option("--min-c", type=float, default=None, help="Abort below this chamber temperature.")
@click.option("--max-c", type=float, default=None, help="Abort above this chamber temperature.")
@click.option("--minutes", type=click.IntRange(5, 120), default=None,
              help="Longest time per test temperature, freezer minutes (default 45).")
@click.option("--no-wait", is_flag=True, help="Start the tune and return (follow with crf tune status).")
@engineer_options
@json_option
@click.pass_context
def tune(ctx, at, band, min_c, max_c, minutes, no_wait, user, pin, as_json):
    """Autotune the chamber loop on this freezer (engineer; empty chamber or a dummy load).

    A relay test at each temperature identifies the chamber and proposes PI
    gains (SIMC rule), with a gain schedule if the plant differs between the
    temperatures. The proposal is shown beside the gains in force; nothing
    changes until `crf tune apply`.
    """
    if ctx.invoked_subcommand is not None:
        return
    args = {}
    if at is not None:
        args["at"] = at
    for key, v in (("band_c", band), ("min_c", min_c), ("max_c", max_c), ("minutes", minutes)):
        if v is not None:
            args[key] = v
    as_json = _want_json(as_json)
    console = _console()
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        s.login(creds)
        started = s.client.request("tune_start", args)
        if no_wait:
            if as_json:
                _print_json(started)
            else:
                console.print(f"autotune started at {started.get('at')} (record run {started.get('run')})")
            return
        _follow(s.client, console, as_json)
        result = fetch_result(s.client)
    if as_json:
        _print_json(result)
        return
    print_result(console, result)
    if result.get("state") != "done":
        raise Fail(f"no gains proposed: {result.get('reason')}")


@tune.command("apply", context_settings=CONTEXT)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@engineer_options
@json_option
def tune_apply(yes, user, pin, as_json):
    """Store the last tune's proposed gains in the configuration (engineer, audited)."""
    as_json = _want_json(as_json)
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        result = fetch_result(s.client)
        if result.get("state") != "done":
            raise Fail(f"the last autotune proposed no gains ({result.get('state')}: {result.get('reason')})")
        if not as_json:
            print_result(_console(), result)
            if not yes:
                _confirm("Store the proposed gains in the freezer's configuration?", "nothing changed")
        s.login(creds)
        reply = s.client.request("tune_apply", {})
    if as_json:
        _print_json(reply)
        return
    changed = reply.get("changed") or {}
    if not changed:
        click.echo("nothing changed (the proposed gains were already in force)")
    for k, (old, new) in changed.items():
        click.echo(f"{k}: {_fmt(old)} -> {_fmt(new)}")


@tune.command("result", context_settings=CONTEXT)
@json_option
def tune_result(as_json):
    """Show the last tune's result (models, proposed and current gains)."""
    with _session() as s:
        r = fetch_result(s.client)
    if _want_json(as_json):
        _print_json(r)
    else:
        print_result(_console(), r)


@tune.command("status", context_settings=CONTEXT)
@json_option
def tune_status(as_json):
    """Follow a running tune (live), or say how the last one ended."""
    as_json = _want_json(as_json)
    with _session() as s:
        st = s.client.request("tune_status", {})
        if not st.get("active"):
            try:
                last = fetch_result(s.client)
            except Exception as e:  # noqa: BLE001  none on this freezer yet
                if getattr(e, "name", "") != "not_found":
                    raise
                last = {}
            st["last"] = {"state": last.get("state"), "reason": last.get("reason")}
            if as_json:
                _print_json(st)
            else:
                click.echo(f"no autotune running (last: {last.get('state') or 'none'}"
                           + (f": {last.get('reason')}" if last.get("reason") else "") + ")")
            return
        if as_json:
            _print_json(st)
            return
        _follow(s.client, _console(), False)
        r = fetch_result(s.client)
    print_result(_console(), r)


@tune.command("stop", context_settings=CONTEXT)
@json_option
def tune_stop(as_json):
    """Stop a running tune: outputs off, the gains in force unchanged."""
    with _session() as s:
        s.client.request("tune_stop", {})
    if _want_json(as_json):
        _print_json({"stopped": True})
    else:
        click.echo("autotune stopped; the gains in force are unchanged")
