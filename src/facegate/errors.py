"""Domain errors.

Every failure a caller can cause or meet has its own type with a stable ``code``. The edges
(HTTP API, stream protocol, CLI) map these codes to statuses and exit codes; the domain never
knows about HTTP or sockets.
"""

from __future__ import annotations


class FacegateError(Exception):
    """Base of every expected facegate failure; ``code`` is stable and machine-readable."""

    code = "error"


class BadImage(FacegateError):
    """The bytes are not a decodable image, or the image is empty or degenerate."""

    code = "bad_image"


class UnsupportedImage(BadImage):
    """The bytes are an image format facegate does not accept (only the allow-list is
    decoded: JPEG, PNG, WebP, BMP, TIFF, PGM/PPM)."""

    code = "unsupported_image"


class ImageTooLarge(FacegateError):
    """The image has more pixels than allowed (guards against decompression bombs)."""

    code = "image_too_large"


class NoFace(FacegateError):
    """No face was found where one was required."""

    code = "no_face"


class ModelError(FacegateError):
    """A model file is missing, altered, or cannot be loaded."""

    code = "model_error"


class ModelMismatch(FacegateError):
    """Embeddings from one model were offered to a gallery pinned to another."""

    code = "model_mismatch"


class UnknownPerson(FacegateError):
    """The referenced person does not exist."""

    code = "unknown_person"


class UnknownTemplate(FacegateError):
    """The referenced face template does not exist (or is not the given person's)."""

    code = "unknown_template"


class Conflict(FacegateError):
    """The request conflicts with stored data (for example a duplicate external id)."""

    code = "conflict"


class GalleryNotFound(FacegateError):
    """A command that reads a gallery was pointed where none exists (a mistyped --data-dir
    would otherwise create an empty one and report everyone unknown)."""

    code = "no_gallery"


class InvalidInput(FacegateError):
    """A request is well-formed but its values are not acceptable."""

    code = "invalid_input"


class SeveralFaces(FacegateError):
    """A photo meant to show one person shows several, and none clearly stands out."""

    code = "several_faces"


class Busy(FacegateError):
    """The inference queue is full; the caller should retry shortly (HTTP 503)."""

    code = "busy"


class DatabaseUnavailable(FacegateError):
    """The database (PostgreSQL) cannot be reached or timed out, or the in-memory gallery is
    older than the outage policy allows (``gallery_outage_policy``); retry shortly (HTTP 503,
    stream ERROR ``unavailable``)."""

    code = "unavailable"


class InvalidToken(FacegateError):
    """A liveness challenge token that this server did not issue, or that was altered."""

    code = "invalid_token"


class TokenExpired(FacegateError):
    """A liveness challenge token past its expiry: ask for a new challenge."""

    code = "token_expired"


class TokenUsed(FacegateError):
    """A liveness challenge token that was already spent (tokens are single use)."""

    code = "token_used"
