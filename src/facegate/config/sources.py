"""Where settings come from, in this order (later wins): defaults < config file (TOML) <
environment variables < keywords (command-line options).

Each source becomes a ``Layer``: nested values plus, for every key it set, a description of
where it came from (``/etc/facegate/facegate.toml: [stream] port``, ``FACEGATE_STREAM_PORT``,
``--stream-port``). A validation error names that origin and never the value.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from facegate.config.base import InvalidSettings, masked_message
from facegate.config.names import Path_, leaves

CONFIG_ENV = "FACEGATE_CONFIG"


@dataclass
class Layer:
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[Path_, str] = field(default_factory=dict)

    def put(self, path: Path_, value: Any, origin: str) -> None:
        node = self.values
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = value
        self.origins[path] = origin


def file_layer(path: Path) -> Layer:
    """A TOML file's values; unreadable or malformed files are an ``InvalidSettings``."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise InvalidSettings(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSettings(f"{path}: not valid TOML: {exc}") from None
    layer = Layer()

    def visit(node: dict[str, Any], where: Path_) -> None:
        for key, value in node.items():
            here = (*where, key)
            section = f"[{'.'.join(where)}] " if where else ""
            layer.origins[here] = f"{path}: {section}{key}"
            if isinstance(value, dict) and not _is_leaf_table(here):
                visit(value, here)

    visit(data, ())
    layer.values = data
    return layer


def _is_leaf_table(path: Path_) -> bool:
    """A TOML table that is one setting's value (``[attendance.cameras]``), not a section."""
    from facegate.config.settings import Settings

    return any(leaf.path == path for leaf in leaves(Settings).values())


def env_layer(environ: Mapping[str, str]) -> Layer:
    """``FACEGATE_<FLAT NAME>`` variables (any case), and ``FACEGATE_<NAME>_FILE`` for secrets:
    the value is the file's content (systemd ``LoadCredential=``; one trailing newline cut)."""
    from facegate.config.settings import Settings

    upper = {k.upper(): v for k, v in environ.items() if k.upper().startswith("FACEGATE_")}
    layer = Layer()
    for leaf in leaves(Settings).values():
        name = leaf.env
        raw = upper.get(name)
        origin = f"{name} ({leaf.dotted})"
        if leaf.secret and upper.get(name + "_FILE"):
            if raw is not None:
                raise InvalidSettings(f"set {name} or {name}_FILE, not both")
            origin = f"{name}_FILE ({leaf.dotted})"
            try:
                raw = Path(upper[name + "_FILE"]).read_text(encoding="utf-8").removesuffix("\n")
            except OSError as exc:
                raise InvalidSettings(f"{name}_FILE: cannot read it: {exc.strerror}") from None
        if raw is None:
            continue
        value: Any = raw
        if leaf.complex:
            try:
                value = json.loads(raw)
            except ValueError:
                raise InvalidSettings(f"{origin}: not valid JSON") from None
        layer.put(leaf.path, value, origin)
    return layer


def keyword_layer(values: Mapping[str, Any], label: str = "") -> Layer:
    """Keywords: a section name (a table or an area model), or any leaf's flat name."""
    from facegate.config.settings import Settings

    table = leaves(Settings)
    layer = Layer()
    for key, value in values.items():
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if key in table and len(table[key].path) > 1:
            layer.put(table[key].path, value, f"{label}{key}")
        else:
            layer.put((key,), value, f"{label}{key}")
    return layer


def merge(layers: list[Layer]) -> Layer:
    """The layers' values, later ones winning key by key (tables merge, leaves replace)."""
    out = Layer()

    def into(target: dict[str, Any], source: dict[str, Any]) -> None:
        for key, value in source.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                into(target[key], value)
            else:
                target[key] = _copy(value)

    for layer in layers:
        into(out.values, layer.values)
        out.origins.update(layer.origins)
    return out


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def describe(error: ValidationError, origins: Mapping[Path_, str]) -> str:
    """A validation error as text naming where each bad value came from (file, section and
    key; environment variable; option), without the values pydantic would quote."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        loc = tuple(str(p) for p in item.get("loc", ()))
        where = ".".join(loc) or "settings"
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in origins:
                rest = ".".join(loc[cut:])
                where = origins[loc[:cut]] + (f" -> {rest}" if rest else "")
                break
        message = item.get("msg", "invalid")
        if item.get("type") == "extra_forbidden":
            message = "unknown setting (misspelt? `facegate config show` lists them all)"
        parts.append(f"{where}: {message}")
    return masked_message("invalid settings: " + "; ".join(parts))


def gather(
    config_file: Path | None,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any],
    label: str = "",
) -> Layer:
    """Every source merged: the file (``config_file`` or ``FACEGATE_CONFIG``), the environment
    and the keywords."""
    env = os.environ if environ is None else environ
    layers = []
    chosen = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if chosen is not None:
        layers.append(file_layer(Path(chosen)))
    layers.append(env_layer(env))
    layers.append(keyword_layer(overrides, label))
    return merge(layers)
