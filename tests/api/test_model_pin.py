"""One rule for matching: only against a gallery built by the same model (``ModelGuard``).

Every path that matches asks the same guard: the HTTP routes, the seed-002 compatibility
route (which used to match regardless) and a TCP stream's pipeline (which used to stop
checking after its first frame even while the gallery was still unpinned, so a gallery
pinned later by another model's enrolment was matched with the wrong embeddings). SQLite and
PostgreSQL; this module's database is its own, so pinning it to another model harms no one.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import numpy as np
import pytest

from facegate.errors import ModelMismatch
from facegate.gallery import ModelGuard, NewTemplate
from facegate.stream.jpeg import encode_jpeg
from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor
from tests.api.conftest import Api
from tests.stream.conftest import video_frames


@pytest.mark.slow
def test_every_matching_path_refuses_a_gallery_pinned_to_another_model_later(
    api: Api, faces_dir: Path, people_dir: Path
) -> None:
    services = api.app.state.services
    gallery = services.gallery
    assert gallery.store.model_pin().model_id is None, "this module's gallery starts empty"
    guard = ModelGuard(gallery.store, services.engine.model_id, services.engine.model_sha256)
    guard.check()
    assert not guard.confirmed  # unpinned: it must keep asking

    # A stream starts while the gallery is unpinned and processes a frame with faces.
    image = video_frames(faces_dir / "videos" / "short_hamilton_clip.mp4", 1)[0]
    processor = FrameProcessor(services.engine, gallery, stream="pin")
    frame = FrameIn(1, time.time(), time.time(), jpeg=encode_jpeg(image))
    assert processor.process(frame, DropCounts()).embedded > 0

    # Another process enrols with another model: the gallery is now pinned to it.
    other = gallery.create_person("Other model's person")
    vector = np.zeros(128, np.float32)
    vector[0] = 1.0
    gallery.add_templates(other.id, [NewTemplate(vector, "other-model", "00" * 32)])

    with pytest.raises(ModelMismatch):
        guard.check()
    processor.reset()  # new tracks: the next frame embeds (and so matches) again
    frame = FrameIn(2, time.time(), time.time(), jpeg=encode_jpeg(image))
    with pytest.raises(ModelMismatch):
        processor.process(frame, DropCounts())

    photo = people_dir / "Barack_Obama" / "fr_obama2.jpg"
    r = api.client.post(
        "/face/image/detect",
        json={"img": base64.b64encode(photo.read_bytes()).decode()},
        headers=api.recognize,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_mismatch", r.text
    r = api.identify(photo)
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_mismatch", r.text
