"""``facegate serve --config FILE`` as a real process: the file's settings reach the server
and every worker (they get the parent's settings, not the environment)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.serving import create_key, free_port, fresh, serving


def site_file(tmp_path: Path, stream_port: int) -> Path:
    path = tmp_path / "facegate.toml"
    path.write_text(
        f"[stream]\nport = {stream_port}\n[match]\nthreshold = 0.4321\n[inference]\nthreads = 1\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_uses_the_files_port_and_threshold_in_every_worker(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    key = create_key(data, "admin")
    stream_port = free_port()
    config = site_file(tmp_path, stream_port)
    with serving(data, free_port(), "--config", str(config), "--workers", "2") as base:
        assert listening(stream_port)  # [stream] port from the file
        pids, thresholds = set(), set()
        # The second worker may still be loading its models when the first answers: ask on
        # fresh connections until both have answered (bounded by a count, not a clock).
        with fresh(base) as client:
            for attempt in range(2000):
                pids.add(client.get("/healthz").json()["pid"])
                status = client.get("/api/v1/gallery/status", headers={"X-API-Key": key})
                assert status.status_code == 200, status.text
                thresholds.add(status.json()["threshold"])
                if len(pids) == 2 and attempt >= 40:
                    break
                if len(pids) < 2:
                    time.sleep(0.1)
    assert len(pids) == 2, pids  # both workers answered ...
    assert thresholds == {0.4321}  # ... and both use the file's threshold


def test_options_override_the_file(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    key = create_key(data, "admin")
    file_port, option_port = free_port(), free_port()
    config = site_file(tmp_path, file_port)
    args = ("--config", str(config), "--stream-port", str(option_port))
    with serving(data, free_port(), *args) as base:
        assert listening(option_port) and not listening(file_port)
        with fresh(base) as client:
            status = client.get("/api/v1/gallery/status", headers={"X-API-Key": key})
            assert status.json()["threshold"] == 0.4321
