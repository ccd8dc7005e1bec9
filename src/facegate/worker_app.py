"""The app factory every ``facegate serve`` worker calls, holding the parent's settings.

uvicorn pickles the factory (a ``functools.partial`` of ``build_app`` and the effective
``Settings``) to each spawned worker. Unpickling happens before the worker answers uvicorn's
health checks, so this module stays light: the API (FastAPI, the models) is imported only when
``build_app`` runs, inside the worker's server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from facegate.config import Settings


def build_app(settings: Settings) -> FastAPI:
    """The worker's app, built from the settings its parent resolved."""
    from facegate.api.app import app_from_settings

    return app_from_settings(settings)
