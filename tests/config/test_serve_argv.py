"""Secrets on ``facegate serve``'s command line work but warn, without being echoed; a bad
config file stops serve with one line naming the file, section and key."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.serving import FACEGATE, free_port


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")}
    return subprocess.run(
        [str(FACEGATE), "serve", *args], capture_output=True, text=True, timeout=120, env=clean
    )


def test_a_password_on_the_command_line_is_warned_about_and_never_shown(tmp_path: Path):
    port = free_port()
    with socket.socket() as holder:  # a taken port: serve stops right after its checks
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = serve(
            "--port", str(port), "--data-dir", str(tmp_path), "--stream-port", "0",
            "--database-url", "postgresql://fg:Argv-Pw-4711@127.0.0.1:9/facegate",
        )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "--database-url holds a password" in done.stderr
    assert "FACEGATE_DATABASE_URL_FILE" in done.stderr
    assert "Argv-Pw-4711" not in done.stderr + done.stdout


def test_serve_refuses_a_bad_config_file_naming_file_section_and_key(tmp_path: Path):
    config = tmp_path / "facegate.toml"
    config.write_text("[server]\nport = 8000\n[strem]\nport = 1\n")
    done = serve("--config", str(config), "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert f"{config}: strem: unknown setting" in done.stderr
    assert "Traceback" not in done.stderr
