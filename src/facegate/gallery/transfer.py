"""``facegate people export`` / ``import``: move people between sites with their faces.

An export holds each person's name, external id, metadata and face templates (embedding,
quality, source-photo hash, thumbnail), with the recogniser model they were made by; not
their attendance or door history (that is the site's: use ``facegate backup``), nor kept
enrolment photos (encrypted with the site's key). Gzip-compressed JSON, created 0600: it is
biometric data.

Templates are only comparable within one model, so an import into a gallery (or a server)
using another recogniser is refused, saying which models differ. A person whose name or
external id already exists at the target is a *clash*: ``stop`` (the default) reports every
clash and imports nothing, ``skip`` leaves them out, ``merge`` adds their faces to the
existing person.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from facegate.errors import Conflict, InvalidInput, ModelMismatch
from facegate.gallery.db import utcnow
from facegate.gallery.gallery import Gallery
from facegate.gallery.types import NewTemplate, Person, embedding_from_bytes

FORMAT = "facegate-people"
FORMAT_VERSION = 1
OnClash = Literal["stop", "skip", "merge"]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, person by person."""

    created: list[dict[str, object]] = field(default_factory=list)
    merged: list[dict[str, object]] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"created": self.created, "merged": self.merged, "skipped": self.skipped}


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def export_people(gallery: Gallery, out_path: Path, person_ids: Sequence[int] = ()) -> int:
    """Write the given people (everyone if none given) to ``out_path``; returns how many."""
    store = gallery.store
    if person_ids:
        people = [store.get_person(i) for i in person_ids]  # UnknownPerson for a wrong id
    else:
        people, offset = [], 0
        while True:
            page = store.list_people(limit=500, offset=offset)
            people.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
    pin = store.model_pin()
    records = []
    for person in people:
        templates = store.list_templates(person.id)
        records.append(
            {
                "name": person.name,
                "external_id": person.external_id,
                "metadata": dict(person.metadata),
                "templates": [
                    {
                        "embedding": _b64(t.embedding.astype("<f4").tobytes()),
                        "quality": dict(t.quality),
                        "source_sha256": t.source_sha256,
                        "thumbnail": _b64(store.thumbnail(t.id)) if t.has_thumbnail else None,
                    }
                    for t in templates
                ],
            }
        )
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": utcnow().isoformat(),
        "model": {"id": pin.model_id, "sha256": pin.model_sha256},
        "people": records,
    }
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as out:
        json.dump(document, out, ensure_ascii=False)
    return len(records)


def read_export(path: Path) -> dict[str, Any]:
    """The parsed export file, or ``InvalidInput`` saying what is wrong with it."""
    if not path.is_file():
        raise InvalidInput(f"no export file at {path}")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path} is not a people export (`facegate people export`)") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a people export (`facegate people export`)")
    if document.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(f"{path} has export format {document.get('format_version')}")
    return document


def check_model(document: dict[str, Any], model_id: str, model_sha256: str) -> None:
    """Refuse an export made by another recogniser than the one this site uses."""
    model = document.get("model") or {}
    if model.get("sha256") is None:
        return  # an export of people without faces
    if (model.get("id"), model.get("sha256")) != (model_id, model_sha256):
        raise ModelMismatch(
            f"the export's faces come from model {model.get('id')} (sha256 "
            f"{str(model.get('sha256'))[:12]}…) but this site uses {model_id} (sha256 "
            f"{model_sha256[:12]}…): faces of different models are not comparable. Import "
            "into a site with the same model, or re-enrol these people from their photos"
        )


def _templates(record: dict[str, Any], model: dict[str, Any]) -> list[NewTemplate]:
    try:
        return [
            NewTemplate(
                embedding=embedding_from_bytes(base64.b64decode(t["embedding"])),
                model_id=str(model["id"]),
                model_sha256=str(model["sha256"]),
                quality=dict(t.get("quality") or {}),
                source_sha256=t.get("source_sha256"),
                thumbnail=base64.b64decode(t["thumbnail"]) if t.get("thumbnail") else None,
            )
            for t in record.get("templates", [])
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"the export's record of {record.get('name')!r} is damaged") from error


def _clash(gallery: Gallery, record: dict[str, Any]) -> list[Person]:
    external_id = record.get("external_id")
    if external_id:
        found = gallery.store.find_by_external_id(str(external_id))
        if found is not None:
            return [found]
    name = str(record.get("name", "")).strip()
    page = gallery.list_people(name, limit=500)
    return [p for p in page.items if p.name.casefold() == name.casefold()]


def import_people(
    gallery: Gallery, document: dict[str, Any], *, on_clash: OnClash = "stop"
) -> ImportReport:
    """Add the export's people to ``gallery`` (each person in one transaction)."""
    pin = gallery.store.model_pin()
    if pin.model_id is not None and pin.model_sha256 is not None:
        check_model(document, pin.model_id, pin.model_sha256)
    model = document.get("model") or {}
    records = [r for r in document.get("people", []) if isinstance(r, dict)]
    clashes = {i: _clash(gallery, r) for i, r in enumerate(records)}
    clashing = {i: found for i, found in clashes.items() if found}
    if clashing and on_clash == "stop":
        listed = "; ".join(
            f"{records[i].get('name')!r} = id {', '.join(str(p.id) for p in found)}"
            for i, found in list(clashing.items())[:10]
        )
        raise Conflict(
            f"{len(clashing)} of {len(records)} people already exist here ({listed}): "
            "nothing imported. Choose --on-clash skip (leave them out) or merge (add their "
            "faces to the existing person)"
        )
    report = ImportReport()
    for i, record in enumerate(records):
        name = str(record.get("name", ""))
        templates = _templates(record, model)
        found = clashing.get(i)
        if found and (on_clash == "skip" or len(found) > 1):
            why = "exists" if on_clash == "skip" else "several people have this name"
            report.skipped.append({"name": name, "person_ids": [p.id for p in found], "why": why})
            continue
        if found:
            stored = gallery.add_templates(found[0].id, templates) if templates else []
            added = sum(t is not None for t in stored)
            report.merged.append({"name": name, "id": found[0].id, "faces_added": added})
            continue
        if templates:
            person, _ = gallery.create_person_with_templates(
                name,
                templates,
                external_id=record.get("external_id"),
                metadata=record.get("metadata") or {},
            )
        else:
            person = gallery.create_person(
                name, external_id=record.get("external_id"), metadata=record.get("metadata")
            )
        report.created.append({"name": name, "id": person.id, "faces": len(templates)})
    return report
