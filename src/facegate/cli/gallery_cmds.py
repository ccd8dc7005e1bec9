"""``facegate enrol``, ``facegate identify`` and ``facegate people list|show|delete|stats``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import EXIT_BAD_INPUT, print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, open_services
from facegate.engine.decode import image_files
from facegate.enrol_checks import EnrolWarning
from facegate.errors import InvalidInput
from facegate.gallery import Person
from facegate.recognition import EnrolledImage, RecognitionService
from facegate.summaries import identified_summary, person_summary

people_app = typer.Typer(help="List, show and delete enrolled people.", no_args_is_help=True)


@dataclass(frozen=True)
class Enrolment:
    """One person's enrolment from the command line; ``person`` is None when no photo was
    usable and so nobody was created."""

    name: str
    person: Person | None
    reports: list[EnrolledImage]
    warnings: list[EnrolWarning]
    existing: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "person": person_summary(self.person) if self.person else None,
            "existing_person": self.existing,
            "images": [r.as_dict() for r in self.reports],
            "warnings": [w.as_dict() for w in self.warnings],
        }


def find_existing(service: RecognitionService, name: str, external_id: str | None) -> Person | None:
    """The person with this external id (or, without one, this exact name), if any.

    Re-running an enrolment therefore adds to the same person instead of creating a twin;
    several people of that name are ambiguous and refused (say which by --external-id).
    """
    gallery = service.gallery
    if external_id is not None:
        return gallery.store.find_by_external_id(external_id)
    same_name = [p for p in gallery.list_people(name, limit=1000).items if p.name == name.strip()]
    if len(same_name) > 1:
        ids = ", ".join(str(p.id) for p in same_name)
        raise InvalidInput(
            f"{len(same_name)} people are named {name!r} (id {ids}): give --external-id, or "
            "rename or merge them first (facegate people rename / merge)"
        )
    return same_name[0] if same_name else None


def read_photos(files: list[Path]) -> tuple[list[tuple[str, bytes]], dict[int, EnrolledImage]]:
    """The readable photos, and a ``bad_image`` report (by position) for each file that
    cannot be read (missing, a folder, no permission)."""
    photos: list[tuple[str, bytes]] = []
    unreadable: dict[int, EnrolledImage] = {}
    for position, path in enumerate(files):
        try:
            photos.append((str(path), path.read_bytes()))
        except OSError as error:
            reason = f"cannot read the file: {error.strerror or error}"
            unreadable[position] = EnrolledImage(str(path), "bad_image", (reason,))
    return photos, unreadable


def enrol_person(
    service: RecognitionService,
    name: str,
    external_id: str | None,
    files: list[Path],
    *,
    refuse_matches: bool = False,
) -> Enrolment:
    """Enrol ``files`` for one person; photos enrolled before are skipped without model work,
    which is what makes re-running an interrupted ``enrol --dir`` cheap. A new person is
    created together with their first face, or not at all."""
    photos, unreadable = read_photos(files)
    person = find_existing(service, name, external_id)
    warnings: list[EnrolWarning] = []
    existing = person is not None
    if person is not None:
        reports = service.enrol(person.id, photos, refuse_matches=refuse_matches)
        person = service.gallery.get_person(person.id)
    else:
        person, reports, warnings = service.enrol_new(
            name, photos, external_id=external_id, refuse_matches=refuse_matches
        )
    read = iter(reports)
    ordered = [unreadable[i] if i in unreadable else next(read) for i in range(len(files))]
    return Enrolment(name, person, ordered, warnings, existing)


def print_enrolment(result: Enrolment) -> None:
    reports = result.reports
    accepted = sum(r.accepted for r in reports)
    if result.person is None:
        typer.echo(f"{result.name}: nobody created: none of the {len(reports)} photo(s) was usable")
    else:
        person = result.person
        typer.echo(
            f"{person.name} (id {person.id}): {accepted} of {len(reports)} photo(s) enrolled"
            + (" (added to the existing person)" if result.existing else "")
        )
    for w in result.warnings:
        typer.echo(f"  warning ({w.code}): {w.message}")
    for r in reports:
        if not r.accepted:
            typer.echo(f"  {r.label}: {r.outcome}: {'; '.join(r.reasons)}")
        for w in r.warnings:
            typer.echo(f"  {r.label}: warning ({w.code}): {w.message}")


def register(app: typer.Typer) -> None:
    @app.command()
    def enrol(
        images: Annotated[list[Path] | None, typer.Argument(help="photos of one person")] = None,
        name: Annotated[str | None, typer.Option(help="the person's name")] = None,
        external_id: Annotated[
            str | None, typer.Option(help="your key for the person, e.g. employee number")
        ] = None,
        folder: Annotated[
            Path | None,
            typer.Option(
                "--dir",
                exists=True,
                file_okay=False,
                help="one sub-folder per person (folder name = name and external id)",
            ),
        ] = None,
        refuse_matches: Annotated[
            bool,
            typer.Option(
                "--refuse-matches",
                help="refuse a photo whose face already matches another person (default: warn)",
            ),
        ] = False,
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Enrol a person from photos (--name NAME IMG...) or everyone in a folder (--dir).

        A new person is created together with their first usable face, or not at all. Warns
        when a face already matches someone else or is unlike the person's other faces."""
        if (folder is None) == (not images):
            raise typer.BadParameter("give either --dir DIR or --name NAME with photos")
        if folder is None and not name:
            raise typer.BadParameter("--name is required when enrolling photos")
        with (
            reported(as_json=as_json),
            open_services(data_dir, database_url, create=True) as services,
        ):
            service = services.recognition
            if folder is None:
                one = enrol_person(
                    service, name or "", external_id, images or [], refuse_matches=refuse_matches
                )
                results = [one]
            else:
                results = enrol_folder(
                    service, folder, show_progress=not as_json, refuse_matches=refuse_matches
                )
        if as_json:
            print_json([r.as_dict() for r in results])
        else:
            for result in results:
                print_enrolment(result)
        if any(r.person is None for r in results):
            raise typer.Exit(EXIT_BAD_INPUT)

    @app.command()
    def identify(
        image: Annotated[Path, typer.Argument(help="photo to search the gallery with")],
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Who is in IMAGE? Every face, with a name or "unknown"."""
        with reported(as_json=as_json), open_services(data_dir, database_url) as services:
            found = services.recognition.identify(image)
        if as_json:
            print_json({"image": str(image), "faces": [identified_summary(f) for f in found]})
            return
        typer.echo(f"{image}: {len(found)} face(s)")
        for i, item in enumerate(found, 1):
            m = item.match
            who = m.person.name if m.person else "unknown"
            typer.echo(
                f"  {i}. {who} (similarity {m.score:.3f}, margin {m.margin:.3f}, threshold "
                f"{m.threshold:.3f}) box={item.face.box.as_list()}"
            )

    app.add_typer(people_app, name="people")


def enrol_folder(
    service: RecognitionService, folder: Path, *, show_progress: bool, refuse_matches: bool
) -> list[Enrolment]:
    """Enrol every sub-folder as one person, people in parallel on the inference threads."""
    people = sorted(p for p in folder.iterdir() if p.is_dir())
    jobs = [(p.name, image_files(p)) for p in people]
    workers = service.engine.settings.inference.threads
    results = []
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        typer.progressbar(length=len(jobs), label="enrolling", hidden=not show_progress) as bar,
    ):
        futures = [
            pool.submit(enrol_person, service, n, n, files, refuse_matches=refuse_matches)
            for n, files in jobs
        ]
        for future in futures:
            results.append(future.result())
            bar.update(1)
    return results


@people_app.command("list")
def people_list(
    query: Annotated[str | None, typer.Option(help="part of a name or external id")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Enrolled people, by name."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        page = services.gallery.list_people(query, limit=limit, offset=offset)
    if as_json:
        print_json({"total": page.total, "people": [person_summary(p) for p in page.items]})
        return
    for p in page.items:
        ext = f" [{p.external_id}]" if p.external_id else ""
        typer.echo(f"{p.id:>6}  {p.name}{ext}  ({p.template_count} face(s))")
    typer.echo(f"{len(page.items)} of {page.total} shown")


@people_app.command("stats")
def people_stats(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The gallery size and the operating point it implies: the identify threshold in use
    for that many people at the target FPIR, and the 1:1 verify threshold."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        status = services.gallery.status()
        templates = services.gallery.store.count_templates()
    status = {**status, "templates": templates}
    if as_json:
        print_json(status)
        return
    typer.echo(f"{status['people']} people enrolled ({templates} face templates)")
    why = {
        "calibrated": f"names at most {status['target_fpir']:.2%} of strangers with "
        f"{status['people']} people (calibrated for {status['model']})",
        "override": "set by FACEGATE_MATCH_THRESHOLD (the target FPIR does not apply)",
        "fallback": f"a conservative constant: no calibration for {status['model'] or '-'}",
    }[str(status["source"])]
    typer.echo(f"identify threshold {status['threshold']:.4f}: {why}")
    typer.echo(
        f"verify threshold {status['verify_threshold']:.4f}: target false-accept rate "
        f"{status['verify_target_far']:.2%}"
    )


@people_app.command("show")
def people_show(
    person_id: Annotated[int, typer.Argument(help="person id")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """One person and their templates (quality, source photo hash)."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        person = services.gallery.get_person(person_id)
        templates = services.gallery.list_templates(person_id)
    info = person_summary(person)
    info["faces"] = [
        {
            "template_id": t.id,
            "quality": dict(t.quality),
            "source_sha256": t.source_sha256,
            "created_at": t.created_at.isoformat(),
        }
        for t in templates
    ]
    if as_json:
        print_json(info)
        return
    typer.echo(f"{person.name} (id {person.id}, external id {person.external_id or '-'})")
    for t in templates:
        typer.echo(f"  template {t.id}  added {t.created_at:%Y-%m-%d %H:%M}")


@people_app.command("delete")
def people_delete(
    person_id: Annotated[int, typer.Argument(help="person id")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Erase a person with all their templates and thumbnails."""
    with reported(as_json=as_json), open_services(data_dir, database_url) as services:
        person = services.gallery.get_person(person_id)
        if not yes and not as_json:
            typer.confirm(f"Erase {person.name} and all their face data?", abort=True)
        erased = services.gallery.delete_person(person_id)
    if as_json:
        print_json({"deleted": person_id, "templates_erased": erased})
    else:
        typer.echo(f"erased {person.name}: {erased} template(s)")
