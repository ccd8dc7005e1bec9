"""Running ``facegate serve`` as a real process in tests: keys, ports, start, wait, stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

FACEGATE = Path(sys.executable).parent / "facegate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_key(data: Path, scope: str, database_url: str | None = None) -> str:
    """A new API key of ``scope`` in the gallery database under ``data`` (or at
    ``database_url``)."""
    where = ["--database-url", database_url] if database_url else []
    created = subprocess.run(
        [str(FACEGATE), "keys", "create", "--scope", scope, "--data-dir", str(data), "--json",
         *where],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return str(json.loads(created.stdout)["key"])


def new_key(data: Path, scope: str) -> tuple[int, str]:
    """A new API key of ``scope``: (id, secret)."""
    created = subprocess.run(
        [str(FACEGATE), "keys", "create", "--scope", scope, "--data-dir", str(data), "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    made = json.loads(created.stdout)
    return int(made["id"]), str(made["key"])


def revoke_key(data: Path, key_id: int) -> None:
    """``facegate keys revoke`` as an administrator would run it."""
    subprocess.run(
        [str(FACEGATE), "keys", "revoke", str(key_id), "--data-dir", str(data)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip


def fresh(base: str, timeout: float = 60) -> httpx.Client:
    """A client without keep-alive: each request is a new connection the kernel may hand to
    any of the workers."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base, timeout=timeout, limits=limits)


def enrol(base: str, headers: dict[str, str], name: str, folder: Path) -> int:
    """Create person ``name`` on the running server and enrol every photo in ``folder``;
    the person's id."""
    person = httpx.post(f"{base}/api/v1/people", json={"name": name}, headers=headers)
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in folder.iterdir()]
    faces = f"{base}/api/v1/people/{person.json()['id']}/faces"
    assert httpx.post(faces, files=files, headers=headers, timeout=60).status_code == 200
    return int(person.json()["id"])


class Server:
    """A ``facegate serve`` process started by ``start_server`` (its own process group, so
    tests can signal it: SIGKILL, SIGSTOP/SIGCONT)."""

    def __init__(self, proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
        self.proc, self.base, self.log_path = proc, base, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> str:
        """The base URL once ``/readyz`` answers; fails with the log tail if the server
        exits or is not ready in time."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return self.base
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {self.log()[-2000:]}")
            time.sleep(0.2)

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)  # a paused server must be able to stop
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)


def start_server(
    data: Path,
    port: int,
    *args: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Server:
    """Start ``facegate serve --host HOST --port PORT --data-dir DATA ARGS...`` without
    waiting; FACEGATE_* variables of the test run are not passed on, so only ``env``
    configures the server."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")}
    clean.update(env or {})
    log_path = data / "server.log"
    command = [str(FACEGATE), "serve", "--port", str(port), "--data-dir", str(data)]
    if host != "127.0.0.1":
        command += ["--host", host]
    if not {"--stream-port", "--no-stream", "--config"} & set(args):
        # never the default 8001: another server on this machine may hold it (a --config
        # file given by a test sets [stream] port itself)
        command += ["--stream-port", str(free_port())]
    command += ["--log-level", "warning", *args]
    data.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=clean, start_new_session=True
        )
    return Server(proc, f"http://{host}:{port}", log_path)


@contextmanager
def serving(data: Path, port: int, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``facegate serve --port PORT --data-dir DATA ARGS...`` until the block ends; yields the
    base URL once ``/readyz`` answers. FACEGATE_* variables of the test run are not passed
    on, so only ``env`` configures the server. Fails with the server's log tail if it exits
    or is not ready within two minutes."""
    server = start_server(data, port, *args, env=env)
    try:
        yield server.wait_ready()
    finally:
        server.stop()
