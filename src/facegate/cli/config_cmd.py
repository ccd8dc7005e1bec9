"""``facegate config show | check``: the effective settings (secrets masked) and a file check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import EXIT_BAD_INPUT
from facegate.cli.options import ConfigOption, JsonFlag

config_app = typer.Typer(help="Show the effective settings or check a settings file.")


@config_app.command("show")
def show(
    config: ConfigOption = None,
    as_json: JsonFlag = False,
    defaults: Annotated[
        bool,
        typer.Option(
            "--defaults", help="the defaults with every key's description (the example file)"
        ),
    ] = False,
) -> None:
    """Print the settings this machine would run with (file < FACEGATE_* < defaults), as
    TOML or JSON; every secret is shown as *** (URLs: their credentials)."""
    from facegate.config import InvalidSettings, Settings
    from facegate.config.render import to_json, to_toml

    try:
        settings = Settings.model_validate({}) if defaults else Settings.load(config)
    except InvalidSettings as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        typer.echo(to_json(settings), nl=False)
    else:
        typer.echo(to_toml(settings, comments=defaults), nl=False)


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="TOML settings file", dir_okay=False)],
) -> None:
    """Validate a settings file alone (no environment): ``FILE: ok`` or what is wrong, with
    the section and key, and exit status 2."""
    from facegate.config import InvalidSettings, Settings

    try:
        Settings.load(file, environ={})
    except InvalidSettings as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    typer.echo(f"{file}: ok")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
