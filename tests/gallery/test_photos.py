"""Enrolment photos kept encrypted (off by default), erased with the person, and
``facegate reembed`` rebuilding a gallery from them, with the real engine, on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.errors import InvalidInput, ModelMismatch
from facegate.gallery import Gallery
from facegate.gallery.db import SqliteDatabase
from facegate.gallery.photo_rows import kept_photos
from facegate.photos import PhotoVault, load_key, write_key
from facegate.recognition import RecognitionService
from facegate.reembed import reembed
from tests.gallery.test_recognition import photos


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "photos.key"
    write_key(path)
    return path


def keeping(settings: Settings, key_file: Path) -> Settings:
    return settings.replace(photos_keep=True, photos_key_file=key_file)


def test_key_files_are_checked(tmp_path: Path, key_file: Path) -> None:
    assert len(load_key(key_file)) == 32 and key_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidInput, match="never overwritten"):
        write_key(key_file)
    key_file.chmod(0o644)
    with pytest.raises(InvalidInput, match="chmod 600"):
        load_key(key_file)
    short = tmp_path / "short.key"
    short.write_text("abcd")
    short.chmod(0o600)
    with pytest.raises(InvalidInput, match="64 hex"):
        load_key(short)
    with pytest.raises(InvalidInput, match="photos_key_file is not set"):
        PhotoVault.from_settings(Settings(data_dir=tmp_path, photos_keep=True))
    assert PhotoVault.from_settings(Settings(data_dir=tmp_path)) is None  # off by default


def test_photos_are_kept_encrypted_and_erased_with_the_person(
    settings: Settings, key_file: Path, engine: FaceEngine, faces_dir: Path
) -> None:
    shots = photos(faces_dir, "Barack_Obama", "fr_obama.jpg", "fr_obama1.jpg")
    with Gallery(keeping(settings, key_file), background=False) as gallery:
        service = RecognitionService(engine, gallery)
        person, reports, _ = service.enrol_new("Obama", shots)
        assert person is not None and all(r.accepted for r in reports)
        kept = kept_photos(gallery.store.db)
        assert len(kept) == 2
        vault = PhotoVault(load_key(key_file))
        assert {vault.open(k.sealed) for k in kept} == {data for _, data in shots}
        assert all(shots[0][1][:4096] not in k.sealed.ciphertext for k in kept)
        other = PhotoVault(bytes(32))
        with pytest.raises(InvalidInput, match="another key"):
            other.open(kept[0].sealed)

        gallery.delete_person(person.id)
        assert kept_photos(gallery.store.db) == []
        db = gallery.store.db
        if isinstance(db, SqliteDatabase):
            # Not in the database file or its WAL: secure_delete and the checkpoint erased it.
            on_disk = b"".join(
                p.read_bytes() for p in db.path.parent.glob(db.path.name + "*") if p.is_file()
            )
            for k in kept:
                assert k.sealed.ciphertext[:64] not in on_disk
        else:
            with db.read() as tx:
                assert tx.execute("SELECT COUNT(*) FROM enrolment_photos")[0][0] == 0


def test_reembed_rebuilds_the_gallery_from_the_kept_photos(
    settings: Settings, key_file: Path, engine: FaceEngine, faces_dir: Path
) -> None:
    with Gallery(keeping(settings, key_file), background=False) as gallery:
        service = RecognitionService(engine, gallery)
        obama, _, _ = service.enrol_new(
            "Obama", photos(faces_dir, "Barack_Obama", "fr_obama.jpg", "fr_obama1.jpg")
        )
        gul, _, _ = service.enrol_new(
            "Gul", photos(faces_dir, "Abdullah_Gul", "Abdullah_Gul_0001.jpg")
        )
        assert obama is not None and gul is not None
        before = {t.id: t.embedding for t in gallery.list_templates(obama.id)}
        # Pretend the gallery was built by an older recogniser: other vectors, other pin.
        rng = np.random.default_rng(1)
        every = [*before, *(t.id for t in gallery.list_templates(gul.id))]
        with gallery.store.db.write() as tx:
            for template_id in every:
                vector = rng.standard_normal(64).astype("<f4")
                tx.execute(
                    "UPDATE templates SET embedding = ?, model_id = 'old-model' WHERE id = ?",
                    ((vector / np.linalg.norm(vector)).tobytes(), template_id),
                )
            tx.execute("UPDATE gallery_meta SET model_id = 'old-model', model_sha256 = 'aa'")
        worker = Gallery(settings, background=False)  # another process's index
        try:
            with pytest.raises(ModelMismatch):
                RecognitionService(engine, worker).identify(
                    faces_dir / "people/Barack_Obama/fr_obama2.jpg"
                )
            report = reembed(engine, gallery, PhotoVault(load_key(key_file)))
            assert (report.templates, report.people, report.previous_model_id) == (
                3,
                2,
                "old-model",
            )
            assert gallery.store.model_pin().model_id == engine.model_id
            after = {t.id: t.embedding for t in gallery.list_templates(obama.id)}
            assert after.keys() == before.keys()
            for template_id, vector in before.items():
                assert np.allclose(after[template_id], vector, atol=1e-4)
            worker.sync()  # the log was restarted: the worker rebuilds
            found = RecognitionService(engine, worker).identify(
                faces_dir / "people/Barack_Obama/fr_obama2.jpg"
            )
            assert found[0].match.person is not None and found[0].match.person.id == obama.id
        finally:
            worker.close()


@pytest.mark.slow
def test_reembed_refuses_when_photos_were_not_kept_and_says_who(
    tmp_path: Path, key_file: Path, faces_dir: Path
) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "site")]
    photo = faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg"
    assert runner.invoke(app, ["enrol", "--name", "Obama", str(photo), *data]).exit_code == 0
    env = {"FACEGATE_PHOTOS_KEY_FILE": str(key_file)}
    refused = runner.invoke(app, ["reembed", "--yes", *data], env=env)
    assert refused.exit_code == 2
    assert "Obama (id 1, 1 face(s))" in refused.output
    kept = {**env, "FACEGATE_PHOTOS_KEEP": "1"}
    gul = faces_dir / "people" / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg"
    assert runner.invoke(app, ["enrol", "--name", "Gul", str(gul), *data], env=kept).exit_code == 0
    assert runner.invoke(app, ["people", "delete", "1", "--yes", *data]).exit_code == 0
    done = runner.invoke(app, ["reembed", "--yes", *data], env=env)
    assert done.exit_code == 0, done.output
    assert "rebuilt 1 template(s) of 1 people" in done.output
