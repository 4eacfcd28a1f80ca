"""Profile commands: on the freezer (list, show, pull, push, rm) and the
local validator."""

import json
import sys
from pathlib import Path

import click

from crf_host.cli import CONTEXT, Creds, CrfGroup, Fail, PROFILE_MAX_BYTES, _confirm, _console, _items, _kv_table, _print_json, _session, _short, _table, _transfer, _want_json, crf, engineer_options, json_option


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
