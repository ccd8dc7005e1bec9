"""Enrol, identify, verify and detect through HTTP with real models and dev photos, on SQLite
and PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.api.conftest import Api, b64
from tests.api.helpers import exif_rotated_jpeg, faceless_png, jpeg_size


@pytest.fixture(scope="module")
def enrolled(api: Api, people_dir: Path) -> dict[str, int]:
    """Obama (multipart upload) and Kit Harington (JSON base64), two photos each."""
    obama = api.create_person("Barack Obama", external_id="rec-obama")
    api.enrol(
        obama["id"], *(people_dir / "Barack_Obama" / n for n in ("fr_obama.jpg", "fr_obama1.jpg"))
    )
    kit = api.create_person("Kit Harington", external_id="rec-kit")
    photos = [people_dir / "Kit_Harington" / n for n in ("fr_john1.jpeg", "fr_john2.jpeg")]
    r = api.client.post(
        f"/api/v1/people/{kit['id']}/faces",
        json={"images": [b64(p) for p in photos]},
        headers=api.admin,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    return {"obama": obama["id"], "kit": kit["id"]}


def names(result: dict[str, Any]) -> list[str | None]:
    return [f["person"]["name"] if f["person"] else None for f in result["faces"]]


def test_enrol_reports_every_photo(api: Api, people_dir: Path):
    person = api.create_person("Rose Leslie")
    photo = people_dir / "Rose_Leslie" / "fr_img1.jpg"
    files = [
        ("images", ("a.jpg", photo.read_bytes(), "image/jpeg")),
        ("images", ("again.jpg", photo.read_bytes(), "image/jpeg")),
        ("images", ("sky.png", faceless_png(), "image/png")),
        ("images", ("notes.txt", b"this is not an image", "text/plain")),
    ]
    r = api.client.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=api.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["outcome"] for i in body["images"]] == [
        "accepted",
        "duplicate",
        "no_face",
        "bad_image",
    ]
    assert [i["image"] for i in body["images"]] == ["a.jpg", "again.jpg", "sky.png", "notes.txt"]
    assert body["accepted"] == 1 and body["person"]["templates"] == 1
    detail = api.client.get(f"/api/v1/people/{person['id']}", headers=api.admin).json()
    thumb = api.client.get(detail["faces"][0]["thumbnail_url"], headers=api.admin)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # thumbnails are personal data: a recognize key cannot fetch them
    assert (
        api.client.get(detail["faces"][0]["thumbnail_url"], headers=api.recognize).status_code
        == 403
    )


def test_enrol_unknown_person_and_empty_request(api: Api, people_dir: Path):
    photo = people_dir / "Rose_Leslie" / "fr_img2.jpg"
    files = [("images", (photo.name, photo.read_bytes(), "image/jpeg"))]
    r = api.client.post("/api/v1/people/999999/faces", files=files, headers=api.admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_person"
    person = api.create_person("Nobody Yet")
    r = api.client.post(
        f"/api/v1/people/{person['id']}/faces", json={"images": []}, headers=api.admin
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


def test_identify_names_known_faces_and_flags_strangers(api: Api, enrolled, faces_dir: Path):
    probe = api.identify(faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg")
    assert probe.status_code == 200, probe.text
    body = probe.json()
    assert names(body) == ["Barack Obama"]
    face = body["faces"][0]
    assert face["person"]["id"] == enrolled["obama"]
    assert face["similarity"] >= body["threshold"]
    # the evidence: the score, its lead over the runner-up and the threshold in use
    assert face["threshold"] == body["threshold"] and 0 < face["margin"] <= face["similarity"]
    # candidates name enrolled people who are not in the photo: administrators only
    assert face["candidates"] is None
    photo = faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg"
    files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    as_admin = api.client.post("/api/v1/identify", files=files, headers=api.admin).json()
    assert as_admin["faces"][0]["candidates"][0]["id"] == enrolled["obama"]
    assert len(face["landmarks"]) == 5 and len(face["box"]) == 4
    assert set(face["quality"]) >= {"ok", "face_px", "sharpness"}
    # Obama and Biden: one known, one stranger (null person, still a similarity)
    pair = api.identify(faces_dir / "groups" / "fr_two_people.jpg").json()
    assert sorted(names(pair), key=str) == ["Barack Obama", None]
    kit = api.identify(faces_dir / "people" / "Kit_Harington" / "fr_johnsnow_test1.jpg").json()
    assert names(kit) == ["Kit Harington"]


def test_identify_annotate_answers_the_image_with_boxes(api: Api, enrolled, faces_dir: Path):
    photo = faces_dir / "groups" / "fr_two_people.jpg"
    r = api.identify(photo, annotate="true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert jpeg_size(r.content) == Image.open(photo).size
    as_json = api.identify(photo, annotate="true", format="json").json()
    assert sorted(names(as_json), key=str) == ["Barack Obama", None]
    assert jpeg_size(base64.b64decode(as_json["annotated_image"])) == Image.open(photo).size
    plain = api.identify(photo).json()
    assert plain["annotated_image"] is None


def test_exif_orientation_is_applied(api: Api, enrolled, faces_dir: Path):
    photo = faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg"
    upright = api.identify(photo).json()["faces"][0]
    rotated = api.client.post(
        "/api/v1/identify",
        files={"image": ("phone.jpg", exif_rotated_jpeg(photo), "image/jpeg")},
        headers=api.recognize,
    ).json()
    assert names(rotated) == ["Barack Obama"]
    # the box is in the upright image's coordinates
    for a, b in zip(rotated["faces"][0]["box"], upright["box"], strict=True):
        assert abs(a - b) < 12


def test_verify_two_photos_and_against_a_person(api: Api, enrolled, faces_dir: Path):
    obama2 = faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg"
    obama3 = faces_dir / "people" / "Barack_Obama" / "fr_obama3.jpg"
    kit = faces_dir / "people" / "Kit_Harington" / "fr_johnsnow_test1.jpg"
    c, h = api.client, api.recognize
    same = c.post("/api/v1/verify", json={"image": b64(obama2), "image_b": b64(obama3)}, headers=h)
    assert same.status_code == 200 and same.json()["same_person"] is True
    other = c.post("/api/v1/verify", json={"image": b64(obama2), "image_b": b64(kit)}, headers=h)
    assert other.json()["same_person"] is False
    files = {"image": ("k.jpg", kit.read_bytes(), "image/jpeg")}
    as_kit = c.post(
        "/api/v1/verify", files=files, data={"person_id": str(enrolled["kit"])}, headers=h
    )
    assert as_kit.status_code == 200 and as_kit.json()["same_person"] is True
    as_obama = c.post(
        "/api/v1/verify", files=files, data={"person_id": str(enrolled["obama"])}, headers=h
    )
    assert as_obama.json()["same_person"] is False
    both = c.post(
        "/api/v1/verify",
        json={"image": b64(kit), "image_b": b64(kit), "person_id": enrolled["kit"]},
        headers=h,
    )
    assert both.status_code == 422
    nobody = c.post("/api/v1/verify", json={"image": b64(kit), "person_id": 987654}, headers=h)
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "unknown_person"
    blank = c.post(
        "/api/v1/verify",
        json={"image": base64.b64encode(faceless_png()).decode(), "image_b": b64(kit)},
        headers=h,
    )
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "no_face"


def test_detect_finds_every_face(api: Api, faces_dir: Path):
    photo = faces_dir / "groups" / "fr_two_people.jpg"
    r = api.client.post(
        "/api/v1/detect", files={"image": (photo.name, photo.read_bytes())}, headers=api.recognize
    )
    assert r.status_code == 200
    faces = r.json()["faces"]
    assert len(faces) == 2 and all(len(f["landmarks"]) == 5 for f in faces)
    blank = api.client.post(
        "/api/v1/detect",
        json={"image": base64.b64encode(faceless_png()).decode()},
        headers=api.recognize,
    )
    assert blank.status_code == 200 and blank.json()["faces"] == []


def test_bad_inputs_map_to_statuses(api: Api):
    c, h = api.client, api.recognize
    cases: list[tuple[dict[str, Any], int, str]] = [
        (dict(json={}), 422, "invalid_input"),
        (dict(json={"image": "%%% not base64 %%%"}), 400, "bad_image"),
        (dict(json={"image": base64.b64encode(b"not an image").decode()}), 400, "bad_image"),
        (dict(files={"image": ("x.bin", b"\x00\x01garbage")}), 400, "bad_image"),
        (
            dict(content=b"raw", headers={**h, "content-type": "image/jpeg"}),
            415,
            "unsupported_media_type",
        ),
        (dict(json=[1, 2]), 422, "invalid_input"),
    ]
    for kwargs, status, code in cases:
        kwargs.setdefault("headers", h)
        r = c.post("/api/v1/identify", **kwargs)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), kwargs


def test_seed_002_detect_endpoint(api: Api, enrolled, faces_dir: Path):
    c, h = api.client, api.recognize

    def detect(body: object) -> dict[str, Any]:
        r = c.post("/face/image/detect", json=body, headers=h)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    found = detect({"img": b64(faces_dir / "people" / "Barack_Obama" / "fr_obama3.jpg")})
    assert (found["code"], found["name"]) == (200, "Barack Obama")
    agassi = sorted((faces_dir / "people" / "Andre_Agassi").iterdir())[0]
    stranger = detect({"img": b64(agassi)})
    assert stranger["code"] == 201 and stranger["name"] is None
    assert detect({})["code"] == 202
    assert detect({"img": ""})["code"] == 202
    assert detect({"img": base64.b64encode(faceless_png()).decode()})["code"] == 203
    assert detect({"img": "@@not-base64@@"})["code"] == 203
    # seed-002 clients sent no key: refused unless api_compat_open is set
    assert c.post("/face/image/detect", json={}).status_code == 401


def test_gallery_status_shows_the_operating_point(api: Api, enrolled, faces_dir: Path):
    status = api.client.get("/api/v1/gallery/status", headers=api.recognize)
    assert status.status_code == 200, status.text
    body = status.json()
    people = api.client.get("/api/v1/people", params={"limit": 500}, headers=api.admin).json()
    assert body["people"] == sum(p["templates"] > 0 for p in people["people"])
    assert body["source"] == "calibrated" and body["target_fpir"] == 0.01
    assert body["model"] == "sface-2021dec"
    assert set(body["populations"]) == {"lfw-and-others", "east-asian"}
    # identify decides with the same threshold the status shows
    probe = api.identify(faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg").json()
    assert probe["threshold"] == body["threshold"]
    # one more person enrolled: the gallery is larger, the threshold at least as strict
    extra = api.create_person("Status Probe")
    api.enrol(extra["id"], faces_dir / "people" / "Rose_Leslie" / "fr_img1.jpg")
    after = api.client.get("/api/v1/gallery/status", headers=api.recognize).json()
    assert after["people"] == body["people"] + 1 and after["threshold"] >= body["threshold"]
    assert api.client.get("/api/v1/gallery/status").status_code == 401
