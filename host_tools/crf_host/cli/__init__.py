"""The `crf` command line: the group, the options and error handling all
commands share. The commands live beside this file by area: device.py
(identity, state, monitor, runs, clock, configuration, login), profiles.py,
logs.py (run records and the batch report), local.py (virtual freezer, demo,
benchmarks, plant files).

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
import sys
import time
from contextlib import contextmanager

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


# The commands register themselves on the group when their modules load.
from crf_host.cli import device, logs, local, profiles  # noqa: E402,F401
from crf_host.cli import tune  # noqa: E402,F401
from crf_host.cli import panel  # noqa: E402,F401
