"""The `crf` command line.

Heavy modules (matplotlib, the firmware's validator, the plant model) are
imported inside the commands so `crf --help` stays fast and one broken
module does not take every command down.
"""

import signal
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from crf_host import __version__

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _console(err=False):
    return Console(stderr=err, highlight=False, soft_wrap=True)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="crf")
def crf():
    """Open controlled-rate freezer controller: host tools."""


def main(argv=None):
    """Console-script entry point."""
    return crf.main(args=argv, prog_name="crf")


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
def sim(plant, seed, speed, flash, log):
    """Run the virtual freezer behind a serial device (pty) until Ctrl-C."""
    from crf_host.simlaunch import VirtualFreezer

    out = _console()
    vf = VirtualFreezer(plant=plant, seed=seed, speed=speed, flash=flash,
                        log=log)
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
@click.option("--speed", default="max", show_default=True,
              help="1 = real time, any factor, or 'max'.")
@click.option("--plant", type=click.Path(exists=True, dir_okay=False),
              help="Plant file (default: the demo's own choice).")
def demo(out_dir, speed, plant):
    """Run a standard HPC bag profile in the virtual freezer and plot it."""
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
    """Measure the run record's budgets: size, loop time, flash writes."""
    import json

    from crf_host import logbench

    result = logbench.measure(runs=runs)
    logbench.report(result, _console())
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"results: {out}")


# -- file validation -----------------------------------------------------

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


def _validate_files(files, check):
    """Report check(path) -> (errors, warnings) for each file; exit 1 if any has errors."""
    console = _console()
    failed = False
    for path in files:
        errors, warnings = check(path)
        _report(console, _escape(path), [_escape(e) for e in errors],
                [_escape(w) for w in warnings])
        failed = failed or bool(errors)
    sys.exit(1 if failed else 0)


@crf.group(context_settings=CONTEXT)
def profile():
    """Freezing profiles."""


@profile.command("validate", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
def profile_validate(files):
    """Check profile files against the firmware's own validator."""
    import crf.profile.validate as mod

    _validate_files(files, lambda path: _check_profile(mod, path))


@crf.group(context_settings=CONTEXT)
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


# -- run records -----------------------------------------------------------

@crf.group(context_settings=CONTEXT)
def logs():
    """Run records (the run logs on the controller's flash)."""


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
    import json

    from crf_host.records import where

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


if __name__ == "__main__":
    main()
