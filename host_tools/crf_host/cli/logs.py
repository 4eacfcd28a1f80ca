"""Run records: list, fetch, acknowledge, verify, export; the batch report."""

import json
import os
import sys
from pathlib import Path

import click

from crf_host.cli import CONTEXT, Creds, CrfGroup, Fail, _console, _items, _print_json, _session, _table, _transfer, _want_json, crf, engineer_options, json_option


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
