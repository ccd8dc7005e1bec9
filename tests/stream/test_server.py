"""End to end over TCP on loopback: real models, real gallery, the dev videos."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from facegate.stream.client import Client, StreamError
from facegate.stream.protocol import Annotated, Result
from tests.stream.conftest import ENROLLED, lockstep, video_frames


def confirmed_names(results: list[Result]) -> set[str]:
    return {f.person.name for r in results for f in r.faces if f.confirmed and f.person is not None}


@pytest.mark.slow
def test_hamilton_clip_names_lin_manuel_miranda(
    make_server, faces_dir, stream_services, monkeypatch
):
    embedded: list[int] = []  # faces embedded and matched per call, counted on the way through
    identify_many = stream_services.gallery.identify_many

    def counting(vectors, *args, **kwargs):
        embedded.append(len(vectors))
        return identify_many(vectors, *args, **kwargs)

    monkeypatch.setattr(stream_services.gallery, "identify_many", counting)
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "short_hamilton_clip.mp4", 90)  # 3 s
    with Client("127.0.0.1", server.port, "key", stream="hamilton") as client:
        results = lockstep(client, frames)
    assert len(results) == len(frames)
    names = confirmed_names(results)
    assert "Lin_Manuel_Miranda" in names
    assert names <= set(ENROLLED)
    last = results[-1]
    assert last.timings_ms.decode > 0
    # the detector's time on detected frames; 0 on frames carried forward (detect_every)
    assert all(r.timings_ms.detect > 0 for r in results[:3])
    assert last.timestamps.received <= last.timestamps.processed <= last.timestamps.sent
    # tracking: far fewer embeddings than faces once tracks are confirmed (embedding every
    # face of every frame, i.e. no tracking, fails this)
    faces = sum(len(r.faces) for r in results)
    assert faces >= len(frames)
    assert 0 < sum(embedded) <= faces // 2, (sum(embedded), faces)


@pytest.mark.slow
def test_royal_opera_house_walkers_are_all_unknown(make_server, faces_dir):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "royal_opera_house_walkers.mp4", 60)
    with Client("127.0.0.1", server.port, "key", stream="opera") as client:
        results = lockstep(client, frames)
    faces = [f for r in results for f in r.faces]
    assert len(faces) > len(frames)  # several passers-by per frame: the test has something to judge
    assert confirmed_names(results) == set()
    assert any(f.confirmed and f.person is None for f in faces)  # strangers, confirmed as such


def test_annotated_jpeg_follows_each_result(make_server, faces_dir):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "short_hamilton_clip.mp4", 4)
    with Client("127.0.0.1", server.port, "key", stream="ann", annotate=True) as client:
        for image in frames:
            fid = client.send_frame(image)
            result = client.receive(timeout=60)
            annotated = client.receive(timeout=60)
            assert isinstance(result, Result) and result.frame_id == fid
            assert isinstance(annotated, Annotated) and annotated.frame_id == fid
            drawn = cv2.imdecode(np.frombuffer(annotated.jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert drawn is not None
            assert drawn.shape == image.shape
            # every frame of this clip shows a face: its box is drawn, so the pixels along the
            # box's top edge differ from the frame's by far more than JPEG noise
            assert result.faces, "the clip's first frames all show a face"
            x, y, w, _ = (int(v) for v in result.faces[0].box)
            top = (slice(max(y - 2, 0), y + 3), slice(max(x, 0), x + w))
            diff = np.abs(drawn.astype(int) - image.astype(int))
            assert float(diff[top].mean()) > 20, "no box drawn around the face"


def test_a_burst_keeps_only_the_newest_frame_and_counts_the_rest(make_server, faces_dir):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 12)
    with Client("127.0.0.1", server.port, "key", stream="burst") as client:
        ids = [client.send_frame(image) for image in frames]  # far faster than processing
        results: list[Result] = []
        while not results or results[-1].frame_id != ids[-1]:
            message = client.receive(timeout=60)
            if isinstance(message, Result):
                results.append(message)
    got = [r.frame_id for r in results]
    assert got == sorted(got)  # in order, never a frame twice
    last = results[-1].drops
    assert last.replaced > 0
    assert len(results) + last.replaced + last.stale == len(frames)


def test_stats_report_each_stream(make_server, faces_dir):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 5)
    with Client("127.0.0.1", server.port, "key", stream="door-1") as client:
        lockstep(client, frames)
        stats = server.stats()
    (stream,) = stats["streams"]
    assert stream["stream"] == "door-1"
    assert stream["frames_processed"] == stream["results_sent"] == 5
    assert stream["stages_ms"]["detect"] > 0
    assert stream["dropped_results"] == 0


class Keys:
    def verify(self, key: str) -> set[str] | None:
        return {"good": {"recognize"}, "readonly": {"read"}}.get(key)


@pytest.mark.parametrize("key", ["wrong", "readonly"])
def test_keys_without_recognize_are_refused(make_server, key):
    server = make_server(Keys())
    with pytest.raises(StreamError) as info:
        Client("127.0.0.1", server.port, key).connect()
    assert info.value.code == "unauthorized"
    with Client("127.0.0.1", server.port, "good") as client:
        assert client.welcome is not None


def test_the_server_refuses_streams_beyond_its_limit(make_server):
    server = make_server(max_clients=1)
    with Client("127.0.0.1", server.port, "k", stream="one"):
        with pytest.raises(StreamError) as info:
            Client("127.0.0.1", server.port, "k", stream="two").connect()
        assert info.value.code == "busy"


def test_stopping_the_server_says_bye_to_connected_clients(stream_services):
    from facegate.stream.client import StreamClosed
    from facegate.stream.server import AllowAll
    from tests.stream.conftest import ServerThread

    server = ServerThread(stream_services, AllowAll())
    client = Client("127.0.0.1", server.port, "k", stream="leaving")
    client.connect()
    server.stop()
    with pytest.raises(StreamClosed, match="BYE"):
        client.receive(timeout=30)
    assert not client.connected


class Recorder:
    """A track observer (what the recognition-event announcer plugs into)."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[tuple[str, int, tuple[int, ...]]] = []
        self.fail = fail

    def factory(self, stream: str):
        def observe(faces, image) -> None:
            self.seen.append((stream, len(faces), image.shape))
            if self.fail:
                raise RuntimeError("observer bug")

        return observe


@pytest.mark.parametrize("fail", [False, True])
def test_an_observer_sees_every_frame_and_cannot_break_it(make_server, faces_dir, fail):
    recorder = Recorder(fail)
    server = make_server(observer_for=recorder.factory)
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 3)
    with Client("127.0.0.1", server.port, "key", stream="watched") as client:
        results = lockstep(client, frames)
    assert [r.frame_id for r in results] == [1, 2, 3]
    assert [(s, shape) for s, _, shape in recorder.seen] == [("watched", frames[0].shape)] * 3
    assert [n for _, n, _ in recorder.seen] == [len(r.faces) for r in results]


@pytest.mark.cluster
def test_a_stream_name_is_live_once_across_servers(make_server, faces_dir):
    """Two servers on one database (two hosts): a second live HELLO with a name in use is
    refused with ERROR name_taken; once the first client leaves, the name is free."""
    first, second = make_server(), make_server()
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 1)
    with Client("127.0.0.1", first.port, "key", stream="gate-7") as client:
        assert [r.frame_id for r in lockstep(client, frames)] == [1]
        for server in (second, first):
            with pytest.raises(StreamError) as info:
                Client("127.0.0.1", server.port, "key", stream="gate-7").connect()
            assert info.value.code == "name_taken"
    deadline = time.monotonic() + 30  # the first session's end is noticed by its server
    while True:
        try:
            with Client("127.0.0.1", second.port, "key", stream="gate-7") as client:
                assert [r.frame_id for r in lockstep(client, frames)] == [1]
            break
        except StreamError as exc:
            assert exc.code == "name_taken" and time.monotonic() < deadline
            time.sleep(0.2)
