"""``facegate serve`` on PostgreSQL while the server is stopped and started again: no answer
is a 500; recognition answers from memory within the staleness bound, then 503; everything
works again once PostgreSQL is back (docs/cluster.md, "PostgreSQL connections and outages")."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.gallery.test_pg_outages import FAST, wait_for
from tests.pg import PostgresCluster
from tests.serving import create_key, free_port, fresh, serving

pytestmark = pytest.mark.postgres
NAME, ENROL, PROBE = "Barack_Obama", ["fr_obama.jpg", "fr_obama1.jpg"], "fr_obama2.jpg"


def test_a_postgres_restart_gives_no_500(
    pg_own_cluster: PostgresCluster,
    faces_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with psycopg.connect(pg_own_cluster.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    env = {f"FACEGATE_{k.upper()}": str(v) for k, v in FAST.items()}
    env |= {
        "FACEGATE_DATABASE_URL": pg_own_cluster.url,
        "FACEGATE_INFERENCE_THREADS": "1",
        "FACEGATE_GALLERY_MAX_STALENESS_S": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    key = create_key(tmp_path, "admin")
    headers = {"X-API-Key": key}
    folder = faces_dir / "people" / NAME
    probe = {"image": (PROBE, (folder / PROBE).read_bytes(), "image/jpeg")}
    statuses: list[int] = []
    with serving(tmp_path, free_port(), env=env) as base, fresh(base) as c:
        person = c.post("/api/v1/people", json={"name": NAME}, headers=headers).json()
        files = [("images", (f, (folder / f).read_bytes(), "image/jpeg")) for f in ENROL]
        assert c.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=headers)
        assert _who(c, probe, headers) == person["id"]
        pg_own_cluster.halt()
        try:
            stopped = time.monotonic()
            while time.monotonic() - stopped < 8:  # past the 5 s bound
                r = c.post("/api/v1/identify", files=probe, headers=headers)
                statuses.append(r.status_code)
                statuses.append(c.get("/api/v1/people", headers=headers).status_code)
                time.sleep(0.2)
        finally:
            pg_own_cluster.resume()
        wait_for(lambda: _who(c, probe, headers) == person["id"], 30, "recognition again")
        assert c.get("/api/v1/people", headers=headers).status_code == 200
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}
    assert 503 in statuses  # past the bound recognition refused, and so did the listing
    assert 200 in statuses[0::2]  # within it, identify answered from memory


def _who(
    c: httpx.Client, probe: dict[str, tuple[str, bytes, str]], headers: dict[str, str]
) -> int | None:
    r = c.post("/api/v1/identify", files=probe, headers=headers)
    if r.status_code != 200:
        return None
    faces = r.json()["faces"]
    return faces[0]["person"]["id"] if faces and faces[0]["person"] else None
