"""The one table of settings names: each leaf of the tree, its flat name and its path.

The flat name is what an environment variable (``FACEGATE_`` + flat name, upper case) and a
flat keyword (``Settings(stream_port=0)``) use. It is derived, never typed twice: a field
``port`` of ``StreamSettings`` (``ENV_PREFIX = "stream_"``) is ``stream_port`` and lives at
``("stream", "port")``. ``ENV_NAMES`` of an area keeps a historical name where the rule would
give another (``stream.enabled`` is ``FACEGATE_STREAM_SERVER``). Names must be unique: the
table is checked when it is built.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from facegate.config.base import Section, secret_kind

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class Leaf:
    """One setting: where it lives in the tree and what it is called flat."""

    path: Path_
    flat: str
    info: FieldInfo
    owner: type[Section]

    @property
    def env(self) -> str:
        return "FACEGATE_" + self.flat.upper()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def secret(self) -> str | None:
        return secret_kind(self.info)

    @property
    def complex(self) -> bool:
        """Whether an environment value is JSON (lists, tables, models)."""
        return _is_complex(self.info.annotation)


def section_type(info: FieldInfo) -> type[Section] | None:
    """The area model a field holds, if it is a sub-section."""
    annotation = info.annotation
    if inspect.isclass(annotation) and issubclass(annotation, Section):
        return annotation
    return None


def _is_complex(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_is_complex(a) for a in get_args(annotation) if a is not type(None))
    if origin in (list, dict, tuple, set, frozenset):
        return True
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def walk(model: type[Section], path: Path_ = ()) -> list[Leaf]:
    """Every leaf under ``model`` in declaration order."""
    leaves: list[Leaf] = []
    for key, info in model.model_fields.items():
        sub = section_type(info)
        if sub is not None:
            leaves.extend(walk(sub, (*path, key)))
        else:
            flat = model.ENV_NAMES.get(key, model.ENV_PREFIX + key)
            leaves.append(Leaf((*path, key), flat, info, model))
    return leaves


@cache
def leaves(root: type[Section]) -> dict[str, Leaf]:
    """Flat name -> leaf for the whole tree; a duplicate flat name is a programming error."""
    table: dict[str, Leaf] = {}
    for leaf in walk(root):
        if leaf.flat in table:
            raise RuntimeError(f"settings {leaf.dotted} and {table[leaf.flat].dotted} share a name")
        table[leaf.flat] = leaf
    return table


@cache
def by_path(root: type[Section]) -> dict[Path_, Leaf]:
    return {leaf.path: leaf for leaf in leaves(root).values()}


def env_table() -> str:
    """The Markdown table of docs/configuration.md: environment name, file place, default."""
    from facegate.config.settings import Settings

    rows = ["| environment variable | file: section / key | default |", "|---|---|---|"]
    for leaf in leaves(Settings).values():
        default = leaf.info.get_default(call_default_factory=True)
        shown = "unset" if default is None else str(default)
        if isinstance(default, bool):
            shown = shown.lower()
        extra = " (or `_FILE`)" if leaf.secret else ""
        place = f"`[{'.'.join(leaf.path[:-1])}]` `{leaf.path[-1]}`"
        rows.append(f"| `{leaf.env}`{extra} | {place} | {shown} |")
    return "\n".join(rows)
