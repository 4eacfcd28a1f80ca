"""The `crf` command line.

Heavy modules (matplotlib, the firmware's validator, the plant model, the
serial link client) are imported inside the commands so `crf --help` stays
fast and one broken module does not take every command down.

Device commands open `crf_host.link.Client(find_port(--port))`, identify the
device (which checks the protocol version), run, log out if they logged in,
and close. Every expected failure of the link (`LinkError`, `DeviceError`)
reaches the user as one red line `crf: <sentence>` and exit status 1; usage
errors keep click's exit status 2.
"""

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from crf_host import __version__

CONTEXT = {"help_option_names": ["-h", "--help"]}
PROFILE_MAX_BYTES = 8192   # profile_put refuses larger texts (docs/protocol.md)
RUNNING = ("running", "held")


def _console(err=False):
    return Console(stderr=err, highlight=False, soft_wrap=True)


# -- errors ----------------------------------------------------------------------

class Fail(click.ClickException):
    """An expected failure: one red line `crf: <message>`, exit status 1."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split("\n")).strip())

    def show(self, file=None):
        click.secho(f"crf: {self.format_message()}", fg="red", err=True)


def _oneline(text):
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


_DEVICE_ERRORS = {
    "busy": "the freezer is busy",
    "denied": "not permitted",
    "not_found": "not found on the freezer",
    "bad_args": "the freezer rejected the request",
    "conflict": "the freezer's state changed meanwhile (try again)",
    "storage": "the freezer's flash storage failed",
    "internal": "internal error on the freezer",
    "unknown_command": "the freezer does not know this command (older firmware?)",
}


def _device_message(e):
    name = getattr(e, "name", "") or "error"
    detail = getattr(e, "detail", None)
    detail = _oneline(str(e) if detail is None else detail)
    head = _DEVICE_ERRORS.get(name, f"the freezer answered {name}")
    text = f"{head}: {detail}" if detail else head
    if name == "denied" and not _opts().logged_in:
        text += " (this needs an engineer login: give --pin or set CRF_PIN)"
    return text


def _failure_message(e):
    """One sentence for an expected failure, or None for a bug (traceback)."""
    link = sys.modules.get("crf_host.link")
    if link is not None:
        if isinstance(e, getattr(link, "DeviceError", ())):
            return _device_message(e)
        if isinstance(e, getattr(link, "LinkError", ())):
            return _oneline(e) or type(e).__name__
    ser = sys.modules.get("serial")
    if ser is not None and isinstance(e, getattr(ser, "SerialException", ())):
        return f"serial port error: {_oneline(e)}"
    return None


def _device_error_name(e):
    link = sys.modules.get("crf_host.link")
    if link is not None and isinstance(e, getattr(link, "DeviceError", ())):
        return getattr(e, "name", "") or "error"
    return None


class CrfGroup(click.Group):
    """Commands listed in the order they are defined; link failures become one line."""

    def list_commands(self, ctx):
        return list(self.commands)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as e:  # noqa: BLE001  sorted below: expected failures vs bugs
            msg = _failure_message(e)
            if msg is None:
                raise
            raise Fail(msg) from None


# -- options shared by the device commands -----------------------------------------

class Options:
    def __init__(self, port=None, timeout=2.0, as_json=False):
        self.port = port
        self.timeout = timeout
        self.json = as_json
        self.logged_in = False


def _opts():
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    if root is None or not isinstance(root.obj, Options):
        return Options()
    return root.obj


def json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Machine-readable output (JSON) on stdout.")(f)


def _want_json(as_json):
    if as_json:
        _opts().json = True   # no progress bars either
    return as_json or _opts().json


def _print_json(obj):
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _default_user():
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001  no login name in some containers
        return "engineer"


def engineer_options(f):
    f = click.option("--pin", envvar="CRF_PIN", metavar="PIN",
                     help="Engineer PIN (default $CRF_PIN, else asked for, hidden). "
                          "Prefer the prompt or $CRF_PIN to keep it out of shell history.")(f)
    f = click.option("--user", envvar="CRF_USER", metavar="NAME",
                     help="Engineer name for the audit trail (default $CRF_USER, else your login name).")(f)
    return f


def operator_option(f):
    return click.option("--operator", "-O", envvar="CRF_OPERATOR", metavar="NAME",
                        help="Who does this, recorded in the run record and audit log "
                             "(default $CRF_OPERATOR, else asked for).")(f)


def _confirm(question, declined):
    """Ask yes/no on stderr; on no, say `declined` and exit 1."""
    if not click.confirm(question, err=True):
        click.echo(declined, err=True)
        sys.exit(1)


def _poll(client, timeout_s):
    """Unsolicited frames, waiting at least a little when there are none
    (so a client that returns at once cannot make the loop spin)."""
    t0 = time.monotonic()
    frames = client.poll_unsolicited(timeout_s=timeout_s)
    if not frames:
        time.sleep(max(0.0, min(timeout_s, 0.2) - (time.monotonic() - t0)))
    return frames or []


def _operator(name):
    name = (name or "").strip()
    while not name:
        name = click.prompt("Operator", err=True).strip()
    return name


class Creds:
    """Engineer name and PIN; the PIN is asked for (hidden) only when needed."""

    def __init__(self, user, pin):
        self.user = (user or "").strip() or _default_user()
        self.pin = pin

    def resolve(self):
        if not self.pin:
            self.pin = click.prompt(f"Engineer PIN for {self.user}", hide_input=True, err=True)
        return self.user, self.pin


class Session:
    """One link connection: the client, its port, the identify reply, login state."""

    def __init__(self, client, port, info):
        self.client = client
        self.port = port
        self.info = info or {}
        self.login_reply = None

    def login(self, creds):
        """Open an engineer session on this connection (once)."""
        if self.login_reply is not None:
            return self.login_reply
        user, pin = creds.resolve()
        try:
            reply = self.client.login(user, pin)
        except Exception as e:  # noqa: BLE001  re-raised unless it is the device's "no"
            if _device_error_name(e) == "denied":
                raise Fail(f"login as {user} refused: "
                           f"{_oneline(getattr(e, 'detail', '') or e)}") from None
            raise
        self.login_reply = reply if isinstance(reply, dict) else {"role": "engineer"}
        _opts().logged_in = True
        return self.login_reply


def _link():
    import importlib

    try:
        link = importlib.import_module("crf_host.link")
    except Exception as e:  # noqa: BLE001  a missing or half-written module
        raise Fail(f"the serial link client (crf_host.link) cannot be loaded: "
                   f"{type(e).__name__}: {e}") from None
    if not hasattr(link, "Client"):
        raise Fail("the serial link client (crf_host.link) has no Client yet: "
                   "this crf cannot talk to a freezer")
    return link


@contextmanager
def _session():
    """Connect, identify (checks it is a freezer speaking our protocol), clean up."""
    o = _opts()
    link = _link()
    port = link.find_port(o.port)
    client = link.Client(port, timeout_s=o.timeout)
    s = None
    try:
        s = Session(client, port, client.identify())
        yield s
    finally:
        if s is not None and s.login_reply is not None:
            try:
                client.logout()   # the device cannot tell that this program has gone
            except Exception:  # noqa: BLE001  best effort; the session expires anyway
                pass
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


class _Transfer:
    """Progress of one transfer: a rich bar on stderr (nothing in JSON mode)."""

    def __init__(self, progress, task):
        self.p, self.task = progress, task

    def __call__(self, done, total=None):
        if self.p is not None:
            extra = {"total": total} if total else {}
            self.p.update(self.task, completed=done, **extra)

    def finish(self, n):
        if self.p is not None:
            self.p.update(self.task, completed=n, total=n)


@contextmanager
def _transfer(label, total=None):
    if _opts().json:
        yield _Transfer(None, None)
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeRemainingColumn, TransferSpeedColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  console=_console(err=True)) as p:
        yield _Transfer(p, p.add_task(label, total=total))


def _items(reply, key):
    """A list reply, whether the client unwrapped it or not."""
    if isinstance(reply, dict):
        reply = reply.get(key, [])
    return list(reply or [])


class _PlainTable:
    """A rich table whose cells are plain text: device and profile strings
    (notes, descriptions, alarms) may hold brackets that are not markup."""

    def __init__(self, table):
        self.table = table

    def add_row(self, *cells):
        from rich.text import Text

        self.table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))

    def __rich__(self):
        return self.table


def _table(*columns, title=None):
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for c in columns:
        if isinstance(c, tuple):
            t.add_column(c[0], justify=c[1])
        else:
            t.add_column(c)
    return _PlainTable(t)


def _kv_table(rows):
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    plain = _PlainTable(t)
    for k, v in rows:
        plain.add_row(k, v)
    return plain


def _short(sha, n=12):
    return (sha[:n] + "…") if isinstance(sha, str) and len(sha) > n else (sha or "—")


# -- the group -----------------------------------------------------------------------

@click.group(cls=CrfGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="crf")
@click.option("--port", "-p", envvar="CRF_PORT", metavar="DEVICE",
              help="Serial device of the freezer (default $CRF_PORT, else the single "
                   "attached controller).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              envvar="CRF_TIMEOUT", metavar="SECONDS",
              help="Seconds to wait for each reply before retrying ($CRF_TIMEOUT).")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable JSON output for every command (same as each command's --json).")
@click.pass_context
def crf(ctx, port, timeout, as_json):
    """Open controlled-rate freezer controller: host tools.

    Device commands (info, status, monitor, run, profile, logs, report, time,
    config, login) talk to the freezer on --port, $CRF_PORT or the single
    attached controller. Engineer actions log in on the same connection:
    give --pin, set $CRF_PIN, or type the PIN when asked.
    `crf COMMAND --help` explains each command.
    """
    ctx.obj = Options(port, timeout, as_json)


def main(argv=None):
    """Console-script entry point."""
    return crf.main(args=argv, prog_name="crf")


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


# -- device: profiles (and the local validator) ----------------------------------------------

def _report(console, path, errors, warnings):
    for w in warnings:
        console.print(f"[yellow]{path}: warning: {w}[/yellow]", markup=True)
    for e in errors:
        console.print(f"[red]{path}: error: {e}[/red]", markup=True)
    if not errors:
        console.print(f"[green]{path}: ok[/green]")


def _escape(text):
    from rich.markup import escape

    return escape(str(text))


def _check_profile(mod, path):
    """Run the firmware's own validator on one file -> (errors, warnings)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return [f"cannot read: {e}"], []
    try:
        return [], list(mod.validate(mod.loads(text)))
    except mod.ProfileError as e:
        return e.lines() or [str(e)], []


def _validate_files(files, check, as_json=False):
    """Report check(path) -> (errors, warnings) for each file; exit 1 if any has errors."""
    console = _console()
    failed = False
    out = []
    for path in files:
        errors, warnings = check(path)
        if as_json:
            out.append({"file": path, "ok": not errors, "errors": errors, "warnings": warnings})
        else:
            _report(console, _escape(path), [_escape(e) for e in errors],
                    [_escape(w) for w in warnings])
        failed = failed or bool(errors)
    if as_json:
        _print_json(out)
    sys.exit(1 if failed else 0)


@crf.group(cls=CrfGroup, context_settings=CONTEXT)
def profile():
    """Profiles on the freezer; validate local profile files.

    list, show, push, pull and rm talk to the freezer; validate checks files
    here with the firmware's own validator.
    """


@profile.command("list", context_settings=CONTEXT)
@json_option
def profile_list(as_json):
    """List the profiles stored on the freezer."""
    with _session() as s:
        items = _items(s.client.profiles(), "profiles")
    if _want_json(as_json):
        _print_json(items)
        return
    if not items:
        click.echo("no profiles on the freezer")
        return
    t = _table("name", ("bytes", "right"), "sha256")
    for p in items:
        t.add_row(str(p.get("name")), f"{p.get('bytes', 0):,}", _short(p.get("sha256")))
    _console().print(t)


def _step_cells(step):
    from crf_host.monitor import hms

    def c(v):
        return "" if v is None else f"{v:g} °C"

    kind = step.get("kind", "?")
    target = c(step.get("target_c"))
    if step.get("below_c") is not None:
        target = f"below {c(step['below_c'])}"
    elif step.get("above_c") is not None:
        target = f"above {c(step['above_c'])}"
    rate = f"{step['rate_c_per_min']:g} °C/min" if step.get("rate_c_per_min") is not None else ""
    when = []
    if step.get("duration_s") is not None:
        when.append(hms(step["duration_s"]))
    if step.get("until"):
        when.append(f"until {step['until']}")
    if step.get("timeout_s") is not None:
        when.append(f"timeout {hms(step['timeout_s'])}")
    note = step.get("note", "")
    comp = step.get("compensate")
    if comp:
        bits = ", ".join(f"{k} {v}" for k, v in comp.items()) if isinstance(comp, dict) else str(comp)
        note = f"{note} [compensate: {bits}]".strip()
    known = {"kind", "target_c", "below_c", "above_c", "rate_c_per_min", "duration_s", "until",
             "timeout_s", "probe", "note", "compensate"}
    other = ", ".join(f"{k}={v}" for k, v in step.items() if k not in known)
    if other:
        note = f"{note} ({other})".strip()
    return [kind, target, rate, ", ".join(when), str(step.get("probe", "")), note]


@profile.command("show", context_settings=CONTEXT)
@click.argument("name")
@json_option
def profile_show(name, as_json):
    """Show a profile stored on the freezer as a table of steps."""
    import hashlib

    with _session() as s:
        text = s.client.pull_profile(name)
    try:
        prof = json.loads(text)
    except ValueError:
        prof = None
    if _want_json(as_json):
        _print_json(prof if isinstance(prof, dict) else {"name": name, "text": text})
        return
    if not isinstance(prof, dict) or not isinstance(prof.get("steps"), list):
        click.secho(f"{name}: not a readable profile; its text follows", fg="yellow", err=True)
        click.echo(text)
        return
    import crf.profile.validate as mod

    console = _console()
    est = mod.estimate_duration_s(prof)
    console.print(_kv_table([
        ("name", str(prof.get("name", name))),
        ("description", str(prof.get("description", ""))),
        ("steps", str(len(prof["steps"]))),
        ("estimated time", f"{est // 3600} h {est // 60 % 60:02d} min (from 4 °C, without "
                           f"operator holds)"),
        ("sha256", hashlib.sha256(text.encode("utf-8")).hexdigest())]))
    t = _table(("#", "right"), "kind", ("target", "right"), ("rate", "right"), "time", "probe",
               "note")
    for i, step in enumerate(prof["steps"], 1):
        t.add_row(str(i), *_step_cells(step if isinstance(step, dict) else {"kind": str(step)}))
    console.print(t)


@profile.command("pull", context_settings=CONTEXT)
@click.argument("name")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write (default NAME.json here; - for stdout).")
@click.option("--force", "-f", is_flag=True, help="Overwrite an existing file.")
@json_option
def profile_pull(name, output, force, as_json):
    """Copy a profile from the freezer into a file."""
    import hashlib

    out = output or f"{name}.json"
    if out != "-" and Path(out).exists() and not force:
        raise Fail(f"{out} exists; use --force to overwrite it or -o to choose another file")
    with _session() as s:
        text = s.client.pull_profile(name)
    if out == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as e:
        raise Fail(f"cannot write {out}: {e.strerror or e}") from None
    data = text.encode("utf-8")
    if _want_json(as_json):
        _print_json({"name": name, "file": out, "bytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()})
        return
    click.echo(f"{name}: {len(data):,} bytes written to {out}")


def _load_for_push(path):
    """-> (text, name, errors): the file checked by the shared validator."""
    import crf.profile.validate as mod

    errors, _ = _check_profile(mod, path)
    if errors:
        return None, None, errors
    text = Path(path).read_text(encoding="utf-8")
    if len(text.encode("utf-8")) > PROFILE_MAX_BYTES:
        return None, None, [f"{len(text.encode('utf-8')):,} bytes; the freezer takes at most "
                            f"{PROFILE_MAX_BYTES:,}"]
    return text, json.loads(text)["name"], []


@profile.command("push", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--force", "-f", is_flag=True,
              help="Push even when the freezer already has the identical profile.")
@engineer_options
@json_option
def profile_push(files, force, user, pin, as_json):
    """Validate profile files, then store them (engineer).

    Each profile is stored under its "name"; nothing is pushed if any file
    fails validation. A profile the freezer already holds byte for byte is
    skipped unless --force.
    """
    import hashlib

    as_json = _want_json(as_json)
    loaded, bad = [], False
    console = _console(err=True)
    for path in files:
        text, name, errors = _load_for_push(path)
        for e in errors:
            console.print(f"[red]{_escape(path)}: error: {_escape(e)}[/red]")
        bad = bad or bool(errors)
        loaded.append((path, text, name))
    if bad:
        raise Fail("nothing pushed: fix the errors above (`crf profile validate` shows them too)")
    creds = Creds(user, pin)
    creds.resolve()
    results = []
    with _session() as s:
        on_device = {p.get("name"): p for p in _items(s.client.profiles(), "profiles")}
        for path, text, name in loaded:
            data = text.encode("utf-8")
            sha = hashlib.sha256(data).hexdigest()
            if not force and on_device.get(name, {}).get("sha256") == sha:
                results.append({"file": path, "name": name, "unchanged": True, "sha256": sha})
                if not as_json:
                    click.echo(f"{name}: unchanged (the freezer has this exact profile)")
                continue
            s.login(creds)
            with _transfer(f"push {name}", len(data)) as bar:
                reply = s.client.push_profile(name, text, progress=bar)
                bar.finish(len(data))
            reply = reply if isinstance(reply, dict) else {}
            results.append(dict(reply, file=path, name=name))
            if as_json:
                continue
            stored = reply.get("sha256") or sha
            click.secho(f"{name}: stored on the freezer (sha256 {_short(stored)}, "
                        f"{len(data):,} bytes)", fg="green")
            if reply.get("sha256") and reply["sha256"] != sha:
                click.secho(f"{name}: warning: the freezer's sha256 differs from the file's "
                            f"({_short(sha)})", fg="yellow")
            for w in reply.get("warnings") or []:
                click.secho(f"{name}: warning: {w}", fg="yellow")
    if as_json:
        _print_json(results)


@profile.command("rm", context_settings=CONTEXT)
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@engineer_options
@json_option
def profile_rm(name, yes, user, pin, as_json):
    """Delete a profile from the freezer (engineer)."""
    if not yes:
        _confirm(f"Delete profile {name} from the freezer?", f"{name}: not deleted")
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        s.login(creds)
        reply = s.client.delete_profile(name)
    if _want_json(as_json):
        _print_json(reply if isinstance(reply, dict) else {})
        return
    click.echo(f"{name}: deleted from the freezer")


@profile.command("validate", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@json_option
def profile_validate(files, as_json):
    """Check profile files with the firmware's own validator (local)."""
    import crf.profile.validate as mod

    _validate_files(files, lambda path: _check_profile(mod, path), _want_json(as_json))


# -- device: run records ------------------------------------------------------------------

@crf.group(cls=CrfGroup, context_settings=CONTEXT)
def logs():
    """Run records on the freezer; verify and export local files.

    list, fetch and ack talk to the freezer; verify and export work on
    fetched NNNNNN.run files.
    """


def _read_log(path):
    """read_run(path) -> (run, None), or (None, one line saying why not)."""
    from crf_host.records import read_run

    try:
        return read_run(path), None
    except OSError as e:
        return None, f"{path}: cannot read: {e.strerror or e}"
    except Exception as e:  # noqa: BLE001  a reader bug must not hide the other files
        return None, f"{path}: reader error (a bug, please report): {type(e).__name__}: {e}"


def _ok_line(run):
    h = run.header
    return (f"OK: run {h.get('run')}, batch {h.get('batch')}, sealed {run.seal['status']}, "
            f"{len(run.samples)} samples, chain of {run.blocks} blocks verified")


def _record_name(run_id):
    return f"{int(run_id):06d}.run"


def _only_unsealed(rec):
    from crf_host.records import NOT_SEALED

    return bool(rec.problems) and all(p["text"] == NOT_SEALED for p in rec.problems)


@logs.command("list", context_settings=CONTEXT)
@json_option
def logs_list(as_json):
    """List the run records on the freezer."""
    with _session() as s:
        runs = _items(s.client.logs(), "runs")
    if _want_json(as_json):
        _print_json(runs)
        return
    if not runs:
        click.echo("no run records on the freezer")
        return
    t = _table(("run", "right"), ("bytes", "right"), "fetched/ack", "open")
    for r in runs:
        t.add_row(str(r.get("run")), f"{r.get('bytes', 0):,}",
                  "acknowledged" if r.get("acked") else "not yet",
                  "open (run in progress)" if r.get("open") else "closed")
    _console().print(t)


def _fetch(s, run_id, out_dir):
    """Fetch run run_id into out_dir -> (path, RunRecord, the device's list entry)."""
    from crf_host.records import read_run

    runs = _items(s.client.logs(), "runs")
    entry = next((r for r in runs if str(r.get("run")) == str(run_id)), None)
    if entry is None:
        have = ", ".join(str(r.get("run")) for r in runs) or "none"
        raise Fail(f"run {run_id} is not on the freezer (runs there: {have})")
    out = Path(out_dir)
    path = out / _record_name(run_id)
    part = path.with_name(path.name + ".part")
    with _transfer(f"run {run_id}", entry.get("bytes") or None) as bar:
        data = s.client.fetch_log(int(run_id), progress=bar)
        bar.finish(len(data))
    try:
        out.mkdir(parents=True, exist_ok=True)
        part.write_bytes(data)
        os.replace(part, path)
    except OSError as e:
        raise Fail(f"cannot write {e.filename or path}: {e.strerror or e}") from None
    rec = read_run(data)
    said = (rec.header or {}).get("run")
    if said is not None and str(said) != str(run_id):
        rec.problems.append({"offset": 0, "record": 0, "kind": "header",
                             "text": f"asked for run {run_id}, the record says run {said}"})
    return path, rec, entry


def _verification(path, rec, entry):
    """Print what the fetched record is -> 'ok' | 'open' | 'failed'."""
    from crf_host.records import where

    rec.source = str(path)
    if rec.verified:
        click.secho(f"{path}: {_ok_line(rec)}", fg="green")
        return "ok"
    if entry.get("open") and _only_unsealed(rec):
        click.secho(f"{path}: run {entry.get('run')} is still open: {len(rec.samples)} samples so "
                    f"far, chain verified, not sealed yet", fg="yellow")
        return "open"
    n = len(rec.problems)
    click.secho(f"{path}: FAILED: {n} problem{'s' if n > 1 else ''}", fg="red")
    for p in rec.problems:
        click.echo(f"  {where(p)}")
    return "failed"


def _fetch_json(path, rec, entry, outcome, acked=False):
    return {"file": str(path), "run": entry.get("run"), "bytes": rec.size, "open": bool(entry.get("open")),
            "verified": rec.verified, "outcome": outcome, "acked": acked, "seal": rec.seal,
            "samples": len(rec.samples), "blocks": rec.blocks, "problems": rec.problems}


@logs.command("fetch", context_settings=CONTEXT)
@click.argument("run_id", metavar="RUN", type=click.IntRange(0))
@click.option("--output", "-o", "out_dir", default=".", show_default=True,
              type=click.Path(file_okay=False), help="Directory for NNNNNN.run.")
@click.option("--ack", is_flag=True,
              help="Acknowledge the record on the freezer (engineer) if, and only if, it "
                   "verified: the freezer may then delete it for room.")
@engineer_options
@json_option
def logs_fetch(run_id, out_dir, ack, user, pin, as_json):
    """Fetch a run record, write NNNNNN.run, verify it.

    Exit status 1 if the record does not verify. The record of a run still
    in progress is fetched as far as it goes (it verifies, but has no seal).
    """
    as_json = _want_json(as_json)
    creds = Creds(user, pin)
    if ack:
        creds.resolve()
    with _session() as s:
        path, rec, entry = _fetch(s, run_id, out_dir)
        outcome = "ok" if rec.verified else ("open" if entry.get("open") and _only_unsealed(rec)
                                             else "failed")
        if not as_json:
            _verification(path, rec, entry)
        acked = False
        if ack and outcome == "ok":
            s.login(creds)
            s.client.ack_log(run_id)
            acked = True
    if as_json:
        _print_json(_fetch_json(path, rec, entry, outcome, acked))
    elif ack and acked:
        click.echo(f"run {run_id} acknowledged: the freezer may delete its copy when it needs room")
    elif ack:
        click.secho(f"run {run_id} NOT acknowledged: "
                    + ("it is still open" if outcome == "open" else "the record did not verify"),
                    fg="yellow", err=True)
    sys.exit(1 if outcome == "failed" else 0)


@logs.command("ack", context_settings=CONTEXT)
@click.argument("run_id", metavar="RUN", type=click.IntRange(0))
@click.option("--dir", "-d", "in_dir", default=".", show_default=True,
              type=click.Path(file_okay=False), help="Where the fetched NNNNNN.run is.")
@engineer_options
@json_option
def logs_ack(run_id, in_dir, user, pin, as_json):
    """Acknowledge a fetched, verified record (engineer).

    The freezer may then delete its copy when it needs room.

    Refuses unless the local copy (DIR/NNNNNN.run) verifies, is sealed and
    is as long as the freezer's.
    """
    path = Path(in_dir) / _record_name(run_id)
    rec, error = _read_log(path)
    if error:
        raise Fail(f"{error}; fetch it first (`crf logs fetch {run_id} --ack`)")
    if not rec.verified:
        raise Fail(f"{path} does not verify (`crf logs verify {path}`); not acknowledged")
    creds = Creds(user, pin)
    creds.resolve()
    with _session() as s:
        runs = _items(s.client.logs(), "runs")
        entry = next((r for r in runs if str(r.get("run")) == str(run_id)), None)
        if entry is None:
            raise Fail(f"run {run_id} is not on the freezer")
        if entry.get("bytes") is not None and entry["bytes"] != rec.size:
            raise Fail(f"{path} has {rec.size:,} bytes, the freezer's record {entry['bytes']:,}: "
                       f"fetch it again; not acknowledged")
        s.login(creds)
        reply = s.client.ack_log(run_id)
    if _want_json(as_json):
        _print_json(reply if isinstance(reply, dict) else {})
        return
    click.echo(f"run {run_id} acknowledged: the freezer may delete its copy when it needs room")


@logs.command("verify", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def logs_verify(files, as_json):
    """Verify run records; say what is wrong and where.

    Checks every CRC, the digest chain, block counts, time order, the header,
    the profile hash and the seal. Exit status 1 if any file does not verify
    or cannot be read. The checks have no key: a file rewritten from the point
    of change on (CRCs, digests and seal recomputed) verifies too; compare its
    seal digest with the copy kept in the batch report to rule that out.
    """
    from crf_host.records import where

    as_json = _want_json(as_json)
    failed = False
    out = []
    for path in files:
        run, error = _read_log(path)
        failed = failed or error is not None or not run.verified
        if as_json:
            if error:
                out.append({"file": path, "verified": False, "error": error})
            else:
                h = run.header or {}
                out.append({"file": path, "verified": run.verified, "run": h.get("run"),
                            "batch": h.get("batch"), "seal": run.seal,
                            "samples": len(run.samples), "blocks": run.blocks,
                            "problems": run.problems})
        elif error:
            click.secho(error, fg="red", err=True)
        elif run.verified:
            click.secho(f"{path}: {_ok_line(run)}", fg="green")
        else:
            n = len(run.problems)
            click.secho(f"{path}: FAILED: {n} problem{'s' if n > 1 else ''}", fg="red")
            for p in run.problems:
                click.echo(f"  {where(p)}")
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    sys.exit(1 if failed else 0)


@logs.command("export", context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False),
              help="Samples as CSV, one row per sample.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Header, events, seal and verification as JSON.")
def logs_export(file, csv_out, json_out):
    """Export a run record to CSV and JSON.

    Without --csv or --json both are written next to FILE (.csv, .json);
    with either, only what is asked for. A record that does not verify is
    still exported (the JSON says what is wrong) with a warning.
    """
    if not csv_out and not json_out:
        csv_out, json_out = Path(file).with_suffix(".csv"), Path(file).with_suffix(".json")
    for out in (csv_out, json_out):
        if out and Path(out).resolve() == Path(file).resolve():
            click.secho(f"{file}: refusing to overwrite the record with its export", fg="red", err=True)
            sys.exit(2)
    run, error = _read_log(file)
    if error:
        click.secho(error, fg="red", err=True)
        sys.exit(1)
    try:
        if csv_out:
            run.to_csv(csv_out)
            click.echo(f"{csv_out}: {len(run.samples)} samples")
        if json_out:
            run.to_json(json_out)
            click.echo(f"{json_out}: header, {len(run.events)} events, seal, verification")
    except OSError as e:
        click.secho(f"cannot write {e.filename}: {e.strerror or e}", fg="red", err=True)
        sys.exit(1)
    if not run.verified:
        n = len(run.problems)
        click.secho(f"warning: {file} does not verify ({n} problem{'s' if n > 1 else ''}; "
                    f"see `crf logs verify`)", fg="yellow", err=True)


# -- batch report ------------------------------------------------------------------------

@crf.command("report", context_settings=CONTEXT)
@click.argument("source", metavar="RUN_OR_FILE")
@click.option("--output", "-o", "out_dir", type=click.Path(file_okay=False),
              help="Directory for the report (and for the fetched record; default: here, "
                   "the report next to the record).")
@json_option
def report_cmd(source, out_dir, as_json):
    """Batch report (PDF, PNG) of a run record file or run number.

    A run number is fetched from the freezer first (like `crf logs fetch`).
    """
    as_json = _want_json(as_json)
    try:
        from crf_host.report import make_report
    except Exception as e:  # noqa: BLE001  the report module may not be installed yet
        raise Fail(f"the batch report (crf_host.report) cannot be loaded: "
                   f"{type(e).__name__}: {e}") from None
    fetched = None
    if Path(source).is_file():
        path = Path(source)
    elif source.isdigit():
        with _session() as s:
            path, rec, entry = _fetch(s, int(source), out_dir or ".")
            outcome = "ok" if rec.verified else ("open" if entry.get("open") and _only_unsealed(rec)
                                                 else "failed")
            fetched = _fetch_json(path, rec, entry, outcome)
            if not as_json:
                _verification(path, rec, entry)
    else:
        raise Fail(f"{source}: no such file, and not a run number")
    try:
        pdf, png, verdict = make_report(str(path), out_dir=out_dir)
    except OSError as e:
        raise Fail(f"cannot make the report: {e.filename or path}: {e.strerror or e}") from None
    # A Verdict (result PASS or REVIEW, reasons, seal_digest), or plain text.
    result = getattr(verdict, "result", None) or str(verdict)
    reasons = list(getattr(verdict, "reasons", ()) or ())
    digest = getattr(verdict, "seal_digest", None)
    if as_json:
        _print_json({"record": str(path), "pdf": str(pdf), "png": str(png),
                     "verdict": {"result": result, "reasons": reasons, "seal_digest": digest},
                     "fetched": fetched})
        return
    color = "green" if result == "PASS" else ("yellow" if result == "REVIEW" else None)
    click.secho(f"verdict: {result}", fg=color, bold=True)
    for r in reasons:
        click.echo(f"  - {r}")
    if digest:
        click.echo(f"seal digest: {digest}")
    click.echo(f"report: {pdf}")
    click.echo(f"chart:  {png}")


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


# -- virtual freezer -----------------------------------------------------

def _interrupt(*_):
    raise KeyboardInterrupt


@crf.command(context_settings=CONTEXT)
@click.option("--plant", type=click.Path(exists=True, dir_okay=False),
              help="Plant file (default: the runner's bag_50ml.json).")
@click.option("--seed", type=int, help="Override the plant file's seed.")
@click.option("--speed", default="1", show_default=True,
              help="1 = real time, any factor, or 'max'.")
@click.option("--flash", default="runs/virtual-flash.img", show_default=True,
              type=click.Path(dir_okay=False),
              help="File-backed flash image (created if missing).")
@click.option("--log", default="runs/virtual-freezer.log", show_default=True,
              type=click.Path(dir_okay=False),
              help="Where the firmware's stderr goes.")
@click.option("--pin", metavar="PIN",
              help="Engineer PIN of the virtual freezer (passed to its runner as --pin).")
def sim(plant, seed, speed, flash, log, pin):
    """Virtual freezer behind a serial device (pty) until Ctrl-C.

    The first line printed is `virtual freezer on /dev/pts/N`: use that
    device as --port (or $CRF_PORT) in another terminal.
    """
    from crf_host.simlaunch import VirtualFreezer

    out = _console()
    vf = VirtualFreezer(plant=plant, seed=seed, speed=speed, flash=flash,
                        log=log, extra_args=("--pin", pin) if pin else ())
    # SIGTERM (e.g. from a supervisor) stops the run like Ctrl-C does.
    old_term = signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        vf.start()
        out.print(f"virtual freezer on {vf.port}", markup=False)
        out.print(f"stderr log: {log}  (Ctrl-C to stop)", markup=False)
        while vf.running():
            time.sleep(0.2)
        code = vf.proc.returncode
        out.print(f"[red]virtual freezer exited with code {code}[/red]")
        out.print(Path(log).read_text(errors="replace")[-2000:], markup=False)
    except KeyboardInterrupt:
        out.print("stopping")
    finally:
        vf.stop()
        vf.close_log()
        signal.signal(signal.SIGTERM, old_term)
    sys.exit(1 if code else 0)


@crf.command(context_settings=CONTEXT)
@click.option("--out", "out_dir", default="runs", show_default=True,
              type=click.Path(file_okay=False), help="Output directory.")
@click.option("--speed", default="200", show_default=True,
              help="Virtual seconds per real second (1 = real time). Not 'max': the "
                   "engineer login would expire before crf could use it.")
@click.option("--plant", type=click.Path(exists=True, dir_okay=False),
              help="Plant file (default: the demo's own choice).")
def demo(out_dir, speed, plant):
    """The HPC bag run end to end over the link: push, run, fetch, verify, report."""
    from crf_host.demo import run_demo

    sys.exit(run_demo(out_dir=out_dir, speed=speed, plant=plant) or 0)


@crf.command(context_settings=CONTEXT)
@click.option("--plants", multiple=True, metavar="FILES",
              help="Plant files, space-separated; may be repeated. "
                   "Default: every plant in firmware/crf_sim/plants.")
@click.option("--out", default="bench/results.json", show_default=True,
              type=click.Path(dir_okay=False), help="Results file.")
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1),
              help="Runs per scenario (plant).")
def bench(plants, out, runs):
    """Benchmark the controller on the virtual freezer's plants."""
    from crf_host.bench import main as bench_main

    files = [f for group in plants for f in group.split()]
    for f in files:
        if not Path(f).is_file():
            raise click.BadParameter(f"no such file: {f}", param_hint="--plants")
    sys.exit(bench_main(plants=files or None, out=out, runs=runs) or 0)


@crf.command("bench-log", context_settings=CONTEXT)
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1),
              help="4-hour runs with and without logging (medians are reported).")
@click.option("--out", default="bench/record_budgets.json", show_default=True,
              type=click.Path(dir_okay=False), help="Results file.")
def bench_log(runs, out):
    """Run-record budgets: size, loop time, flash writes."""
    from crf_host import logbench

    result = logbench.measure(runs=runs)
    logbench.report(result, _console())
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"results: {out}")


@crf.command("bench-link", context_settings=CONTEXT)
@click.option("--sessions", default=3, show_default=True, type=click.IntRange(1),
              help="Real-time sessions (30 s each; medians are reported).")
@click.option("--baud", default=115200, show_default=True, type=click.IntRange(1200),
              help="UART rate the virtual link emulates.")
@click.option("--out", default="bench/link_budgets.json", show_default=True,
              type=click.Path(dir_okay=False), help="Results file.")
def bench_link(sessions, baud, out):
    """Link budgets: 4-hour record fetch time at a UART rate, loop jitter while serving."""
    from crf_host import linkbench

    result = linkbench.measure(sessions=sessions, baud=baud)
    linkbench.report(result, _console())
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"results: {out}")


@crf.group(cls=CrfGroup, context_settings=CONTEXT)
def plant():
    """Plant files of the virtual freezer."""


@plant.command("validate", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
def plant_validate(files):
    """Check plant files by loading them with the plant model."""
    from crf_sim import plant as plant_mod

    def check(path):
        try:
            plant_mod.load_plant(path)
        except plant_mod.PlantError as e:
            return [str(e)], []
        except (OSError, ValueError) as e:
            return [f"cannot read: {e}"], []
        return [], []

    _validate_files(files, check)


if __name__ == "__main__":
    main()
