"""People CRUD, auth and scopes through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api


def test_create_get_update_delete_person(api: Api):
    c = api.client
    person = api.create_person("张伟", external_id="E-crud", metadata={"team": "front desk"})
    assert person["name"] == "张伟" and person["templates"] == 0
    assert person["metadata"] == {"team": "front desk"}

    got = c.get(f"/api/v1/people/{person['id']}", headers=api.admin).json()
    assert got["external_id"] == "E-crud" and got["faces"] == []

    patched = c.patch(
        f"/api/v1/people/{person['id']}", json={"name": "Zhang Wei"}, headers=api.admin
    ).json()
    assert patched["name"] == "Zhang Wei" and patched["external_id"] == "E-crud"
    cleared = c.patch(
        f"/api/v1/people/{person['id']}", json={"external_id": None}, headers=api.admin
    ).json()
    assert cleared["external_id"] is None and cleared["name"] == "Zhang Wei"

    gone = c.delete(f"/api/v1/people/{person['id']}", headers=api.admin)
    assert gone.json() == {"deleted": person["id"], "templates_erased": 0}
    missing = c.get(f"/api/v1/people/{person['id']}", headers=api.admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_person"


def test_list_searches_and_pages(api: Api):
    for i in range(3):
        api.create_person(f"Listed Person {i}", external_id=f"LP-{i}")
    c = api.client
    found = c.get("/api/v1/people", params={"q": "listed person"}, headers=api.admin).json()
    assert found["total"] == 3
    assert [p["name"] for p in found["people"]] == [f"Listed Person {i}" for i in range(3)]
    by_id = c.get("/api/v1/people", params={"q": "LP-2"}, headers=api.admin).json()
    assert [p["external_id"] for p in by_id["people"]] == ["LP-2"]
    page = c.get(
        "/api/v1/people", params={"q": "listed", "limit": 2, "offset": 2}, headers=api.admin
    ).json()
    assert page["total"] == 3 and [p["name"] for p in page["people"]] == ["Listed Person 2"]


def test_duplicate_external_id_is_a_conflict(api: Api):
    api.create_person("First", external_id="DUP-1")
    r = api.client.post(
        "/api/v1/people", json={"name": "Second", "external_id": "DUP-1"}, headers=api.admin
    )
    assert r.status_code == 409
    assert r.json() == {
        "error": {"code": "conflict", "message": "external id 'DUP-1' is already in use"}
    }


def test_invalid_bodies_answer_422_in_the_one_error_shape(api: Api):
    c = api.client
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": "a\x00b"}):
        r = c.post("/api/v1/people", json=body, headers=api.admin)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "invalid_request"
    r = c.post("/api/v1/people", json={"name": "ok", "metadata": {"k": "\x00"}}, headers=api.admin)
    assert r.status_code == 422
    r = c.get("/api/v1/people/0", headers=api.admin)
    assert r.status_code == 422
    r = c.get(f"/api/v1/people/{2**70}", headers=api.admin)
    assert r.status_code == 422
    r = c.post(
        "/api/v1/people",
        content=b"{not json",
        headers={**api.admin, "content-type": "application/json"},
    )
    # malformed JSON is a bad request (as for the image routes), checked before validation
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


def test_keys_and_scopes(api: Api):
    c = api.client
    no_key = c.get("/api/v1/people")
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "unauthorized"
    wrong = c.get("/api/v1/people", headers={"X-API-Key": "fg_not-a-real-key"})
    assert wrong.status_code == 401
    # a recognize key may not manage people
    forbidden = c.get("/api/v1/people", headers=api.recognize)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    # Authorization: Bearer works as well as X-API-Key
    bearer = {"Authorization": "Bearer " + api.admin["X-API-Key"]}
    assert c.get("/api/v1/people", headers=bearer).status_code == 200


def test_revoked_key_is_refused_at_once(api: Api):
    keys = api.app.state.keys
    key, secret = keys.create("admin", "short-lived")
    assert api.client.get("/api/v1/people", headers={"X-API-Key": secret}).status_code == 200
    keys.revoke(key.id)
    r = api.client.get("/api/v1/people", headers={"X-API-Key": secret})
    assert r.status_code == 401
    assert key.prefix in [k.prefix for k in keys.list() if k.revoked_at is not None]


def test_delete_one_face_is_decided_by_the_store(api: Api, people_dir: Path):
    """DELETE /people/{p}/faces/{t}: 204 and gone (row, thumbnail, index); the same again,
    another person's template or an unknown person answer 404 in one decision by the store
    (no check-then-act in the route, nothing else touched)."""
    c = api.client
    owner = api.create_person("Face Owner")
    other = api.create_person("Someone Else")
    folder = people_dir / "Barack_Obama"
    report = api.enrol(owner["id"], folder / "fr_obama.jpg", folder / "fr_obama1.jpg")
    assert report["accepted"] == 2, report
    faces = c.get(f"/api/v1/people/{owner['id']}", headers=api.admin).json()["faces"]
    gone, kept = faces[0]["template_id"], faces[1]["template_id"]
    store = api.app.state.services.gallery.store

    def rows(template_id: int) -> int:
        with store.db.read() as tx:
            return len(tx.execute("SELECT id FROM templates WHERE id = ?", (template_id,)))

    r = c.delete(f"/api/v1/people/{owner['id']}/faces/{gone}", headers=api.admin)
    assert r.status_code == 204, r.text
    assert rows(gone) == 0 and rows(kept) == 1
    assert c.get(f"/api/v1/faces/{gone}/thumbnail", headers=api.admin).status_code == 404
    left = c.get(f"/api/v1/people/{owner['id']}", headers=api.admin).json()["faces"]
    assert [f["template_id"] for f in left] == [kept]

    again = c.delete(f"/api/v1/people/{owner['id']}/faces/{gone}", headers=api.admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "unknown_template"
    wrong = c.delete(f"/api/v1/people/{other['id']}/faces/{kept}", headers=api.admin)
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "unknown_template"
    assert rows(kept) == 1  # another person's template is never touched
    nobody = c.delete(f"/api/v1/people/{10**9}/faces/{kept}", headers=api.admin)
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "unknown_person"
    assert rows(kept) == 1


def test_deleting_a_person_erases_thumbnails_and_snapshots(api: Api, people_dir: Path):
    """After DELETE /people/{id}: no template row (embedding, thumbnail), no attendance or
    door event with a snapshot of them, read from the tables themselves; on SQLite the bytes
    are not in the database files either (nor the WAL)."""
    from datetime import UTC, datetime

    from facegate.attendance.store import NewEvent

    person = api.create_person("To Be Forgotten")
    pid = person["id"]
    api.enrol(pid, people_dir / "Barack_Obama" / "fr_obama2.jpg")
    db = api.app.state.services.gallery.store.db
    marker = b"\xff\xd8snapshot-of-person-%d\xff\xd9" % pid
    store = api.app.state.attendance_hook.attendance.store
    recorded = store.record(
        NewEvent("confirmed", "erase-cam", "in", datetime.now(UTC), 0.9, pid, snapshot=marker)
    )
    assert recorded.event is not None
    with db.write() as tx:
        tx.execute(
            "INSERT INTO access_events (at, door, camera, direction, person_id, decision, "
            "reason, snapshot) VALUES (?, 'erase-door', 'erase-cam', 'in', ?, 'granted', "
            "'allowed', ?)",
            (db.to_db_time(datetime.now(UTC)), pid, marker + b"door"),
        )

    tables = ("templates", "attendance_events", "access_events")

    def counts() -> dict[str, tuple[int, int]]:
        """Per table: rows of the person, and rows holding bytes (thumbnail/snapshot)."""
        out = {}
        with db.read() as tx:
            for table in tables:
                column = "thumbnail" if table == "templates" else "snapshot"
                rows = tx.execute(f"SELECT {column} FROM {table} WHERE person_id = ?", (pid,))
                out[table] = (len(rows), sum(r[0] is not None for r in rows))
        return out

    assert counts() == {t: (1, 1) for t in tables}  # all three were really written
    sqlite_files = list(api.settings.storage.data_dir.glob("facegate.db*"))
    if api.settings.storage.database_url is None:
        assert marker in b"".join(p.read_bytes() for p in sqlite_files)

    r = api.client.delete(f"/api/v1/people/{pid}", headers=api.admin)
    assert r.status_code == 200, r.text
    assert counts() == {t: (0, 0) for t in tables}
    if api.settings.storage.database_url is None:
        raw = b"".join(p.read_bytes() for p in api.settings.storage.data_dir.glob("facegate.db*"))
        assert marker not in raw
