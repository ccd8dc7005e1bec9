"""Settings as text: TOML (``facegate config show``, the example deploy/facegate.toml) or JSON,
with every secret masked (``***``, or a URL with its credentials masked).

The TOML is the tree's own layout, so what ``config show`` prints can be saved and loaded
again; with ``comments=True`` every key carries its description (the example file is this
output for the defaults, and a test keeps the two the same).
"""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from facegate.config.base import Section, mask_value, secret_kind
from facegate.config.names import section_type

HEADER = """\
# facegate settings (docs/configuration.md). Every key is shown with its default; a key
# that is left out keeps its default. Order of sources, later wins: this file <
# FACEGATE_* environment variables < command-line options. Unknown keys are errors.
# Secrets (database_url, webhook_secret, mqtt password): here with mode 0600, or in a file
# named by FACEGATE_<NAME>_FILE (systemd LoadCredential=), never on a command line.
"""


def plain(value: Any, *, masked: bool, kind: str | None = None) -> Any:
    """A value as JSON-able data, masked if ``kind`` says it is a secret."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value() if not masked else value
        kind = kind or "value"
    if masked and kind:
        value = mask_value(kind, value)
    if isinstance(value, BaseModel):
        return tree(value, masked=masked)
    if isinstance(value, list | tuple):
        return [plain(v, masked=masked) for v in value]
    if isinstance(value, dict):
        return {k: plain(v, masked=masked) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, SecretStr):
        return str(value)
    return value


def tree(model: BaseModel, *, masked: bool = True) -> dict[str, Any]:
    """A model as nested JSON-able data (secrets masked unless ``masked=False``)."""
    fields = type(model).model_fields
    out: dict[str, Any] = {}
    for key, info in fields.items():
        value = getattr(model, key)
        out[key] = plain(value, masked=masked, kind=secret_kind(info))
    return out


def to_json(model: BaseModel, *, masked: bool = True) -> str:
    return json.dumps(tree(model, masked=masked), indent=2, ensure_ascii=False) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return json.dumps(str(value))


def to_toml(model: Section, *, masked: bool = True, comments: bool = False) -> str:
    """``model`` as a TOML document of its tree. Unset values (None) are commented out."""
    lines: list[str] = [HEADER.rstrip("\n")] if comments else []
    _table(model, (), lines, masked=masked, comments=comments)
    return "\n".join(lines).rstrip() + "\n"


def _table(
    model: BaseModel, path: tuple[str, ...], lines: list[str], *, masked: bool, comments: bool
) -> None:
    fields = type(model).model_fields
    sections: list[tuple[str, Section]] = []
    arrays: list[tuple[str, list[BaseModel], str]] = []
    if path:
        if lines:
            lines.append("")
        doc = (type(model).__doc__ or "").strip().split("\n\n")[0]
        if comments and doc:
            lines.extend("# " + line.strip().replace("``", "`") for line in doc.splitlines())
        lines.append(f"[{'.'.join(path)}]")
    for key, info in fields.items():
        value = getattr(model, key)
        if section_type(info) is not None:
            sections.append((key, value))
            continue
        if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            arrays.append((key, value, info.description or ""))
            continue
        if comments and info.description:
            lines.append(f"# {info.description}")
        shown = plain(value, masked=masked, kind=secret_kind(info))
        if shown is None:
            lines.append(f"# {key} =")
        else:
            lines.append(f"{key} = {_toml_value(shown)}")
    for key, items, description in arrays:
        for item in items:
            lines.append("")
            if comments and description:
                lines.append(f"# {description}")
            lines.append(f"[[{'.'.join((*path, key))}]]")
            for sub, value in tree(item, masked=masked).items():
                if value is not None:
                    lines.append(f"{sub} = {_toml_value(value)}")
    for key, section in sections:
        _table(section, (*path, key), lines, masked=masked, comments=comments)
