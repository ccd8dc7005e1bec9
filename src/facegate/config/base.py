"""What every settings area shares: strictness, environment names, secret marks, errors.

An area is a ``Section``: a pydantic model with ``extra="forbid"`` (a misspelt key in the file
or a keyword is an error, never silently ignored) whose fields each carry their one default and
a ``description``. Its fields' environment names are ``FACEGATE_`` + ``ENV_PREFIX`` + key, except
where ``ENV_NAMES`` gives the historical name (facegate.config.names builds the table).

A secret field says so in its ``json_schema_extra``: ``SECRET`` (shown as ``***``) or
``SECRET_URL`` (a URL whose credentials and sensitive query values are masked, facegate.redact).
Secret fields may also be read from a file named by ``FACEGATE_<NAME>_FILE`` (systemd
``LoadCredential=``), so they never need to be on a command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo

from facegate.redact import MASK, mask_text, mask_url

SECRET: dict[str, Any] = {"secret": "value"}
SECRET_URL: dict[str, Any] = {"secret": "url"}


class Section(BaseModel):
    """Base of every settings area (and of the root ``Settings``)."""

    model_config = ConfigDict(extra="forbid")

    ENV_PREFIX: ClassVar[str] = ""
    """Environment name of key ``k`` is FACEGATE_ + ENV_PREFIX + k (upper case)."""
    ENV_NAMES: ClassVar[dict[str, str]] = {}
    """Keys whose environment name does not follow the prefix rule: key -> flat name."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr ends up in tracebacks and test output: never with a password.
        fields = type(self).model_fields
        for name, value in super().__repr_args__():
            kind = secret_kind(fields[name]) if name in fields else None
            yield name, mask_value(kind, value) if kind else value


class InvalidSettings(ValueError):
    """A setting has an invalid value; the message names where it came from (file, section
    and key, or environment variable) and the rule, never the value: settings hold passwords."""


def secret_kind(info: FieldInfo) -> str | None:
    """``"value"``, ``"url"`` or None: how a field's value is masked when shown."""
    extra = info.json_schema_extra
    if isinstance(extra, dict):
        kind = extra.get("secret")
        if isinstance(kind, str):
            return kind
    if "SecretStr" in repr(info.annotation):
        return "value"
    return None


def mask_value(kind: str, value: Any) -> Any:
    """A secret value as it may be shown: ``***`` or the URL with its credentials masked."""
    if value is None or value == "" or value == []:
        return value
    if isinstance(value, list):
        return [mask_value(kind, item) for item in value]
    if kind == "url" and isinstance(value, str):
        return mask_url(value)
    return MASK


def masked_message(text: str) -> str:
    """An error text with any URL's credentials masked (pydantic quotes some values)."""
    return mask_text(text)


def default_of(model: type[BaseModel], key: str) -> Any:
    """The one default of a setting, for a parameter class that needs a default of its own
    (``QualityRules.min_face_px = default_of(QualitySettings, "min_face_px")``): defaults
    are written once, in the settings tree."""
    return model.model_fields[key].get_default(call_default_factory=True)
