"""``facegate serve`` start-up errors a newcomer meets: a taken port is named, with the fix."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.serving import FACEGATE, free_port


@pytest.mark.parametrize("which", ["http", "stream"])
def test_a_taken_port_is_named_with_the_option_that_changes_it(which: str, tmp_path: Path):
    http_port, stream_port = free_port(), free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", http_port if which == "http" else stream_port))
        holder.listen()
        done = subprocess.run(
            [str(FACEGATE), "serve", "--port", str(http_port), "--stream-port", str(stream_port),
             "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 3
    taken = http_port if which == "http" else stream_port
    assert f"port {taken} on 127.0.0.1 is already in use" in done.stderr
    assert ("--port PORT" if which == "http" else "--stream-port PORT") in done.stderr
    assert "Traceback" not in done.stderr
