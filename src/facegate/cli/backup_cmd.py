"""``facegate backup`` and ``facegate restore`` (docs/operations.md).

Neither loads a model: they copy database rows. ``backup`` is safe while servers run (one
read transaction); ``restore`` only writes into an empty data dir or database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.gallery.backup import BackupSummary, backup, restore
from facegate.gallery.db import Database, open_database


def _run(
    data_dir: Path | None,
    database_url: str | None,
    as_json: bool,
    *,
    create: bool,
    work: Callable[[Database], BackupSummary],
    verb: str,
) -> None:
    """Open the database the options name, run ``work`` on it, close it, report."""
    settings = make_settings(data_dir, database_url)
    with reported(as_json=as_json):
        db = open_database(settings.storage.data_dir, settings.storage.database_url, create=create)
        try:
            summary = work(db)
        finally:
            db.close()
    if as_json:
        print_json(summary.as_dict())
    else:
        _print(summary, verb)


def _print(summary: BackupSummary, verb: str) -> None:
    total = sum(summary.rows.values())
    typer.echo(
        f"{verb} {summary.path}: schema version {summary.schema_version}, "
        f"model {summary.model_id or '-'}, {total} rows"
    )
    for table, count in sorted(summary.rows.items()):
        if count:
            typer.echo(f"  {table}: {count}")


def register(app: typer.Typer) -> None:
    @app.command("backup")
    def backup_cmd(
        out: Annotated[Path, typer.Option("--out", help="backup file to write (.fgbackup)")],
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Write the whole database (people, faces, attendance, doors, key hashes) to one
        file, consistent even while servers run. Keep it as safe as the database."""
        _run(
            data_dir,
            database_url,
            as_json,
            create=False,
            work=lambda db: backup(db, out),
            verb="wrote",
        )

    @app.command("restore")
    def restore_cmd(
        file: Annotated[Path, typer.Argument(help="a file written by `facegate backup`")],
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Load a backup into an EMPTY data dir or database (refuses one that holds data),
        then apply this version's later migrations."""
        _run(
            data_dir,
            database_url,
            as_json,
            create=True,
            work=lambda db: restore(db, file),
            verb="restored",
        )
