"""Real receivers on this machine for the outputs' benchmark and tests: an HTTP server that
records what it gets, a Mosquitto broker from Debian's package on a free port, and an MQTT
subscriber that collects messages.

Loopback only. The broker is ``/usr/sbin/mosquitto`` (``make mosquitto`` installs it); it runs
with its own throwaway configuration and persistence folder, as a child process stopped by
``stop()``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request (method, path, headers, body,
    arrival time). The first ``fail_first`` requests get 500; every answer waits ``delay_s``
    (longer than a client's timeout: a receiver that hangs)."""

    def __init__(
        self, fail_first: int = 0, port: int = 0, delay_s: float = 0.0, status: int = 204
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.status = status
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "at": time.time(),
                        }
                    )
                    n = len(receiver.requests)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(500 if n <= receiver.fail_first else receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _any  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        """Wait until ``n`` requests arrived; AssertionError (with the count) if not."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.requests) >= n, f"{len(self.requests)} of {n} requests arrived"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BrokerUnavailable(RuntimeError):
    """Mosquitto cannot run here; the message says why."""


class Mosquitto:
    """A Mosquitto broker on 127.0.0.1 with persistence (sessions and queued messages
    survive ``stop()``/``start()`` on the same port, as with a real broker restart)."""

    def __init__(self, port: int | None = None, users: dict[str, str] | None = None) -> None:
        if not MOSQUITTO.exists():
            raise BrokerUnavailable(
                f"{MOSQUITTO} not found: run `make mosquitto` (installs Debian's mosquitto)"
            )
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="facegate-mqtt-"))
        self.conf = self.root / "mosquitto.conf"
        self.log = self.root / "mosquitto.log"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.root}/",
        ]
        if users:  # only these may connect
            passwords = self.root / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(
                    [str(MOSQUITTO_PASSWD), "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if os.geteuid() == 0:
            lines.append("user root")  # keep root's access to the temporary folder
        self.conf.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited: {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable("mosquitto did not listen within the timeout")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: it saves its persistence file first
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Subscriber:
    """A paho client subscribed at QoS 1 that collects ``(topic, payload, retain, arrival)``.
    ``session`` names a persistent session (messages published while it was disconnected are
    kept for it by the broker and delivered when it is back)."""

    def __init__(self, port: int, topics: str, *, session: str | None = None) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool, float]] = []
        self.subscribed = threading.Event()
        self._topics = topics
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=session or f"sub-{os.getpid()}-{time.monotonic_ns()}",
            clean_session=session is None,
            protocol=paho.MQTTv311,
        )
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            self.close()
            raise BrokerUnavailable("the subscriber could not subscribe")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self._topics, qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.messages.append((message.topic, message.payload, bool(message.retain), time.time()))

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _, _ in self.messages if t == topic]

    def wait_for(self, topic: str, n: int, timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.on(topic)) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        got = self.on(topic)
        assert len(got) >= n, f"{len(got)} of {n} messages on {topic}"
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
