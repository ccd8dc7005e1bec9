"""``facegate reembed`` and ``facegate photos-key``: kept enrolment photos (docs/gallery.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, open_services
from facegate.photos import PhotoVault, write_key
from facegate.reembed import reembed


def register(app: typer.Typer) -> None:
    @app.command("photos-key")
    def photos_key(
        out: Annotated[Path, typer.Option("--out", help="key file to create (mode 0600)")],
    ) -> None:
        """Create a random key for keeping enrolment photos encrypted (photos_key_file).
        Keep it apart from the backups: photos cannot be opened without it."""
        with reported(as_json=False):
            write_key(out)
        typer.echo(f"wrote a new photos key to {out}; set FACEGATE_PHOTOS_KEY_FILE={out}")

    @app.command("reembed")
    def reembed_cmd(
        yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Rebuild every face template from the kept enrolment photos with the recogniser
        configured now, and pin the gallery to it. Take a backup first; restart the servers
        with the new model afterwards. Refuses (naming them) when some people's photos were
        not kept."""
        with reported(as_json=as_json), open_services(data_dir, database_url) as services:
            vault = PhotoVault.for_reading(services.settings)
            engine = services.recognition.engine
            if not yes and not as_json:
                typer.confirm(
                    f"Rebuild every template with {engine.model_id}? (take a backup first)",
                    abort=True,
                )
            report = reembed(engine, services.gallery, vault)
        if as_json:
            print_json(report.as_dict())
        else:
            typer.echo(
                f"rebuilt {report.templates} template(s) of {report.people} people with "
                f"{report.model_id} (was {report.previous_model_id or '-'})"
            )
