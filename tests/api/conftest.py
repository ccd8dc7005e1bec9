"""API fixtures: the real app (real models, real database) behind Starlette's TestClient.

One app per test module and backend (building one loads the models and opens the database,
well under a second); tests create their own people, so they never depend on each other's
data. PostgreSQL runs on the session's throwaway cluster, one fresh database per module.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from facegate.api import create_app
from facegate.api.keys import SCOPES
from facegate.config import Settings
from tests.pg import create_database, drop_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about httpx vs httpx2
    from fastapi.testclient import TestClient


@dataclass
class Api:
    """A running app with a key of each scope (as headers)."""

    client: TestClient
    settings: Settings
    admin: dict[str, str]
    recognize: dict[str, str]
    monitor: dict[str, str]
    checkin: dict[str, str]

    @property
    def app(self) -> Any:
        return self.client.app

    def create_person(self, name: str, **fields: object) -> dict[str, Any]:
        r = self.client.post("/api/v1/people", json={"name": name, **fields}, headers=self.admin)
        assert r.status_code == 201, r.text
        person: dict[str, Any] = r.json()
        return person

    def enrol(self, person_id: int, *photos: Path) -> dict[str, Any]:
        files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
        r = self.client.post(f"/api/v1/people/{person_id}/faces", files=files, headers=self.admin)
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        return report

    def identify(self, photo: Path, **params: str) -> Any:
        return self.client.post(
            "/api/v1/identify",
            params=params,
            files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
            headers=self.recognize,
        )


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def start_api(settings: Settings) -> Generator[Api, None, None]:
    """The app with its keys while the generator runs (``close()`` stops it)."""
    app = create_app(settings)
    with TestClient(app) as client:
        keys = app.state.keys
        made = {scope: keys.create(scope, "tests")[1] for scope in SCOPES}
        yield Api(client, settings, *({"X-API-Key": made[s]} for s in SCOPES))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app on SQLite, then on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        yield from start_api(Settings(data_dir=data_dir))
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"api_{request.module.__name__.rsplit('.', 1)[-1]}"
    url = create_database(admin_url, name)
    try:
        yield from start_api(Settings(data_dir=data_dir, database_url=url))
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app on SQLite only, for tests about HTTP rather than storage."""
    yield from start_api(Settings(data_dir=tmp_path_factory.mktemp("api")))


@pytest.fixture(scope="session")
def people_dir(faces_dir: Path) -> Path:
    return faces_dir / "people"
