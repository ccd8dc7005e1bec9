"""The Typer application object and helpers shared by every command module."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from facegate.errors import FacegateError, ModelError

app = typer.Typer(
    name="facegate",
    help="Real-time face recognition for attendance and access control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


def print_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def fail(error: FacegateError, *, as_json: bool) -> NoReturn:
    """Report a domain error in the requested format and exit with its documented code."""
    code = EXIT_ENVIRONMENT if isinstance(error, ModelError) else EXIT_BAD_INPUT
    if as_json:
        print_json({"error": {"code": error.code, "message": str(error)}})
    else:
        typer.echo(f"error ({error.code}): {error}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported(*, as_json: bool) -> Iterator[None]:
    """Turn a domain error raised inside the block into the documented output and exit code."""
    try:
        yield
    except FacegateError as exc:
        fail(exc, as_json=as_json)
