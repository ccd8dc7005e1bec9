"""Review and train from events (``/api/v1/review``), on SQLite and PostgreSQL: recent
recognitions from the attendance log with snapshots, the repeated events of one unknown
track folded into one row, filters, an unknown face's snapshot assigned to a person (enrolled
through the normal enrol path: a matching identification afterwards) and a wrong name
marked. The snapshots are what a stream stores: ``face_snapshot`` crops of real photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from facegate.attendance.store import NewEvent
from facegate.engine.thumbnail import face_snapshot
from tests.api.conftest import Api
from tests.api.helpers import faceless_png


def snapshot_of(api: Api, photo: Path) -> bytes:
    engine = api.app.state.services.engine
    image = engine.load(photo.read_bytes())
    face = engine.main_face(image)
    snap = face_snapshot(image, face.box)
    assert snap is not None
    return snap


def test_review_folds_tracks_assigns_and_marks(api: Api, people_dir: Path):
    store = api.app.state.attendance_hook.attendance.store
    rose = sorted((people_dir / "Rose_Leslie").iterdir())
    stranger = snapshot_of(api, rose[0])
    known = api.create_person("Review Known")
    target = api.create_person("Review Target")
    now = datetime.now(UTC).replace(microsecond=0)
    camera = f"review-cam-{api.settings.storage.database_url is not None}"
    ids = []
    for i in range(4):  # one stranger seen four times on track 7
        new = NewEvent("unknown", camera, "in", now - timedelta(seconds=40 - i), 0.1,
                       track_id=7, snapshot=stranger)  # fmt: skip
        ids.append(store.record(new).event.id)
    blank = NewEvent("unknown", camera, "in", now - timedelta(seconds=5), 0.1, track_id=8,
                     snapshot=faceless_png())  # fmt: skip
    blank_id = store.record(blank).event.id
    named = NewEvent("confirmed", camera, "in", now, 0.8, person_id=known["id"], track_id=9)
    named_id = store.record(named).event.id

    r = api.client.get("/api/v1/review/events", params={"camera": camera}, headers=api.admin)
    assert r.status_code == 200, r.text
    rows = r.json()["events"]
    assert [row["id"] for row in rows] == [named_id, blank_id, ids[-1]]
    assert rows[2]["repeats"] == 3 and rows[2]["snapshot_url"].endswith(f"/{ids[-1]}/snapshot")
    only_unknown = api.client.get(
        "/api/v1/review/events", params={"camera": camera, "unknown": "true"}, headers=api.admin
    ).json()["events"]
    assert [row["id"] for row in only_unknown] == [blank_id, ids[-1]]
    by_person = api.client.get(
        "/api/v1/review/events", params={"person_id": known["id"]}, headers=api.admin
    ).json()["events"]
    assert [row["id"] for row in by_person] == [named_id]
    later = (now + timedelta(hours=1)).astimezone(UTC).isoformat()
    none = api.client.get(
        "/api/v1/review/events", params={"camera": camera, "since": later}, headers=api.admin
    ).json()["events"]
    assert none == []

    # assign the stranger: the snapshot becomes a template of the target
    r = api.client.post(f"/api/v1/review/events/{ids[-1]}/assign",
                        json={"person_id": target["id"]}, headers=api.admin)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["mark"]["verdict"] == "assigned" and r.json()["mark"]["template_id"]
    faces = api.client.get(f"/api/v1/people/{target['id']}", headers=api.admin).json()["faces"]
    assert len(faces) == 1
    found = api.identify(rose[1]).json()["faces"]
    assert found and found[0]["person"] and found[0]["person"]["id"] == target["id"]
    # again: the same snapshot is a duplicate; a faceless one is refused with no_face
    r = api.client.post(f"/api/v1/review/events/{ids[-1]}/assign",
                        json={"person_id": target["id"]}, headers=api.admin)  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = api.client.post(f"/api/v1/review/events/{blank_id}/assign",
                        json={"person_id": target["id"]}, headers=api.admin)  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_face"
    # a named event without a snapshot cannot be assigned; its name can be marked wrong
    r = api.client.post(f"/api/v1/review/events/{named_id}/assign",
                        json={"person_id": target["id"]}, headers=api.admin)  # fmt: skip
    assert r.status_code == 409
    r = api.client.post(f"/api/v1/review/events/{named_id}/wrong-name", headers=api.admin)
    assert r.status_code == 200 and r.json()["mark"]["verdict"] == "wrong_name"
    r = api.client.post(f"/api/v1/review/events/{ids[-1]}/wrong-name", headers=api.admin)
    assert r.status_code == 409  # an unknown face has no name to be wrong
    r = api.client.post("/api/v1/review/events/999999/wrong-name", headers=api.admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    rows = api.client.get(
        "/api/v1/review/events", params={"camera": camera}, headers=api.admin
    ).json()["events"]
    marks = {row["id"]: row["mark"] for row in rows}
    assert marks[named_id]["verdict"] == "wrong_name"
    assert marks[ids[-1]]["person"]["name"] == "Review Target"
    # a device key may not review
    r = api.client.get("/api/v1/review/events", headers=api.recognize)
    assert r.status_code == 403
    # deleting the person erases the marks that name them (cascade)
    api.client.delete(f"/api/v1/people/{target['id']}", headers=api.admin)
    rows = api.client.get(
        "/api/v1/review/events", params={"camera": camera}, headers=api.admin
    ).json()["events"]
    assert {row["id"]: row["mark"] for row in rows}[ids[-1]] is None
