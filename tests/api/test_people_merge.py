"""Rename and merge people over HTTP, with the enrolment warnings, on SQLite and PostgreSQL:
a merge moves faces, attendance, door events and group memberships, and another worker's
index follows."""

from __future__ import annotations

from pathlib import Path

from facegate.gallery import Gallery
from facegate.gallery.db import utcnow
from tests.api.conftest import Api


def test_same_name_is_warned_on_create_and_rename(api: Api) -> None:
    first = api.create_person("Wang Fang")
    assert first["warnings"] == []
    second = api.create_person("wang fang")
    assert [w["code"] for w in second["warnings"]] == ["same_name"]
    assert first["id"] in second["warnings"][0]["person_ids"]
    third = api.create_person("Li Na")
    renamed = api.client.patch(
        f"/api/v1/people/{third['id']}", json={"name": "Wang Fang"}, headers=api.admin
    ).json()
    assert renamed["name"] == "Wang Fang"
    assert set(renamed["warnings"][0]["person_ids"]) == {first["id"], second["id"]}
    for p in (first, second, third):
        api.client.delete(f"/api/v1/people/{p['id']}", headers=api.admin)


def test_merge_moves_everything_and_every_index_follows(api: Api, people_dir: Path) -> None:
    c = api.client
    obama = people_dir / "Barack_Obama"
    a = api.create_person("Obama A")
    b = api.create_person("Obama B")
    api.enrol(a["id"], obama / "fr_obama.jpg")
    enrolled = api.enrol(b["id"], obama / "fr_obama2.jpg")
    warning = enrolled["images"][0]["warnings"][0]
    assert warning["code"] == "matches_other" and warning["person_id"] == a["id"]
    assert warning["score"] >= warning["threshold"]
    refused = c.post(
        f"/api/v1/people/{b['id']}/faces",
        params={"refuse_matches": "true"},
        files=[("images", ("o1.jpg", (obama / "fr_obama1.jpg").read_bytes(), "image/jpeg"))],
        headers=api.admin,
    ).json()
    # fr_obama1 matches A (and B): refused, nothing stored
    assert refused["images"][0]["outcome"] == "matches_other" and refused["accepted"] == 0

    services = api.app.state.services
    db = services.gallery.store.db
    now = db.to_db_time(utcnow())
    with db.write() as tx:
        tx.execute(
            "INSERT INTO attendance_events (person_id, kind, camera, direction, at, score, "
            "created_at) VALUES (?, 'confirmed', 'front', 'in', ?, 0.9, ?)",
            (b["id"], now, now),
        )
        group = tx.execute(
            "INSERT INTO access_groups (name, created_at) VALUES ('merge-staff', ?) RETURNING id",
            (now,),
        )[0][0]
        tx.execute(
            "INSERT INTO access_group_members (group_id, person_id) VALUES (?, ?)",
            (group, b["id"]),
        )
    worker = Gallery(api.settings, background=False)  # another worker process's gallery
    try:
        assert set(worker.index_contents().values()) >= {a["id"], b["id"]}
        assert c.post(
            f"/api/v1/people/{b['id']}/merge", json={"into": b["id"]}, headers=api.admin
        ).status_code in (400, 422)
        assert (
            c.post(
                f"/api/v1/people/{b['id']}/merge", json={"into": 10**9}, headers=api.admin
            ).status_code
            == 404
        )
        assert (
            c.post(
                f"/api/v1/people/{b['id']}/merge", json={"into": a["id"]}, headers=api.recognize
            ).status_code
            == 403
        )
        merged = c.post(
            f"/api/v1/people/{b['id']}/merge", json={"into": a["id"]}, headers=api.admin
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["id"] == a["id"] and merged.json()["templates"] == 2
        assert c.get(f"/api/v1/people/{b['id']}", headers=api.admin).status_code == 404
        worker.sync()
        owners = {pid for pid in worker.index_contents().values()}
        assert a["id"] in owners and b["id"] not in owners
        with db.read() as tx:
            moved = tx.execute(
                "SELECT COUNT(*) FROM attendance_events WHERE person_id = ?", (a["id"],)
            )[0][0]
            member = tx.execute(
                "SELECT person_id FROM access_group_members WHERE group_id = ?", (group,)
            )
        assert moved == 1 and [r[0] for r in member] == [a["id"]]
        found = api.identify(obama / "fr_obama1.jpg").json()["faces"][0]
        assert found["person"]["id"] == a["id"]
    finally:
        worker.close()
        c.delete(f"/api/v1/people/{a['id']}", headers=api.admin)
