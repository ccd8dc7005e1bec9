"""A deletion reaches every worker: ``facegate serve --workers 2`` as a real process, on
SQLite and PostgreSQL. Before the delete both workers name the person; after it, every
worker answers unknown at once (its next search catches up with the database: no restart,
no waiting for a poll).

Which worker answered is read from ``/healthz`` (``pid``) on the same keep-alive connection
as the identify: one connection is always served by one worker process. New connections are
opened until both workers have answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pg import create_database, drop_database
from tests.serving import create_key, enrol, free_port, serving

PERSON = "Barack_Obama"
PROBE = "fr_obama2.jpg"
WORKERS = 2


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("workers-delete")
    env = {"FACEGATE_INFERENCE_THREADS": "1"}
    url, admin_url = None, None
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, "workers_delete")
        env["FACEGATE_DATABASE_URL"] = url
    try:
        with pytest.MonkeyPatch.context() as patch:  # the key goes to the server's database
            if url:
                patch.setenv("FACEGATE_DATABASE_URL", url)
            key = create_key(data, "admin")
        with serving(data, free_port(), "--workers", str(WORKERS), env=env) as base:
            yield base, key
    finally:
        if admin_url is not None:
            drop_database(admin_url, "workers_delete")


def per_worker(base: str, ask: Callable[[httpx.Client], Any], tries: int = 200) -> dict[int, Any]:
    """``ask`` answered by each worker: pid -> the answers it gave, over new connections
    until every worker has answered (fails if one never does)."""
    answers: dict[int, list[Any]] = {}
    for _ in range(tries):
        with httpx.Client(base_url=base, timeout=60) as client:  # one connection, one worker
            pid = int(client.get("/healthz").json()["pid"])
            answers.setdefault(pid, []).append(ask(client))
        if len(answers) == WORKERS and all(len(a) >= 2 for a in answers.values()):
            return answers
    raise AssertionError(f"only workers {sorted(answers)} answered in {tries} connections")


def test_a_deleted_person_is_unknown_on_every_worker(
    served: tuple[str, str], faces_dir: Path
) -> None:
    base, key = served
    headers = {"X-API-Key": key}
    folder = faces_dir / "people" / PERSON
    person_id = enrol(base, headers, PERSON, folder)
    probe = (folder / PROBE).read_bytes()

    def identify(client: httpx.Client) -> list[int | None]:
        r = client.post(
            "/api/v1/identify", files={"image": (PROBE, probe, "image/jpeg")}, headers=headers
        )
        assert r.status_code == 200, r.text
        return [f["person"]["id"] if f["person"] else None for f in r.json()["faces"]]

    before = per_worker(base, identify)
    for pid, answers in before.items():
        assert all(person_id in got for got in answers), (pid, answers)  # both know them

    gone = httpx.delete(f"{base}/api/v1/people/{person_id}", headers=headers, timeout=60)
    assert gone.status_code == 200, gone.text

    after = per_worker(base, identify)
    for pid, answers in after.items():
        assert all(got and person_id not in got for got in answers), (pid, answers)
