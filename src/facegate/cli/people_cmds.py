"""``facegate people rename|merge|export|import``: fix and move people (docs/cli.md).

Rename and merge are the gallery's own operations (``Gallery.rename_person`` and
``merge_people``: faces, attendance, door events and group memberships move, every worker's
index follows); export and import are ``gallery/transfer.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import print_json, reported
from facegate.cli.gallery_cmds import people_app
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, open_services
from facegate.enrol_checks import same_name
from facegate.gallery.transfer import (
    OnClash,
    check_model,
    export_people,
    import_people,
    read_export,
)
from facegate.summaries import person_summary


@people_app.command("rename")
def people_rename(
    person_id: Annotated[int, typer.Argument(help="person id")],
    name: Annotated[str, typer.Argument(help="the new name")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a person another name (warns when somebody else has it too)."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        person = services.gallery.rename_person(person_id, name)
        warning = same_name(services.gallery, person.name, exclude=person.id)
    if as_json:
        print_json({**person_summary(person), "warnings": [warning.as_dict()] if warning else []})
        return
    typer.echo(f"renamed person {person.id} to {person.name}")
    if warning:
        typer.echo(f"  warning ({warning.code}): {warning.message}")


@people_app.command("merge")
def people_merge(
    from_id: Annotated[int, typer.Argument(help="the person to merge (deleted afterwards)")],
    into_id: Annotated[int, typer.Argument(help="the person who remains")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Merge FROM_ID into INTO_ID (two records of one person): faces, attendance, door events
    and group memberships move, then FROM_ID is deleted. Cannot be undone."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        gallery = services.gallery
        source, target = gallery.get_person(from_id), gallery.get_person(into_id)
        if not yes and not as_json:
            typer.confirm(
                f"Merge {source.name} (id {source.id}, {source.template_count} face(s)) into "
                f"{target.name} (id {target.id})? {source.name}'s record is deleted",
                abort=True,
            )
        merged = gallery.merge_people(from_id, into_id)
    if as_json:
        print_json({"merged": from_id, "into": person_summary(merged)})
    else:
        typer.echo(
            f"merged {source.name} (id {from_id}) into {merged.name} (id {merged.id}): "
            f"{merged.template_count} face(s) now"
        )


@people_app.command("export")
def people_export(
    out: Annotated[Path, typer.Option("--out", help="file to write (.fgpeople)")],
    person: Annotated[
        list[int] | None, typer.Option("--person", help="a person id (repeat); default all")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write people with their face templates and thumbnails, to import at another site
    that uses the same recogniser model."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        count = export_people(services.gallery, out, person or [])
    if as_json:
        print_json({"file": str(out), "people": count})
    else:
        typer.echo(f"exported {count} people to {out}")


@people_app.command("import")
def people_import(
    file: Annotated[Path, typer.Argument(help="a file written by `facegate people export`")],
    on_clash: Annotated[
        str,
        typer.Option(
            "--on-clash",
            help="a name or external id that exists here: stop (report, import nothing), "
            "skip, or merge (add the faces to the existing person)",
        ),
    ] = "stop",
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add the people of an export to this gallery (refused for another recogniser model)."""
    if on_clash not in ("stop", "skip", "merge"):
        raise typer.BadParameter("--on-clash must be stop, skip or merge")
    clash: OnClash = on_clash  # type: ignore[assignment]
    with reported(as_json=as_json):
        document = read_export(file)
        with open_services(data_dir, database_url, create=True) as services:
            engine = services.recognition.engine
            check_model(document, engine.model_id, engine.model_sha256)
            report = import_people(services.gallery, document, on_clash=clash)
    if as_json:
        print_json(report.as_dict())
        return
    typer.echo(
        f"imported {len(report.created)} new, merged {len(report.merged)}, "
        f"skipped {len(report.skipped)}"
    )
    for item in report.skipped:
        typer.echo(f"  skipped {item['name']}: {item['why']} (id {item['person_ids']})")
