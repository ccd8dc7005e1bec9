"""Enrolment photos kept encrypted at rest, so a gallery can be rebuilt for a new recogniser.

Off by default (``photos_keep``). When on, each accepted enrolment photo is sealed with
AES-256-GCM (``cryptography``) under the site's key from ``photos_key_file`` and stored beside
its template (table ``enrolment_photos``, erased with the template and the person). The key
never enters the database or a backup: a stolen database or backup file shows no face photo.
``key_id`` (a hash prefix of the key) tells a wrong key file apart from damaged data.

``facegate reembed`` (``reembed.py``) opens the photos again to compute new templates.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from facegate.config import Settings
from facegate.errors import InvalidInput
from facegate.gallery.types import SealedPhoto

KEY_BYTES = 32
NONCE_BYTES = 12
_AAD = b"facegate enrolment photo v1"


def load_key(path: Path) -> bytes:
    """The 32-byte key in ``path``: 64 hex characters (what ``photos-key`` writes) or 32 raw
    bytes. Refuses anything else, and a key file others may read."""
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as error:
        raise InvalidInput(
            f"cannot read photos_key_file {path}: {error.strerror}; make one with "
            "`facegate photos-key --out FILE`"
        ) from None
    if mode & 0o077:
        raise InvalidInput(f"photos_key_file {path} may be read by other users: chmod 600 {path}")
    text = raw.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    if len(raw) == KEY_BYTES:
        return raw
    raise InvalidInput(
        f"photos_key_file {path} must hold 64 hex characters (32 bytes); make one with "
        "`facegate photos-key --out FILE`"
    )


def write_key(path: Path) -> None:
    """Create a new random key file (mode 0600); refuses to overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{path} exists: a key is never overwritten (photos need it)") from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")


class PhotoVault:
    """Seals and opens photos with one key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != KEY_BYTES:
            raise InvalidInput("a photos key has 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"facegate photos key id" + key).hexdigest()[:16]

    @classmethod
    def from_settings(cls, settings: Settings) -> PhotoVault | None:
        """The vault when ``photos_keep`` is on (its key file must be usable), else None."""
        if not settings.photos.keep:
            return None
        if settings.photos.key_file is None:
            raise InvalidInput(
                "photos_keep is on but photos_key_file is not set: make a key with "
                "`facegate photos-key --out FILE` and set FACEGATE_PHOTOS_KEY_FILE"
            )
        return cls(load_key(settings.photos.key_file))

    @classmethod
    def for_reading(cls, settings: Settings) -> PhotoVault:
        """The vault to open kept photos with (``reembed``), whether or not new photos are
        kept: only the key file is needed."""
        if settings.photos.key_file is None:
            raise InvalidInput(
                "set photos_key_file (FACEGATE_PHOTOS_KEY_FILE) to the key the photos were "
                "kept with"
            )
        return cls(load_key(settings.photos.key_file))

    def seal(self, photo: bytes) -> SealedPhoto:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return SealedPhoto(nonce, self._aead.encrypt(nonce, photo, _AAD), self.key_id)

    def open(self, sealed: SealedPhoto) -> bytes:
        from cryptography.exceptions import InvalidTag

        if sealed.key_id != self.key_id:
            raise InvalidInput(
                f"the photos were kept with another key (key id {sealed.key_id}, this key "
                f"{self.key_id}): point photos_key_file at the key they were kept with"
            )
        try:
            return self._aead.decrypt(sealed.nonce, sealed.ciphertext, _AAD)
        except InvalidTag:
            raise InvalidInput("a kept photo is damaged (authentication failed)") from None
