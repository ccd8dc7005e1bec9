"""Enrol, identify, verify and delete through the operations layer, with the real engine and
real photos, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.errors import ModelMismatch, UnknownPerson
from facegate.gallery import Gallery, NewTemplate
from facegate.recognition import RecognitionService
from tests.images import read_image


@pytest.fixture
def service(settings: Settings, engine: FaceEngine) -> Iterator[RecognitionService]:
    with Gallery(settings) as gallery:
        yield RecognitionService(engine, gallery)


def photos(faces_dir: Path, person: str, *names: str) -> list[tuple[str, bytes]]:
    folder = faces_dir / "people" / person
    return [(n, (folder / n).read_bytes()) for n in names]


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_enrol_reports_every_photo(service, faces_dir):
    person = service.gallery.create_person("Barack Obama")
    group = (faces_dir / "groups" / "bbt4.jpg").read_bytes()
    blank = jpeg(np.full((240, 320, 3), 127, np.uint8))
    sharp = read_image(faces_dir / "people/Barack_Obama/fr_obama1.jpg")
    blurred = jpeg(cv2.GaussianBlur(sharp, (0, 0), 12))
    images = [
        *photos(faces_dir, "Barack_Obama", "fr_obama.jpg", "fr_obama2.jpg"),
        ("group.jpg", group),
        ("blank.jpg", blank),
        ("notes.txt", b"this is not an image"),
        ("blurred.jpg", blurred),
    ]
    reports = service.enrol(person.id, images)
    outcomes = {r.label: r.outcome for r in reports}
    assert outcomes == {
        "fr_obama.jpg": "accepted",
        "fr_obama2.jpg": "accepted",
        "group.jpg": "several_faces",
        "blank.jpg": "no_face",
        "notes.txt": "bad_image",
        "blurred.jpg": "low_quality",
    }
    blurred_report = next(r for r in reports if r.label == "blurred.jpg")
    assert any(reason.startswith("blurry") for reason in blurred_report.reasons)
    assert len(service.gallery.list_templates(person.id)) == 2
    # the same photo again is a duplicate, not a second template
    again = service.enrol(person.id, photos(faces_dir, "Barack_Obama", "fr_obama.jpg"))
    assert [r.outcome for r in again] == ["duplicate"]
    assert len(service.gallery.list_templates(person.id)) == 2


def test_identify_group_photo_names_both_people(service, faces_dir):
    # fr_two_people.jpg is made of fr_obama3.jpg and fr_biden.jpg: enrol from the others
    obama = service.gallery.create_person("Barack Obama")
    biden = service.gallery.create_person("Joseph Biden")
    service.enrol(obama.id, photos(faces_dir, "Barack_Obama", "fr_obama.jpg", "fr_obama1.jpg"))
    service.enrol(
        biden.id, photos(faces_dir, "Joseph_Biden", "Joseph_Biden_0001.jpg", "fr_biden2.jpg")
    )
    found = service.identify(faces_dir / "groups" / "fr_two_people.jpg")
    left_to_right = sorted(found, key=lambda f: f.face.box.x)
    names = [f.match.person.name if f.match.person else None for f in left_to_right]
    assert names == ["Barack Obama", "Joseph Biden"]
    assert all(f.match.score >= service.threshold for f in found)


def test_stranger_is_unknown_and_verify(service, faces_dir):
    obama = service.gallery.create_person("Barack Obama")
    service.enrol(obama.id, photos(faces_dir, "Barack_Obama", "fr_obama.jpg", "fr_obama1.jpg"))
    stranger = faces_dir / "people" / "Kit_Harington" / "fr_john1.jpeg"
    [result] = service.identify(stranger)
    assert result.match.person is None
    assert result.match.score < service.threshold
    # 1:1 against the enrolled person
    same = service.verify_person(faces_dir / "people/Barack_Obama/fr_obama2.jpg", obama.id)
    other = service.verify_person(stranger, obama.id)
    assert same.same_person and not other.same_person
    # 1:1 between two photos
    pair = service.verify_images(
        faces_dir / "people/Kit_Harington/fr_john1.jpeg",
        faces_dir / "people/Kit_Harington/fr_john2.jpeg",
    )
    assert pair.same_person


def test_delete_erases_and_forgets(service, faces_dir):
    obama = service.gallery.create_person("Barack Obama")
    reports = service.enrol(obama.id, photos(faces_dir, "Barack_Obama", "fr_obama.jpg"))
    template_id = reports[0].template_id
    assert template_id is not None
    assert service.gallery.store.thumbnail(template_id) is not None
    probe = faces_dir / "people/Barack_Obama/fr_obama2.jpg"
    assert service.identify(probe)[0].match.person is not None
    service.gallery.delete_person(obama.id)
    assert service.identify(probe)[0].match.person is None
    assert service.gallery.store.thumbnail(template_id) is None
    with pytest.raises(UnknownPerson):
        service.enrol(obama.id, photos(faces_dir, "Barack_Obama", "fr_obama1.jpg"))


def test_gallery_of_another_model_is_refused(service, faces_dir):
    other = service.gallery.create_person("Someone")
    vector = np.zeros(128, np.float32)
    vector[0] = 1.0
    service.gallery.add_templates(other.id, [NewTemplate(vector, "other-model", "00" * 32)])
    with pytest.raises(ModelMismatch):
        service.identify(faces_dir / "people/Barack_Obama/fr_obama2.jpg")
