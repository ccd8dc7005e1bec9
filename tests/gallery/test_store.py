"""The store on SQLite and PostgreSQL: people, templates, pinning, privacy, merge, the log."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.config import Settings
from facegate.errors import Conflict, InvalidInput, ModelMismatch, UnknownPerson
from facegate.gallery import Gallery, NewTemplate
from facegate.gallery.gallery import open_store
from tests.gallery.conftest import MODEL_ID, MODEL_SHA, template, unit_vectors


def test_create_get_update_and_list_people(gallery: Gallery) -> None:
    alice = gallery.create_person("Alice Smith", external_id="E-1", metadata={"dept": "R&D"})
    bob = gallery.create_person("bob jones")
    assert gallery.get_person(alice.id) == alice
    assert alice.metadata == {"dept": "R&D"} and alice.template_count == 0
    assert gallery.get_person(bob.id).external_id is None

    renamed = gallery.rename_person(bob.id, "Bob Jones")
    assert renamed.name == "Bob Jones" and renamed.updated_at >= bob.updated_at
    updated = gallery.update_person(alice.id, metadata={"dept": "Ops"}, external_id="E-9")
    assert (updated.metadata, updated.external_id, updated.name) == (
        {"dept": "Ops"},
        "E-9",
        "Alice Smith",
    )

    for i in range(5):
        gallery.create_person(f"Zed {i:02d}")
    page = gallery.list_people(limit=3, offset=0)
    assert page.total == 7 and [p.name for p in page.items] == [
        "Alice Smith",
        "Bob Jones",
        "Zed 00",
    ]
    assert [p.name for p in gallery.list_people(limit=3, offset=6).items] == ["Zed 04"]
    assert [p.name for p in gallery.list_people("JONES").items] == ["Bob Jones"]
    assert [p.name for p in gallery.list_people("e-9").items] == ["Alice Smith"]  # external id
    assert gallery.list_people("100%").total == 0  # LIKE wildcards are literal
    assert gallery.store.find_by_external_id("E-9") == gallery.get_person(alice.id)


def test_errors_are_domain_errors(gallery: Gallery) -> None:
    gallery.create_person("A", external_id="X")
    with pytest.raises(Conflict):
        gallery.create_person("B", external_id="X")
    other = gallery.create_person("C", external_id="Y")
    with pytest.raises(Conflict):
        gallery.update_person(other.id, external_id="X")
    for call in (
        lambda: gallery.get_person(999),
        lambda: gallery.rename_person(999, "N"),
        lambda: gallery.delete_person(999),
        lambda: gallery.add_templates(999, [template(unit_vectors(1)[0])]),
        lambda: gallery.merge_people(999, other.id),
    ):
        with pytest.raises(UnknownPerson):
            call()
    with pytest.raises(InvalidInput):
        gallery.create_person("   ")
    with pytest.raises(InvalidInput):
        gallery.merge_people(other.id, other.id)
    with pytest.raises(InvalidInput):
        gallery.add_templates(other.id, [template(np.zeros(128, np.float32))])


def test_templates_round_trip_and_duplicate_sources(gallery: Gallery) -> None:
    person = gallery.create_person("P")
    vectors = unit_vectors(3, seed=1)
    added = gallery.add_templates(
        person.id,
        [
            template(vectors[0], "photo-a", quality={"sharpness": 91.5}, thumbnail=b"\xff\xd8jpeg"),
            template(vectors[1], "photo-b"),
            template(vectors[2], "photo-a"),  # same photo twice in one batch
        ],
    )
    assert added[0] is not None and added[1] is not None and added[2] is None
    stored = gallery.list_templates(person.id)
    assert [t.source_sha256 for t in stored] == ["photo-a", "photo-b"]
    np.testing.assert_array_equal(stored[0].embedding, vectors[0])
    assert stored[0].quality == {"sharpness": 91.5} and stored[0].has_thumbnail
    assert (stored[0].model_id, stored[0].model_sha256) == (MODEL_ID, MODEL_SHA)
    assert gallery.store.thumbnail(stored[0].id) == b"\xff\xd8jpeg"
    assert gallery.store.thumbnail(stored[1].id) is None
    assert gallery.store.sources(person.id) == {"photo-a", "photo-b"}
    # Re-running an enrolment skips what is done and adds the rest.
    again = gallery.add_templates(
        person.id, [template(vectors[0], "photo-a"), template(vectors[2], "photo-c")]
    )
    assert again[0] is None and again[1] is not None
    assert gallery.get_person(person.id).template_count == 3
    # Embeddings are stored unit-length whatever the caller passed.
    scaled = gallery.add_templates(person.id, [template(vectors[0] * 3.0)])[0]
    assert scaled is not None and abs(float(np.linalg.norm(scaled.embedding)) - 1.0) < 1e-5


def test_thumbnails_can_be_switched_off(settings: Settings) -> None:
    with Gallery(settings.replace(gallery_store_thumbnails=False)) as gallery:
        person = gallery.create_person("P")
        stored = gallery.add_templates(person.id, [template(unit_vectors(1)[0], thumbnail=b"jpg")])[
            0
        ]
        assert stored is not None and not stored.has_thumbnail
        assert gallery.store.thumbnail(stored.id) is None


def test_gallery_is_pinned_to_one_model(gallery: Gallery) -> None:
    person = gallery.create_person("P")
    assert gallery.store.model_pin().model_id is None
    gallery.add_templates(person.id, [template(unit_vectors(1)[0])])
    assert gallery.store.model_pin().model_id == MODEL_ID
    alien = NewTemplate(unit_vectors(1)[0], "arcface-r100", "cd" * 32)
    with pytest.raises(ModelMismatch, match=r"test-model.*arcface-r100"):
        gallery.add_templates(person.id, [template(unit_vectors(1, 2)[0]), alien])
    same_name_other_hash = NewTemplate(unit_vectors(1)[0], MODEL_ID, "ef" * 32)
    with pytest.raises(ModelMismatch):
        gallery.add_templates(person.id, [same_name_other_hash])
    with pytest.raises(ModelMismatch):
        gallery.store.check_model("arcface-r100", "cd" * 32)
    gallery.store.check_model(MODEL_ID, MODEL_SHA)
    # The refused batch was rolled back whole.
    assert gallery.get_person(person.id).template_count == 1


def test_mixed_models_in_a_first_batch_are_refused(gallery: Gallery) -> None:
    person = gallery.create_person("P")
    batch = [template(unit_vectors(1)[0]), NewTemplate(unit_vectors(1)[0], "other", "00" * 32)]
    with pytest.raises(ModelMismatch):
        gallery.add_templates(person.id, batch)
    assert gallery.store.model_pin().model_id is None


def test_delete_person_erases_templates_and_thumbnails(gallery: Gallery, backend: str) -> None:
    keep = gallery.create_person("Keep")
    gone = gallery.create_person("Gone")
    gallery.add_templates(keep.id, [template(unit_vectors(1, 5)[0])])
    ids = [
        t.id
        for t in gallery.add_templates(
            gone.id,
            [template(v, f"s{i}", thumbnail=b"face") for i, v in enumerate(unit_vectors(3, 6))],
        )
        if t is not None
    ]
    assert gallery.delete_person(gone.id) == 3
    with pytest.raises(UnknownPerson):
        gallery.get_person(gone.id)
    assert set(gallery.index_contents().values()) == {keep.id}
    # Look at the raw rows: nothing of the person is left, not even thumbnails.
    with gallery.store.db.read() as tx:
        marks = ", ".join("?" * len(ids))
        assert tx.execute(f"SELECT COUNT(*) FROM templates WHERE id IN ({marks})", ids)[0][0] == 0
        assert (
            tx.execute("SELECT COUNT(*) FROM templates WHERE person_id = ?", (gone.id,))[0][0] == 0
        )
        assert tx.execute("SELECT COUNT(*) FROM templates WHERE thumbnail IS NOT NULL")[0][0] == 0
    if backend == "sqlite":
        # Not even the bytes survive in the file or its log (secure_delete + checkpoint).
        db_file = gallery.settings.storage.data_dir / "facegate.db"
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob("facegate.db*"))
        assert unit_vectors(3, 6)[1].astype("<f4").tobytes() not in raw
        assert unit_vectors(1, 5)[0].astype("<f4").tobytes() in raw  # the kept person's is


def test_deleting_one_face_leaves_no_trace_in_the_sqlite_file_or_its_wal(
    gallery: Gallery, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("a WAL checkpoint is SQLite's; PostgreSQL needs VACUUM (docs/gallery.md)")
    person = gallery.create_person("Two Faces")
    thumb_gone, thumb_kept = b"\xff\xd8" + b"GONE-FACE" * 40, b"\xff\xd8" + b"KEPT-FACE" * 40
    vectors = unit_vectors(2, 11)
    gone, kept = gallery.add_templates(
        person.id,
        [
            template(vectors[0], "a", thumbnail=thumb_gone),
            template(vectors[1], "b", thumbnail=thumb_kept),
        ],
    )
    assert gone is not None and kept is not None
    files = list(gallery.settings.storage.data_dir.glob("facegate.db*"))
    raw = b"".join(p.read_bytes() for p in files)
    assert thumb_gone in raw  # it was really written (the check below can fail)
    gallery.delete_template(gone.id)
    raw = b"".join(p.read_bytes() for p in gallery.settings.storage.data_dir.glob("facegate.db*"))
    assert thumb_gone not in raw and vectors[0].astype("<f4").tobytes() not in raw
    assert thumb_kept in raw


def test_merge_moves_templates_and_drops_duplicate_photos(gallery: Gallery) -> None:
    a = gallery.create_person("A", external_id="a")
    b = gallery.create_person("B", external_id="b")
    va, vb = unit_vectors(3, 7), unit_vectors(2, 8)
    gallery.add_templates(a.id, [template(va[0], "x"), template(va[1], "y"), template(va[2], None)])
    gallery.add_templates(b.id, [template(vb[0], "x"), template(vb[1], "z")])
    merged = gallery.merge_people(a.id, b.id)
    assert merged.id == b.id and merged.external_id == "b" and merged.template_count == 4
    with pytest.raises(UnknownPerson):
        gallery.get_person(a.id)
    assert sorted(t.source_sha256 or "" for t in gallery.list_templates(b.id)) == [
        "",
        "x",
        "y",
        "z",
    ]
    assert set(gallery.index_contents().values()) == {b.id}
    assert len(gallery.index_contents()) == 4
    assert gallery.identify(va[1]).person == gallery.get_person(b.id)


def test_migrations_apply_once_and_survive_reopening(settings: Settings) -> None:
    store = open_store(settings)
    assert store.migrate() == []  # already applied at open
    person = store.create_person("Persisted")
    store.close()
    reopened = open_store(settings)
    assert reopened.get_person(person.id).name == "Persisted"
    reopened.close()


def test_sqlite_is_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    with store.db.read() as tx:
        assert tx.execute("PRAGMA journal_mode")[0][0] == "wal"
        assert tx.execute("PRAGMA foreign_keys")[0][0] == 1
        assert tx.execute("PRAGMA busy_timeout")[0][0] > 0
    store.close()
    assert (tmp_path / "facegate.db").exists()


def test_change_log_replay_and_pruning(settings: Settings) -> None:
    behind = Gallery(settings, background=False)  # opened now, then left behind
    store = open_store(settings)
    store.keep_revisions = 150
    person = store.create_person("P")
    for i, v in enumerate(unit_vectors(210, 9)):
        store.add_templates(person.id, [template(v, f"s{i}")])
    assert store.revision() == 210
    assert not store.changes_since(10).complete  # pruned: the reader must rebuild
    recent = store.changes_since(200)
    assert recent.complete and [c.revision for c in recent.changes] == list(range(201, 211))
    assert all(c.op == "add" and c.embedding is not None for c in recent.changes)
    # The gallery far behind the pruned log rebuilds on its next catch-up and equals the DB.
    assert behind.revision == 0 and behind.sync() == 210
    snapshot = store.snapshot()
    assert behind.index_contents() == dict.fromkeys(snapshot.template_ids.tolist(), person.id)
    behind.close()
    store.close()
