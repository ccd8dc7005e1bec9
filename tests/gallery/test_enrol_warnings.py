"""The enrolment warnings (same name, a face that matches someone else, a photo unlike the
person's other faces) and that a failed enrolment never leaves a person without a face, with
the real engine and photos, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.gallery import Gallery
from facegate.recognition import RecognitionService
from tests.gallery.test_recognition import jpeg, photos


@pytest.fixture
def service(settings: Settings, engine: FaceEngine) -> Iterator[RecognitionService]:
    with Gallery(settings) as gallery:
        yield RecognitionService(engine, gallery)


def test_a_second_person_of_the_same_name_is_warned_about(service, faces_dir):
    first, _, none = service.enrol_new(
        "Barack Obama", photos(faces_dir, "Barack_Obama", "fr_obama.jpg")
    )
    assert first is not None and none == []
    gul = photos(faces_dir, "Abdullah_Gul", "Abdullah_Gul_0001.jpg")
    second, reports, warnings = service.enrol_new("barack obama", gul)
    assert second is not None and reports[0].accepted
    assert [w.code for w in warnings] == ["same_name"]
    assert warnings[0].person_id == first.id and warnings[0].others == (first.id,)


def test_a_face_that_matches_another_person_is_warned_about_or_refused(service, faces_dir):
    obama, _, _ = service.enrol_new("Obama", photos(faces_dir, "Barack_Obama", "fr_obama.jpg"))
    assert obama is not None
    again = photos(faces_dir, "Barack_Obama", "fr_obama2.jpg")
    person, reports, _ = service.enrol_new("Somebody", again)
    assert person is not None and reports[0].accepted
    warning = next(w for w in reports[0].warnings if w.code == "matches_other")
    assert warning.person_id == obama.id and warning.person_name == "Obama"
    assert warning.score is not None and warning.threshold is not None
    assert warning.score >= warning.threshold
    service.gallery.delete_person(person.id)

    refused, reports, _ = service.enrol_new("Somebody", again, refuse_matches=True)
    assert refused is None
    assert reports[0].outcome == "matches_other"
    assert str(obama.id) in reports[0].reasons[0]
    assert service.gallery.list_people().total == 1


def test_a_photo_unlike_the_persons_faces_is_warned_about(service, faces_dir):
    names = ("Abdullah_Gul_0001.jpg", "Abdullah_Gul_0002.jpg")
    gul, reports, _ = service.enrol_new("Gul", photos(faces_dir, "Abdullah_Gul", *names))
    assert gul is not None
    assert all(r.accepted and not r.warnings for r in reports)  # two photos of one man
    other = service.enrol(gul.id, photos(faces_dir, "Barack_Obama", "fr_obama.jpg"))
    warning = next(w for w in other[0].warnings if w.code == "unlike_person")
    assert warning.score is not None and warning.threshold is not None
    assert warning.score < warning.threshold
    # Within one request too: the second photo is compared with the first.
    mixed = [
        *photos(faces_dir, "Barack_Obama", "fr_obama1.jpg"),
        *photos(faces_dir, "Abdullah_Gul", "Abdullah_Gul_0003.jpg"),
    ]
    _, reports, _ = service.enrol_new("Mixed", mixed)
    assert [w.code for w in reports[1].warnings if w.code == "unlike_person"] == ["unlike_person"]


def test_a_failed_enrolment_creates_nobody(service):
    blank = jpeg(np.full((240, 320, 3), 127, np.uint8))
    person, reports, _ = service.enrol_new("Nobody", [("blank.jpg", blank), ("x.txt", b"text")])
    assert person is None
    assert [r.outcome for r in reports] == ["no_face", "bad_image"]
    assert service.gallery.list_people().total == 0


@pytest.mark.slow
def test_cli_enrol_of_a_missing_file_creates_nobody(tmp_path: Path, faces_dir: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    missing = runner.invoke(app, ["enrol", "--name", "X", str(tmp_path / "missing.jpg"), *data])
    assert missing.exit_code == 2, missing.output
    assert "nobody created" in missing.output and "cannot read the file" in missing.output
    listed = runner.invoke(app, ["people", "list", *data])
    assert "0 of 0 shown" in listed.output
    photo = faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg"
    first = runner.invoke(app, ["enrol", "--name", "Obama", str(photo), *data])
    assert first.exit_code == 0, first.output
    other = faces_dir / "people" / "Barack_Obama" / "fr_obama2.jpg"
    warned = runner.invoke(app, ["enrol", "--name", "Y", str(other), *data])
    assert warned.exit_code == 0 and "warning (matches_other)" in warned.output
    assert "Obama (id 1)" in warned.output
    refused = runner.invoke(
        app, ["enrol", "--name", "Z", str(other), "--refuse-matches", "--json", *data]
    )
    assert refused.exit_code == 2
    assert '"outcome": "matches_other"' in refused.output
