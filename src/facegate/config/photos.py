"""``[photos]``: enrolment photos kept encrypted at rest (facegate.photos; docs/gallery.md).

Off by default. On, every accepted enrolment photo is stored AES-256-GCM-encrypted with the key
in ``key_file`` (make one with `facegate photos-key --out FILE`; keep it 0600 and apart from
backups), so `facegate reembed` can rebuild the gallery for another recogniser. A photo is
erased with its face and with the person (ON DELETE CASCADE)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from facegate.config.base import Section


class PhotosSettings(Section):
    """Whether enrolment photos are kept, and the file of their key (a path, not the key)."""

    ENV_PREFIX: ClassVar[str] = "photos_"

    keep: bool = Field(False, description="keep enrolment photos, encrypted")
    key_file: Path | None = Field(None, description="32-byte key (64 hex characters)")
