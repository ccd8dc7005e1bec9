"""``facegate stream`` and the frame sources."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.stream.server import AllowAll
from facegate.stream.sources import FrameSource, SourceError, parse_server
from tests.inprocess import served
from tests.stream.conftest import ServerThread


def test_parse_server():
    assert parse_server("10.0.0.5:9000") == ("10.0.0.5", 9000)
    assert parse_server("camera-host") == ("camera-host", 8001)
    assert parse_server("[::1]:8123") == ("::1", 8123)


def test_a_folder_is_paced_and_every_image_is_sent_or_skipped(faces_dir):
    folder = faces_dir / "people" / "Barack_Obama"
    with FrameSource(str(folder), fps=50) as source:
        frames = list(source)
        assert source.kind == "folder"
        assert len(frames) + source.skipped == 4
        assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_a_video_file_runs_at_its_own_rate(faces_dir):
    with FrameSource(str(faces_dir / "videos" / "obama.mp4")) as source:
        assert source.kind == "file" and source.fps == pytest.approx(29.97, abs=0.01)


def test_unknown_sources_are_refused(tmp_path):
    with pytest.raises(SourceError):
        FrameSource(str(tmp_path / "missing.mp4"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_stream_command_waits_for_the_server_then_writes_results(
    stream_services, faces_dir, tmp_path
):
    """The CLI starts before the server exists, retries with backoff, then streams a folder."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for photo in sorted((faces_dir / "people" / "Barack_Obama").iterdir()):
        shutil.copy(photo, folder / photo.name)
    out = tmp_path / "results.jsonl"
    port = _free_port()
    outcome: dict[str, object] = {}

    def run_cli() -> None:
        result = CliRunner().invoke(
            app,
            [
                *("stream", "--source", str(folder), "--server", f"127.0.0.1:{port}"),
                *("--key", "k", "--fps", "4", "--json-out", str(out), "--quiet"),
            ],
        )
        outcome["exit"], outcome["output"] = result.exit_code, result.output

    cli = threading.Thread(target=run_cli)
    cli.start()
    time.sleep(1.0)  # the first attempts find nobody listening
    server = ServerThread(stream_services, AllowAll(), port=port, max_age_s=10.0)
    try:
        cli.join(timeout=120)
    finally:
        server.stop()
    assert outcome["exit"] == 0, outcome["output"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(lines) <= 4
    assert any(
        face["person"] and face["person"]["name"] == "Barack_Obama"
        for line in lines
        for face in line["faces"]
    )
    summary = json.loads(str(outcome["output"]).strip().splitlines()[-1])
    assert summary["results"] == len(lines) and summary["sent"] >= len(lines)
    # while nobody listened it said so, and what to check, instead of printing nothing
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in str(outcome["output"])
    assert "--stream-port" in str(outcome["output"])


def test_pointed_at_an_http_port_it_says_so_and_stops(faces_dir, tmp_path):
    """A real uvicorn HTTP server (what facegate serve's --port runs) answers the binary
    HELLO with ``HTTP/1.1 400``: the CLI names the mistake and exits 2, no traceback, no
    endless retries."""

    async def http_app(scope: dict[str, Any], receive: object, send: object) -> None:
        # no lifespan support (uvicorn goes on without); an HTTP request is never parsed
        assert scope["type"] != "http", "an HTTP request was parsed"

    video = faces_dir / "videos" / "obama.mp4"
    with served(http_app) as base:
        server = base.removeprefix("http://")
        result = CliRunner().invoke(
            app, ["stream", "--source", str(video), "--server", server, "--key", "k"]
        )
    assert result.exit_code == 2, result.output
    assert "answered with HTTP (HTTP/1.1 400" in result.output
    assert "--stream-port" in result.output and "Traceback" not in result.output


def test_bench_tracking_refuses_an_unknown_mode_before_loading_anything(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "tracking", "--faces-dir", str(tmp_path), "--mode", "every_other"]
    )
    assert result.exit_code == 2
    assert "unknown mode 'every_other'" in result.output
    assert "track_cadence_skip" in result.output  # the modes there are, named
