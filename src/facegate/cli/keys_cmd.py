"""``facegate keys create|list|revoke``: the HTTP API's keys.

Only the database is opened (no models), so managing keys is instant. The secret is printed
once, by ``create``; afterwards only its first characters (``prefix``) are ever shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from facegate.api.keys import KeyStore
from facegate.cli.app import print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.gallery import open_store

keys_app = typer.Typer(help="Create, list and revoke HTTP API keys.", no_args_is_help=True)


@contextmanager
def key_store(
    data_dir: Path | None, database_url: str | None, *, as_json: bool, create: bool = False
) -> Iterator[KeyStore]:
    """The key store of the gallery database, closed afterwards; domain errors are reported
    with the documented output and exit code. Only ``keys create`` may create the database
    (``make run`` makes the first key before the server ever ran)."""
    with reported(as_json=as_json):
        settings = make_settings(data_dir, database_url)
        store = open_store(settings, create=create)
        try:
            yield KeyStore(store.db)
        finally:
            store.close()


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        str,
        typer.Option(
            help="admin (everything), recognize (cameras, kiosks: identify/verify/detect/"
            "stream), monitor (live view and events) or checkin (attendance check-in kiosks); "
            "see docs/security.md"
        ),
    ],
    name: Annotated[str, typer.Option(help="what the key is for, e.g. door-camera-2")] = "",
    if_none: Annotated[
        bool,
        typer.Option(
            "--if-none", help="only when no active key of this scope exists (make run uses it)"
        ),
    ] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a key and print it. It is shown this once: store it now."""
    with key_store(data_dir, database_url, as_json=as_json, create=True) as keys:
        existing = [k for k in keys.list() if k.active and k.scope == scope] if if_none else []
        if not existing:
            key, secret = keys.create(scope, name)
    if existing:
        if as_json:
            print_json({"created": False, "existing": [k.as_dict() for k in existing]})
            return
        typer.echo(
            f"an active {scope} key exists already (id {existing[0].id}, "
            f"{existing[0].prefix}…); keys are shown only when created. Lost it? Create "
            f"another with `facegate keys create --scope {scope}` and revoke the old one "
            f"with `facegate keys revoke {existing[0].id}`."
        )
        return
    if as_json:
        print_json({**key.as_dict(), "key": secret})
        return
    typer.echo(
        f"created {key.scope} key {key.id} ({key.name or 'unnamed'}); it is shown only once:"
    )
    typer.echo(secret)


@keys_app.command("list")
def keys_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every key: id, scope, name, prefix, created and revoked (never the secret)."""
    with key_store(data_dir, database_url, as_json=as_json) as keys:
        found = keys.list()
    if as_json:
        print_json([k.as_dict() for k in found])
        return
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        typer.echo(f"{k.id:>4}  {k.scope:<9}  {k.prefix}…  {state:<24}  {k.name}")
    typer.echo(f"{len(found)} key(s)")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="key id (see `facegate keys list`)")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key: every worker refuses it from the next request on."""
    with key_store(data_dir, database_url, as_json=as_json) as keys:
        key = keys.revoke(key_id)
    if as_json:
        print_json(key.as_dict())
    else:
        typer.echo(f"revoked key {key.id} ({key.prefix}…)")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
