"""What every route needs from the app: the ``Services`` built once in the lifespan."""

from __future__ import annotations

from fastapi import Request

from facegate.api.metrics import Metrics
from facegate.services import Services


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found
