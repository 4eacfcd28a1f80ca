"""Front panel commands: what the display shows (`crf screen`), and on the
virtual freezer only, pressing its buttons (`crf press`)."""

import click

from crf_host.cli import CONTEXT, _print_json, _session, _want_json, crf, json_option


@crf.command(context_settings=CONTEXT)
@click.option("--png", "png", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the display as a PNG image (each pixel a block of --scale).")
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 16),
              help="PNG pixels per display pixel.")
@json_option
def screen(png, scale, as_json):
    """What the front panel's display shows now (support: see what the operator sees)."""
    from crf_host import panelimg

    with _session() as s:
        reply = s.client.screen()
    buf, w, h = panelimg.from_reply(reply)
    if png:
        panelimg.write_png(png, buf, w, h, scale)
    if _want_json(as_json):
        _print_json(dict(reply, png=png))
        return
    if png:
        click.echo(f"screen ({reply.get('screen', '?')}) written to {png} "
                   f"({w * scale}x{h * scale} pixels)")
    else:
        click.echo("\n".join(panelimg.terminal_lines(buf, w, h)))


@crf.command(context_settings=CONTEXT)
@click.argument("buttons", nargs=-1, required=True,
                type=click.Choice(["UP", "DOWN", "OK", "STOP"], case_sensitive=False))
@click.option("--ms", default=200, show_default=True, type=click.IntRange(1, 120000),
              help="How long the button is held (virtual ms); 2500 is a long press.")
def press(buttons, ms):
    """Press front panel buttons on the virtual freezer (several = at the same time).

    Refused by a real freezer: its panel is operated by hand."""
    with _session() as s:
        s.client.button([b.upper() for b in buttons], ms)
