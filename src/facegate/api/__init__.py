"""facegate's HTTP API and admin pages (FastAPI): ``create_app(settings)``."""

from facegate.api.app import create_app

__all__ = ["create_app"]
