"""What every route needs from the app: the ``Services`` built once in the lifespan, and
what the lifespan hooks run (attendance, access control), which exist only while they run."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request

from facegate.api.metrics import Metrics
from facegate.errors import FacegateError
from facegate.services import Services

T = TypeVar("T")


class NotRunning(FacegateError):
    """A part of the server is not running in this process (start-up or shutdown)."""

    code = "busy"


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


def hook_part(request: Request, hook: str, part: str) -> Any:
    """``app.state.<hook>.<part>``: what a lifespan hook runs, None while it does not run."""
    owner = getattr(request.app.state, hook, None)
    return None if owner is None else getattr(owner, part)


def running(value: T | None, what: str) -> T:
    """``value``, or ``NotRunning`` (503 busy) when that part is not running."""
    if value is None:
        raise NotRunning(f"{what} is not running")
    return value
