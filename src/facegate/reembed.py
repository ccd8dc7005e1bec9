"""``facegate reembed``: rebuild every template from the kept enrolment photos with the
recogniser configured now, and re-pin the gallery to it (switching models without
re-enrolling anyone).

It needs a photo for every face (``photos_keep`` on since each face was enrolled): otherwise
it refuses and names the people whose photos are missing. The new embeddings are computed
first, outside any transaction; then one transaction rewrites every template in place (ids,
photos and thumbnails stay), re-pins the gallery and restarts the change log, so every worker
rebuilds its index at its next revision check. Servers must be restarted with the new model
(a server still running the old one is refused by the pin, ``ModelMismatch``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from facegate.engine import FaceEngine
from facegate.errors import BadImage, ImageTooLarge, InvalidInput, NoFace, SeveralFaces
from facegate.gallery import Gallery
from facegate.gallery.photo_rows import (
    KeptPhoto,
    NewEmbedding,
    faces_without_photo,
    kept_photos,
    rewrite_templates,
)
from facegate.photos import PhotoVault
from facegate.recognition import SUBJECT_DOMINANCE


@dataclass(frozen=True, slots=True)
class ReembedReport:
    templates: int
    people: int
    model_id: str
    model_sha256: str
    previous_model_id: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "templates": self.templates,
            "people": self.people,
            "model": {"id": self.model_id, "sha256": self.model_sha256},
            "previous_model": self.previous_model_id,
        }


def _listed(items: list[str], more: int) -> str:
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def reembed(engine: FaceEngine, gallery: Gallery, vault: PhotoVault) -> ReembedReport:
    """Recompute every template from its kept photo with ``engine``; all or nothing."""
    store = gallery.store
    missing = faces_without_photo(store.db)
    if missing:
        names = [f"{name} (id {pid}, {n} face(s))" for pid, name, n in missing[:20]]
        raise InvalidInput(
            f"the enrolment photos of {len(missing)} people were not kept: "
            f"{_listed(names, len(missing) - 20)}. Re-enrol them with photos_keep on, or "
            "remove those faces, then run reembed again"
        )
    previous = store.model_pin().model_id
    photos = kept_photos(store.db)

    def embed(kept: KeptPhoto) -> NewEmbedding | str:
        try:
            image = engine.load(vault.open(kept.sealed))
            face = engine.main_face(image, dominance=SUBJECT_DOMINANCE)
        except (NoFace, SeveralFaces, BadImage, ImageTooLarge) as error:
            return f"template {kept.template_id} of person {kept.person_id}: {error}"
        return NewEmbedding(face.embedding, face.quality.as_dict())

    with ThreadPoolExecutor(max_workers=engine.settings.inference.threads) as pool:
        results = list(pool.map(embed, photos))
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise InvalidInput(
            f"{len(failed)} kept photo(s) give no face with this model: "
            f"{_listed(failed[:10], len(failed) - 10)}. Remove those faces, then run again"
        )
    updates = {
        kept.template_id: result
        for kept, result in zip(photos, results, strict=True)
        if isinstance(result, NewEmbedding)
    }
    with store.db.write() as tx:
        rewrite_templates(tx, updates, engine.model_id, engine.model_sha256)
        store.restart_log(tx)
    gallery.rebuild()
    return ReembedReport(
        len(updates),
        len({kept.person_id for kept in photos}),
        engine.model_id,
        engine.model_sha256,
        previous,
    )
