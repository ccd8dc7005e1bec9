"""Operations that need both the engine and the gallery: enrol, identify, verify.

This is the thin layer the CLI, the HTTP API and the stream server call. It turns images into
faces (engine), faces into templates or matches (gallery), and reports every outcome as a
typed value, so an enrolment of ten photos says for each one whether it was kept and why not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from facegate.engine import Face, FaceEngine
from facegate.engine.decode import ImageInput
from facegate.engine.thumbnail import face_thumbnail
from facegate.enrol_checks import EnrolWarning, face_warnings, same_name
from facegate.errors import BadImage, ImageTooLarge, NoFace, SeveralFaces
from facegate.gallery import Gallery, JsonObject, Match, ModelGuard, NewTemplate, Person, Template
from facegate.photos import PhotoVault

# When an enrolment photo shows several faces, the subject must be this many times as
# prominent (size x centrality) as the next face; otherwise the photo is refused.
SUBJECT_DOMINANCE = 1.5

Outcome = Literal[
    "accepted",
    "duplicate",
    "bad_image",
    "no_face",
    "several_faces",
    "low_quality",
    "matches_other",
]


@dataclass(frozen=True)
class EnrolledImage:
    """What happened to one enrolment photo."""

    label: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    template_id: int | None = None
    face: Face | None = field(default=None, repr=False)
    warnings: tuple[EnrolWarning, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"image": self.label, "outcome": self.outcome}
        if self.reasons:
            out["reasons"] = list(self.reasons)
        if self.warnings:
            out["warnings"] = [w.as_dict() for w in self.warnings]
        if self.template_id is not None:
            out["template_id"] = self.template_id
        if self.face is not None:
            out["quality"] = self.face.quality.as_dict()
        return out


@dataclass(frozen=True)
class IdentifiedFace:
    """A face in a probe image and who it is (``match.person`` is None for unknown)."""

    face: Face
    match: Match


@dataclass(frozen=True)
class Verification:
    """A 1:1 decision: the similarity and whether it reaches the threshold."""

    similarity: float
    threshold: float
    faces: tuple[Face, ...]

    @property
    def same_person(self) -> bool:
        return self.similarity >= self.threshold


def source_hash(data: bytes) -> str:
    """SHA-256 of the photo's bytes: the same file enrolled twice is recognised as such."""
    return hashlib.sha256(data).hexdigest()


class RecognitionService:
    """Enrol, identify and verify; thread-safe because the engine and gallery are."""

    def __init__(self, engine: FaceEngine, gallery: Gallery) -> None:
        self.engine = engine
        self.gallery = gallery
        # Enrolment photos are kept (encrypted) only when photos_keep is on; a missing or
        # unreadable key stops start-up with the reason rather than enrolling without photos.
        self.vault = PhotoVault.from_settings(gallery.settings)
        self.model_guard = ModelGuard(gallery.store, engine.model_id, engine.model_sha256)
        gallery.expect_model(engine.model_id, engine.model_sha256)

    def _ensure_model(self) -> None:
        """Refuse to match against a gallery built by another model (``ModelMismatch``)."""
        self.model_guard.check()

    @property
    def threshold(self) -> float:
        """The open-set threshold in use for the current gallery size."""
        return self.gallery.match_threshold()

    @property
    def verify_threshold(self) -> float:
        """The 1:1 threshold for the target false-accept rate."""
        return self.gallery.verify_threshold()

    # -- enrolment ---------------------------------------------------------------------------

    def enrol(
        self,
        person_id: int,
        images: Sequence[tuple[str, bytes]],
        *,
        enforce_quality: bool = True,
        refuse_matches: bool = False,
    ) -> list[EnrolledImage]:
        """Add each photo's subject as a template of ``person_id``; report every photo.

        Photos are judged one by one and all accepted templates are stored in one
        transaction, so a failure half-way stores nothing and a retry is safe. A photo already
        enrolled for this person (same bytes) is reported as a duplicate, not stored twice.
        Accepted photos carry the warnings of ``enrol_checks``; with ``refuse_matches`` a
        face that already matches another person is refused (``matches_other``).
        """
        self.gallery.get_person(person_id)  # UnknownPerson before any work
        reports, pending = self._judge_all(
            person_id,
            images,
            self.gallery.store.sources(person_id),
            enforce_quality,
            refuse_matches,
        )
        if pending:
            stored = self.gallery.add_templates(person_id, [t for _, t in pending])
            self._report_stored(reports, pending, stored)
        return reports

    def enrol_new(
        self,
        name: str,
        images: Sequence[tuple[str, bytes]],
        *,
        external_id: str | None = None,
        metadata: JsonObject | None = None,
        enforce_quality: bool = True,
        refuse_matches: bool = False,
    ) -> tuple[Person | None, list[EnrolledImage], list[EnrolWarning]]:
        """Create a person from photos: the person and their first faces are stored in ONE
        transaction, so when no photo is usable (missing file, no face, bad image) nobody is
        created (``None``). The list of warnings holds ``same_name``."""
        warnings = [w for w in [same_name(self.gallery, name)] if w is not None]
        reports, pending = self._judge_all(None, images, set(), enforce_quality, refuse_matches)
        if not pending:
            return None, reports, warnings
        person, stored = self.gallery.create_person_with_templates(
            name, [t for _, t in pending], external_id=external_id, metadata=metadata
        )
        self._report_stored(reports, pending, stored)
        return person, reports, warnings

    def _judge_all(
        self,
        person_id: int | None,
        images: Sequence[tuple[str, bytes]],
        known: set[str],
        enforce_quality: bool,
        refuse_matches: bool,
    ) -> tuple[list[EnrolledImage], list[tuple[int, NewTemplate]]]:
        reports: list[EnrolledImage] = []
        pending: list[tuple[int, NewTemplate]] = []
        for label, data in images:
            sha = source_hash(data)
            if sha in known:
                reports.append(EnrolledImage(label, "duplicate", ("photo already enrolled",)))
                continue
            report, template = self._judge(label, data, sha, enforce_quality)
            if template is not None and report.face is not None:
                before = [t.embedding for _, t in pending]
                found = face_warnings(self.gallery, person_id, report.face.embedding, before)
                refuse = [w for w in found if refuse_matches and w.code == "matches_other"]
                if refuse:
                    report = EnrolledImage(
                        label,
                        "matches_other",
                        (refuse[0].message,),
                        face=report.face,
                        warnings=tuple(found),
                    )
                    template = None
                else:
                    report = EnrolledImage(
                        label, "accepted", face=report.face, warnings=tuple(found)
                    )
            reports.append(report)
            if template is not None:
                known.add(sha)
                pending.append((len(reports) - 1, template))
        return reports, pending

    @staticmethod
    def _report_stored(
        reports: list[EnrolledImage],
        pending: list[tuple[int, NewTemplate]],
        stored: Sequence[Template | None],
    ) -> None:
        for (position, _), template in zip(pending, stored, strict=True):
            report = reports[position]
            if template is None:  # enrolled concurrently by someone else
                reports[position] = EnrolledImage(report.label, "duplicate", report.reasons)
            else:
                reports[position] = EnrolledImage(
                    report.label,
                    "accepted",
                    template_id=template.id,
                    face=report.face,
                    warnings=report.warnings,
                )

    def _judge(
        self, label: str, data: bytes, sha: str, enforce_quality: bool
    ) -> tuple[EnrolledImage, NewTemplate | None]:
        try:
            image = self.engine.load(data)
            face = self.engine.main_face(image, dominance=SUBJECT_DOMINANCE)
        except NoFace as exc:
            return EnrolledImage(label, "no_face", (str(exc),)), None
        except SeveralFaces as exc:
            return EnrolledImage(label, "several_faces", (str(exc),)), None
        except (BadImage, ImageTooLarge) as exc:
            return EnrolledImage(label, "bad_image", (str(exc),)), None
        if enforce_quality and not face.quality.ok:
            return EnrolledImage(label, "low_quality", face.quality.reasons, face=face), None
        keep_thumbnail = self.gallery.settings.gallery.store_thumbnails
        thumbnail = face_thumbnail(image, face.box) if keep_thumbnail else None
        template = NewTemplate(
            embedding=face.embedding,
            model_id=self.engine.model_id,
            model_sha256=self.engine.model_sha256,
            quality=face.quality.as_dict(),
            source_sha256=sha,
            thumbnail=thumbnail,
            photo=self.vault.seal(data) if self.vault is not None else None,
        )
        return EnrolledImage(label, "accepted", face=face), template

    # -- recognition -------------------------------------------------------------------------

    def identify(self, source: ImageInput) -> list[IdentifiedFace]:
        """Every face in the image with its open-set match (a large JPEG is decoded at
        reduced scale: ``FaceEngine.analyze_source``; coordinates are the full image's)."""
        return self.match_faces(self.engine.analyze_source(source))

    def identify_image(self, image: np.ndarray) -> list[IdentifiedFace]:
        """``identify`` on an already decoded image (video frames)."""
        return self.match_faces(self.engine.analyze(image))

    def match_faces(self, faces: list[Face]) -> list[IdentifiedFace]:
        """Each analysed face with its open-set match, one gallery search per face."""
        if not faces:
            return []
        self._ensure_model()
        matches = self.gallery.identify_many([f.embedding for f in faces])
        return [IdentifiedFace(f, m) for f, m in zip(faces, matches, strict=True)]

    def identify_subject(self, source: ImageInput) -> IdentifiedFace:
        """The photo's most prominent face with its open-set match (``NoFace`` without one)."""
        face = self.engine.main_face(self.engine.load(source))
        self._ensure_model()
        return IdentifiedFace(face, self.gallery.identify(face.embedding))

    def verify_images(self, first: ImageInput, second: ImageInput) -> Verification:
        """Do the subjects of two photos show the same person?"""
        a = self.engine.main_face(self.engine.load(first))
        b = self.engine.main_face(self.engine.load(second))
        similarity = float(np.dot(a.embedding, b.embedding))
        return Verification(similarity, self.verify_threshold, (a, b))

    def verify_person(self, source: ImageInput, person_id: int) -> Verification:
        """Does the subject of a photo show this enrolled person?"""
        face = self.engine.main_face(self.engine.load(source))
        self._ensure_model()
        score = self.gallery.score_person(face.embedding, person_id)
        if score is None:
            raise NoFace(f"person {person_id} has no enrolled face to compare with")
        return Verification(score, self.verify_threshold, (face,))
