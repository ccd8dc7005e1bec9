"""``facegate people export`` / ``import`` between two galleries (SQLite and PostgreSQL), and
the commands ``people rename|merge|export|import`` with the real engine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.config import Settings
from facegate.errors import Conflict, ModelMismatch
from facegate.gallery import Gallery
from facegate.gallery.transfer import export_people, import_people, read_export
from tests.gallery.conftest import template, unit_vectors


def test_export_then_import_into_another_gallery(settings: Settings, tmp_path: Path) -> None:
    vectors = unit_vectors(3, seed=5)
    with Gallery(settings, background=False) as source:
        ana, _ = source.create_person_with_templates(
            "Ana",
            [template(vectors[0], "a1", thumbnail=b"jpg-a1"), template(vectors[1], "a2")],
            external_id="E1",
            metadata={"team": "x"},
        )
        source.create_person_with_templates("张伟", [template(vectors[2], "z1")])
        count = export_people(source, tmp_path / "all.fgpeople")
        assert count == 2 and (tmp_path / "all.fgpeople").stat().st_mode & 0o777 == 0o600
        assert export_people(source, tmp_path / "ana.fgpeople", [ana.id]) == 1
    target = Settings(data_dir=tmp_path / "other")  # another site (SQLite)
    with Gallery(target, background=False) as other:
        report = import_people(other, read_export(tmp_path / "all.fgpeople"))
        assert [c["name"] for c in report.created] == ["Ana", "张伟"]
        imported = other.list_people("Ana").items[0]
        assert imported.external_id == "E1" and imported.metadata == {"team": "x"}
        faces = other.list_templates(imported.id)
        assert len(faces) == 2 and other.store.thumbnail(faces[0].id) == b"jpg-a1"
        assert np.allclose(faces[0].embedding, vectors[0], atol=1e-6)
        hit = other.identify(vectors[2])
        assert hit.person is not None and hit.person.name == "张伟"

        document = read_export(tmp_path / "all.fgpeople")
        with pytest.raises(Conflict, match="nothing imported"):
            import_people(other, document)
        assert other.list_people().total == 2
        skipped = import_people(other, document, on_clash="skip")
        assert len(skipped.skipped) == 2 and not skipped.created
        merged = import_people(other, document, on_clash="merge")
        assert [m["faces_added"] for m in merged.merged] == [0, 0]  # same photos already there

        document["model"]["sha256"] = "ff" * 32
        with pytest.raises(ModelMismatch, match="not comparable"):
            import_people(other, document, on_clash="merge")


@pytest.mark.slow
def test_people_commands_with_the_real_engine(tmp_path: Path, faces_dir: Path) -> None:
    runner = CliRunner()
    site = ["--data-dir", str(tmp_path / "a")]
    obama = faces_dir / "people" / "Barack_Obama"
    gul = faces_dir / "people" / "Abdullah_Gul"
    assert (
        runner.invoke(
            app, ["enrol", "--name", "Obama", str(obama / "fr_obama.jpg"), *site]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["enrol", "--name", "O2", str(obama / "fr_obama2.jpg"), *site]).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app, ["enrol", "--name", "Gul", str(gul / "Abdullah_Gul_0001.jpg"), *site]
        ).exit_code
        == 0
    )

    renamed = runner.invoke(app, ["people", "rename", "3", "Obama", *site])
    assert renamed.exit_code == 0 and "warning (same_name)" in renamed.output
    runner.invoke(app, ["people", "rename", "3", "Abdullah Gul", *site])
    merged = runner.invoke(app, ["people", "merge", "2", "1", "--yes", *site])
    assert merged.exit_code == 0 and "2 face(s) now" in merged.output, merged.output
    assert runner.invoke(app, ["people", "merge", "2", "1", "--yes", *site]).exit_code == 2

    out = tmp_path / "people.fgpeople"
    assert runner.invoke(app, ["people", "export", "--out", str(out), *site]).exit_code == 0
    other = ["--data-dir", str(tmp_path / "b")]
    done = runner.invoke(app, ["people", "import", str(out), "--json", *other])
    assert done.exit_code == 0, done.output
    assert sorted(c["name"] for c in json.loads(done.output)["created"]) == [
        "Abdullah Gul",
        "Obama",
    ]
    found = runner.invoke(app, ["identify", str(obama / "fr_obama1.jpg"), *other])
    assert "Obama" in found.output
    again = runner.invoke(app, ["people", "import", str(out), *other])
    assert again.exit_code == 2 and "already exist here" in again.output

    document = json.loads(gzip.decompress(out.read_bytes()))
    document["model"] = {"id": "arcface-r100", "sha256": "ee" * 32}
    (tmp_path / "foreign.fgpeople").write_bytes(gzip.compress(json.dumps(document).encode()))
    foreign = runner.invoke(app, ["people", "import", str(tmp_path / "foreign.fgpeople"), *other])
    assert foreign.exit_code == 2 and "arcface-r100" in foreign.output
