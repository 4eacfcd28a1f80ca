"""Commands that need no freezer: the virtual freezer, the demo, the
benchmarks, plant files."""

import json
import signal
import sys
import time
from pathlib import Path

import click

from crf_host.cli import CONTEXT, CrfGroup, _console, crf
from crf_host.cli.profiles import _validate_files


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
@click.option("--panel", is_flag=True,
              help="Show the front panel's display here and press its buttons with keys "
                   "(arrows, Enter, s; O / S hold OK / STOP; q quits).")
def sim(plant, seed, speed, flash, log, pin, panel):
    """Virtual freezer behind a serial device (pty) until Ctrl-C.

    The first line printed is `virtual freezer on /dev/pts/N`: use that
    device as --port (or $CRF_PORT) in another terminal. With --panel the
    terminal becomes the freezer's front panel (it needs 130 columns).
    """
    from crf_host.simlaunch import VirtualFreezer

    if panel and not sys.stdin.isatty():
        raise click.UsageError("--panel needs a terminal (keys are read from it)")
    out = _console()
    extra = (("--pin", pin) if pin else ()) + (("--panel", "on") if panel else ())
    vf = VirtualFreezer(plant=plant, seed=seed, speed=speed, flash=flash, log=log, extra_args=extra)
    # SIGTERM (e.g. from a supervisor) stops the run like Ctrl-C does.
    old_term = signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        vf.start()
        out.print(f"virtual freezer on {vf.port}", markup=False)
        out.print(f"stderr log: {log}  (Ctrl-C to stop)", markup=False)
        if panel:
            _panel(vf)
            return
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


def _panel(vf):
    from crf_host import panelsim
    from crf_host.link import Client

    with Client(vf.port, timeout_s=5.0) as c:
        c.identify()
        panelsim.run(c)


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


def _save(result, out):
    """A benchmark's figures as JSON (the bench/ files the docs quote)."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"results: {out}")


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
    _save(result, out)


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
    _save(result, out)


@crf.command("bench-panel", context_settings=CONTEXT)
@click.option("--runs", default=9, show_default=True, type=click.IntRange(1),
              help="Runs of each configuration (medians are reported).")
@click.option("--out", default="bench/panel_budget.json", show_default=True,
              type=click.Path(dir_okay=False), help="Results file.")
def bench_panel(runs, out):
    """Front-panel budget: loop time per tick with and without the panel."""
    from crf_host import panelbench

    result = panelbench.measure(runs=runs)
    panelbench.report(result, _console())
    _save(result, out)


@crf.group(cls=CrfGroup, context_settings=CONTEXT)
def plant():
    """Plant files of the virtual freezer."""


@plant.command("validate", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
def plant_validate(files):
    """Check plant files by loading them with the plant model."""
    from crf_sim import plantfile as plant_mod

    def check(path):
        try:
            plant_mod.load_plant(path)
        except plant_mod.PlantError as e:
            return [str(e)], []
        except (OSError, ValueError) as e:
            return [f"cannot read: {e}"], []
        return [], []

    _validate_files(files, check)
