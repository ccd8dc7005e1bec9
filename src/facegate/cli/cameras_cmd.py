"""``facegate cameras add|list|remove|pin|unpin``: the cluster's camera list (``cameras``).

Every ``facegate serve`` sharing the database runs the cameras listed here, each on one host
at a time (facegate.cluster; docs/cluster.md). ``FACEGATE_CAMERAS`` / ``--camera`` of a
starting server add to (and update) this list. Only the database is opened, no models.
A source with a password given on the command line is visible to local users (``ps``): the
command warns, and ``list`` never shows passwords.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer

from facegate.cli.app import print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.cluster.placement import place
from facegate.cluster.service import timings_from
from facegate.cluster.store import CameraRow, ClusterStore
from facegate.config import CameraConfig
from facegate.gallery import open_store
from facegate.redact import mask_url

cameras_app = typer.Typer(help="The cluster's cameras and where they run.", no_args_is_help=True)


@contextmanager
def cluster_store(
    data_dir: Path | None, database_url: str | None, *, as_json: bool
) -> Iterator[tuple[ClusterStore, float]]:
    """The cluster store over the gallery database (and the node timeout), closed after."""
    with reported(as_json=as_json):
        settings = make_settings(data_dir, database_url)
        store = open_store(settings, create=True)
        try:
            yield ClusterStore(store.db), timings_from(settings).node_timeout_s
        finally:
            store.close()


def _missing(name: str) -> typer.Exit:
    typer.echo(f"error: no camera named {name!r} (see `facegate cameras list`)", err=True)
    return typer.Exit(2)


@cameras_app.command("add")
def cameras_add(
    name: Annotated[str, typer.Argument(help="camera name (letters, digits, _ . -)")],
    source: Annotated[str, typer.Argument(help="device index, video file, RTSP/HTTP URL")],
    always_on: Annotated[
        bool, typer.Option("--always-on", help="run without viewers (attendance, doors)")
    ] = False,
    direction: Annotated[
        Literal["in", "out", "both"], typer.Option(help="for the attendance log")
    ] = "both",
    pin: Annotated[str | None, typer.Option(help="run only on this node id")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a camera, or update the one of that name (its source, direction, always-on)."""
    try:
        config = CameraConfig(name=name, source=source, always_on=always_on, direction=direction)
    except ValueError:
        raise typer.BadParameter("invalid camera name or source", param_hint="NAME") from None
    if mask_url(source) != source:
        typer.echo(
            "warning: this source has credentials on the command line, where any local user "
            "can read them (ps); FACEGATE_CAMERAS or --cameras-file of facegate serve avoid it",
            err=True,
        )
    row = CameraRow(
        config.name, config.source, config.direction, {"always_on": config.always_on}, pin
    )
    with cluster_store(data_dir, database_url, as_json=as_json) as (store, _):
        store.upsert_camera(row, keep_pin=pin is None)
    if as_json:
        print_json({"name": row.name, "added": True})
    else:
        typer.echo(f"camera {row.name} saved; a running cluster picks it up within seconds")


@cameras_app.command("list")
def cameras_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every camera: source (passwords masked), pin, owner now and lease epoch."""
    with cluster_store(data_dir, database_url, as_json=as_json) as (store, timeout):
        cameras = store.cameras()
        leases = {lease.camera: lease for lease in store.leases()}
        live = [n.id for n in store.nodes(timeout) if n.alive]
    rows = [
        {
            "name": c.name,
            "source": mask_url(c.source),
            "direction": c.direction,
            "always_on": c.always_on,
            "pinned_node": c.pinned_node,
            "placed_on": place(c.name, live, c.pinned_node),
            "owner": leases[c.name].node if c.name in leases else None,
            "epoch": leases[c.name].epoch if c.name in leases else None,
        }
        for c in cameras
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        owner = f"{r['owner']} (epoch {r['epoch']})" if r["owner"] else "nobody"
        pinned = f" pinned to {r['pinned_node']}" if r["pinned_node"] else ""
        typer.echo(f"{r['name']:<16} {r['source']:<40} owner {owner}{pinned}")
    typer.echo(f"{len(rows)} camera(s)")


@cameras_app.command("remove")
def cameras_remove(
    name: str,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a camera; its owner stops it at its next renewal (~2 s). A server whose
    FACEGATE_CAMERAS lists it adds it again when it restarts."""
    with cluster_store(data_dir, database_url, as_json=as_json) as (store, _):
        gone = store.remove_camera(name)
    if not gone:
        raise _missing(name)
    print_json({"name": name, "removed": True}) if as_json else typer.echo(f"removed {name}")


@cameras_app.command("pin")
def cameras_pin(
    name: str,
    node: Annotated[str, typer.Argument(help="node id (GET /api/v1/cluster, <data_dir>/node-id)")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a camera only on one node (e.g. a USB camera); while that node is down, nowhere."""
    with cluster_store(data_dir, database_url, as_json=as_json) as (store, _):
        found = store.pin(name, node)
    if not found:
        raise _missing(name)
    if as_json:
        print_json({"name": name, "pinned_node": node})
    else:
        typer.echo(f"{name} pinned to {node}")


@cameras_app.command("unpin")
def cameras_unpin(
    name: str,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Let a camera run on any live node again (rendezvous placement)."""
    with cluster_store(data_dir, database_url, as_json=as_json) as (store, _):
        found = store.pin(name, None)
    if not found:
        raise _missing(name)
    print_json({"name": name, "pinned_node": None}) if as_json else typer.echo(f"{name} unpinned")


def register(app: typer.Typer) -> None:
    app.add_typer(cameras_app, name="cameras")
