"""Options shared by the commands that open the gallery, and the ``Services`` they build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.config import Settings
from facegate.services import Services

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (docs/configuration.md) [env FACEGATE_CONFIG]",
        exists=True,
        dir_okay=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="folder of facegate.db and other data [FACEGATE_DATA_DIR]"),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://... to share a gallery between machines [env FACEGATE_DATABASE_URL]",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def make_settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    """Settings from the config file (``FACEGATE_CONFIG``) and the environment, overridden by
    whatever was given on the command line."""
    overrides: dict[str, Any] = dict(extra)
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


@contextmanager
def open_services(
    data_dir: Path | None, database_url: str | None, *, create: bool = False
) -> Iterator[Services]:
    """Services for one command; no background sync thread (a command is short-lived).

    Only commands that add to a gallery pass ``create=True``: the others refuse a gallery
    that does not exist (``GalleryNotFound``), so a mistyped ``--data-dir`` is an error
    rather than an empty gallery in which everyone is unknown.
    """
    services = Services.start(
        make_settings(data_dir, database_url), background_sync=False, create=create
    )
    try:
        yield services
    finally:
        services.close()
