"""What every route needs from the app: the ``Services`` built once in the lifespan."""

from __future__ import annotations

from fastapi import Request

from facegate.api.metrics import Metrics
from facegate.services import Services


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]
