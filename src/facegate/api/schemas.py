"""Request and response models: the typed contract published at ``/openapi.json``.

Response fields come from ``facegate.summaries`` (the CLI prints the same shapes); these models
only describe and validate them. Request bodies that carry images are parsed by hand
(``uploads.py``) because one endpoint accepts both multipart and JSON; their schemas are
published through ``openapi_extra`` with the helpers at the bottom.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TEXT = 200
MAX_ID = 2**63 - 1

# Query parameters every list route shares: one definition, so their bounds cannot drift.
PersonFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=10**9)]  # past the end: an empty page


def _printable(value: str | None) -> str | None:
    # NUL and other control characters are refused: PostgreSQL cannot store NUL in text,
    # and nobody's name contains a control character.
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


MAX_METADATA_BYTES = 16 * 1024  # as compact JSON
MAX_METADATA_DEPTH = 10
MAX_METADATA_VALUES = 1000  # keys, strings, numbers, ... counted together

J = TypeVar("J")  # a JSON value, handed back as it came


def _clean_json(value: J) -> J:
    """Metadata within its bounds (size, depth, number of values), without NUL."""
    _walk_json(value, 0, [MAX_METADATA_VALUES])
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES}")
    return value


def _walk_json(value: Any, depth: int, budget: list[int]) -> None:
    """Check depth and NUL, spending one unit of ``budget`` per value; stops at the first
    value over it, so a body of 8,000 keys costs no more to refuse than one of 1,000."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"metadata holds more than {MAX_METADATA_VALUES} values")
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata is nested too deeply (at most {MAX_METADATA_DEPTH} levels)")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("metadata strings must not contain NUL")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk_json(key, depth + 1, budget)
            _walk_json(item, depth + 1, budget)
    elif isinstance(value, list):
        for item in value:
            _walk_json(item, depth + 1, budget)


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_TEXT, examples=["张伟"])
    external_id: str | None = Field(None, min_length=1, max_length=MAX_TEXT, examples=["E-1024"])
    metadata: dict[str, Any] = Field(default_factory=dict, examples=[{"team": "front desk"}])

    _text = field_validator("name", "external_id")(_printable)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _clean_json(value)


class PersonUpdate(BaseModel):
    """Fields to change; ``external_id: null`` clears it, an absent field stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    external_id: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    metadata: dict[str, Any] | None = None

    _text = field_validator("name", "external_id")(_printable)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _clean_json(value)


class PersonOut(BaseModel):
    id: int
    name: str
    external_id: str | None
    templates: int = Field(description="face templates enrolled")
    metadata: dict[str, Any]
    created_at: str


class PeoplePage(BaseModel):
    total: int
    limit: int
    offset: int
    people: list[PersonOut]


class FaceTemplateOut(BaseModel):
    template_id: int
    quality: dict[str, Any]
    created_at: str
    thumbnail_url: str | None


class PersonDetail(PersonOut):
    faces: list[FaceTemplateOut]


class EnrolWarningOut(BaseModel):
    """A warning raised by an enrolment or a rename (facegate.enrol_checks)."""

    code: Literal["same_name", "matches_other", "unlike_person"]
    message: str
    person_id: int | None = Field(None, description="the other person (same_name: the first)")
    person_name: str | None = None
    person_ids: list[int] = Field([], description="same_name: everyone of that name")
    score: float | None = Field(None, description="the similarity that raised the warning")
    threshold: float | None = None


class PersonCreated(PersonOut):
    warnings: list[EnrolWarningOut] = []


class MergeBody(BaseModel):
    """The person to merge into: they keep their name, external id and metadata."""

    model_config = ConfigDict(extra="forbid")

    into: int = Field(ge=1, le=MAX_ID, description="id of the person who remains")


class Deleted(BaseModel):
    deleted: int
    templates_erased: int


class FaceOut(BaseModel):
    box: list[float] = Field(description="[x, y, width, height] in pixels of the upright image")
    landmarks: list[list[float]] = Field(description="eyes, nose tip, mouth corners")
    score: float = Field(description="detector confidence")
    quality: dict[str, Any]


class PersonRef(BaseModel):
    """A person as an answer names them (the one API model for it)."""

    id: int
    name: str


class PersonRefExternal(PersonRef):
    """A person with your own key for them (attendance answers, for payroll exports)."""

    external_id: str | None = None


class CandidateOut(PersonRef):
    similarity: float


class IdentifiedOut(FaceOut):
    person: PersonRef | None = Field(description="null: not anybody enrolled")
    similarity: float = Field(description="match score of the best person (cosine)")
    margin: float = Field(description="the best person's lead over the runner-up")
    threshold: float = Field(description="threshold the decision used (gallery size, target)")
    candidates: list[CandidateOut] | None = Field(
        None, description="the best-matching enrolled people; admin keys only (else null)"
    )


class IdentifyResult(BaseModel):
    faces: list[IdentifiedOut]
    threshold: float
    annotated_image: str | None = Field(
        None, description="base64 JPEG with boxes and names (annotate=true&format=json)"
    )


class GalleryStatus(BaseModel):
    """The open-set operating point in use (docs/gallery.md)."""

    people: int = Field(description="enrolled people with face templates (the gallery size)")
    threshold: float = Field(description="identify threshold in use for this gallery size")
    target_fpir: float = Field(description="share of strangers that may be named as someone")
    verify_threshold: float
    verify_target_far: float
    source: Literal["calibrated", "override", "fallback"]
    model: str | None
    populations: list[str] = Field(description="dev populations the calibration measured")


class DetectResult(BaseModel):
    faces: list[FaceOut]


class VerifyResult(BaseModel):
    same_person: bool
    similarity: float
    threshold: float
    person_id: int | None = None
    faces: list[FaceOut]


class EnrolledImageOut(BaseModel):
    image: str
    outcome: str = Field(
        description="accepted, duplicate, bad_image, no_face, several_faces, low_quality or "
        "matches_other (refused with refuse_matches=true)"
    )
    reasons: list[str] = []
    template_id: int | None = None
    quality: dict[str, Any] | None = None
    warnings: list[EnrolWarningOut] = []


class EnrolResult(BaseModel):
    person: PersonOut
    accepted: int
    images: list[EnrolledImageOut]


class CompatResult(BaseModel):
    code: int = Field(description="200 match, 201 nobody matches, 202 no img, 203 no face")
    msg: str
    name: str | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses (all share one shape)."""
    return {s: {"model": ErrorBody} for s in statuses}


_B64 = {"type": "string", "description": "base64 image (a data: URL is accepted)"}
_FILE = {"type": "string", "format": "binary"}


def image_body(
    json_props: dict[str, Any], form_props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that is either multipart or JSON."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": form_props, "required": required}
                },
                "application/json": {
                    "schema": {"type": "object", "properties": json_props, "required": required}
                },
            },
        }
    }


ONE_IMAGE_BODY = image_body({"image": _B64}, {"image": _FILE}, ["image"])
VERIFY_BODY = image_body(
    {"image": _B64, "image_b": _B64, "person_id": {"type": "integer", "minimum": 1}},
    {"image": _FILE, "image_b": _FILE, "person_id": {"type": "integer", "minimum": 1}},
    ["image"],
)
ENROL_BODY = image_body(
    {"images": {"type": "array", "items": _B64, "minItems": 1}},
    {"images": {"type": "array", "items": _FILE, "minItems": 1}},
    ["images"],
)
