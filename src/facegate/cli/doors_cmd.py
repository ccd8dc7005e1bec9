"""``facegate doors`` and ``facegate groups``: doors (cameras, liveness, anti-passback,
outputs) and groups of people, from the command line (helpers shared with ``access_cmd``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from facegate.access.outputs import DoorOutputs
from facegate.access.policy import Undecided
from facegate.access.store import DoorCamera
from facegate.cli.access_cmd import bad_input, choice, opened
from facegate.cli.app import print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag
from facegate.liveness import LIVENESS_MODES

doors_app = typer.Typer(
    help="Doors: cameras, liveness, anti-passback, outputs.", no_args_is_help=True
)
groups_app = typer.Typer(
    help="Groups of people (staff, cleaners, visitors...).", no_args_is_help=True
)

CameraOption = Annotated[
    list[str] | None,
    typer.Option("--camera", help="camera or TCP stream name, optionally NAME:in or NAME:out"),
]
LivenessOption = Annotated[str | None, typer.Option("--liveness", help="off | challenge | passive")]
UNDECIDED: tuple[Undecided, ...] = ("deny", "allow")
UndecidedOption = Annotated[
    str | None,
    typer.Option("--undecided", help="what an undecided liveness check means: deny | allow"),
]
OutputsOption = Annotated[
    Path | None,
    typer.Option("--outputs-json", help="JSON file of the door's outputs (docs/access.md)"),
]


def _cameras(values: list[str]) -> list[DoorCamera]:
    """``NAME``, ``NAME:in`` or ``NAME:out`` (a name may itself contain colons)."""
    cameras = []
    for value in values:
        name, direction = value, "in"
        if value.endswith((":in", ":out")):
            name, _, direction = value.rpartition(":")
        cameras.append(DoorCamera(name, "out" if direction == "out" else "in"))
    return cameras


def _outputs(
    path: Path | None, webhook: list[str] | None, relay_url: str | None, mqtt: str | None
) -> DoorOutputs | None:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise bad_input(f"--outputs-json: {exc}") from None
    if webhook:
        data["webhooks"] = [*data.get("webhooks", []), *({"url": u} for u in webhook)]
    if relay_url:
        data["relay"] = {**data.get("relay", {}), "url": relay_url}
    if mqtt:
        data["mqtt"] = {"topic_prefix": mqtt}
    if path is None and not data:
        return None
    try:
        return DoorOutputs.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise bad_input(f"outputs {where}: {first.get('msg')}") from None


def _door_line(d: dict[str, Any]) -> str:
    cams = ", ".join(f"{c['camera']}:{c['direction']}" for c in d["cameras"]) or "-"
    flags = [f"liveness {d['liveness']}", f"undecided {d['undecided']}"]
    if d["anti_passback"]:
        flags.append("anti-passback")
    if not d["enabled"]:
        flags.append("DISABLED")
    outs = [k for k in ("webhooks", "mqtt", "relay") if d["outputs"].get(k)]
    return f"{d['name']:<20} cameras {cams}  ({'; '.join(flags)})  outputs {','.join(outs) or '-'}"


# -- doors ------------------------------------------------------------------------------------


@doors_app.command("add")
def doors_add(
    name: Annotated[str, typer.Argument(help="door name")],
    camera: CameraOption = None,
    liveness: LivenessOption = "off",
    undecided: UndecidedOption = "deny",
    anti_passback: Annotated[
        bool, typer.Option("--anti-passback", help="must exit before entering again")
    ] = False,
    outputs_json: OutputsOption = None,
    webhook: Annotated[
        list[str] | None, typer.Option("--webhook", help="POST decisions to this URL")
    ] = None,
    relay_url: Annotated[
        str | None, typer.Option("--relay-url", help="URL to pulse the relay on granted")
    ] = None,
    mqtt_topic: Annotated[
        str | None, typer.Option("--mqtt-topic", help="publish under this prefix")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a door watched by the given cameras (server cameras or TCP stream names)."""
    mode = choice(liveness, LIVENESS_MODES, "--liveness")
    if_undecided = choice(undecided, UNDECIDED, "--undecided")
    outputs = _outputs(outputs_json, webhook, relay_url, mqtt_topic)
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        door = store.add_door(
            name, _cameras(camera or []), liveness=mode or "off",
            undecided=if_undecided or "deny", anti_passback=anti_passback, outputs=outputs,
        )  # fmt: skip
    if as_json:
        print_json(door.as_dict())
    else:
        typer.echo(f"added door {_door_line(door.as_dict())}")


@doors_app.command("set")
def doors_set(
    name: Annotated[str, typer.Argument(help="door name")],
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="replaces the cameras; NAME[:in|:out]")
    ] = None,
    liveness: LivenessOption = None,
    undecided: UndecidedOption = None,
    anti_passback: Annotated[
        bool | None, typer.Option("--anti-passback/--no-anti-passback")
    ] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="new door name")] = None,
    outputs_json: OutputsOption = None,
    webhook: Annotated[list[str] | None, typer.Option("--webhook")] = None,
    relay_url: Annotated[str | None, typer.Option("--relay-url")] = None,
    mqtt_topic: Annotated[str | None, typer.Option("--mqtt-topic")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a door (only what is given; ``--outputs-json`` replaces all outputs)."""
    mode = choice(liveness, LIVENESS_MODES, "--liveness")
    if_undecided = choice(undecided, UNDECIDED, "--undecided")
    outputs = _outputs(outputs_json, webhook, relay_url, mqtt_topic)
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        door = store.update_door(
            name, cameras=None if camera is None else _cameras(camera), liveness=mode,
            undecided=if_undecided, anti_passback=anti_passback, enabled=enabled,
            outputs=outputs, new_name=rename,
        )  # fmt: skip
    if as_json:
        print_json(door.as_dict())
    else:
        typer.echo(f"changed door {_door_line(door.as_dict())}")


@doors_app.command("list")
def doors_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every door with its cameras, liveness and outputs (secrets masked)."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        doors = [d.as_dict() for d in store.doors()]
    if as_json:
        print_json({"doors": doors})
        return
    for d in doors:
        typer.echo(_door_line(d))
    typer.echo(f"{len(doors)} door(s)")


@doors_app.command("remove")
def doors_remove(
    name: str,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a door with its cameras, rules and holidays (its events stay)."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        store.remove_door(name)
    print_json({"deleted": name}) if as_json else typer.echo(f"removed door {name}")


# -- groups -----------------------------------------------------------------------------------


@groups_app.command("add")
def groups_add(
    name: str,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a group."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        group = store.add_group(name)
    print_json(group.as_dict()) if as_json else typer.echo(f"added group {group.name}")


@groups_app.command("list")
def groups_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every group with its members."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        groups = store.groups()
    if as_json:
        print_json({"groups": [g.as_dict() for g in groups]})
        return
    for g in groups:
        names = ", ".join(f"{n} ({i})" for i, n in g.members) or "-"
        typer.echo(f"{g.name:<20} {len(g.members)} member(s): {names}")


@groups_app.command("remove")
def groups_remove(
    name: str,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a group (its memberships and rules go with it)."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        store.remove_group(name)
    print_json({"deleted": name}) if as_json else typer.echo(f"removed group {name}")


@groups_app.command("add-member")
def groups_add_member(
    group: str,
    person: Annotated[str, typer.Argument(help="person id or exact name")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a person (id or name) to a group."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        person_id, added = store.add_member(group, person)
    if as_json:
        print_json({"group": group, "person_id": person_id, "added": added})
    else:
        typer.echo(f"person {person_id} {'added to' if added else 'is already in'} group {group}")


@groups_app.command("remove-member")
def groups_remove_member(
    group: str,
    person: Annotated[str, typer.Argument(help="person id or exact name")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Take a person out of a group."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        person_id = store.remove_member(group, person)
    if as_json:
        print_json({"group": group, "person_id": person_id, "removed": True})
    else:
        typer.echo(f"person {person_id} removed from group {group}")


def register(app: typer.Typer) -> None:
    app.add_typer(doors_app, name="doors")
    app.add_typer(groups_app, name="groups")
