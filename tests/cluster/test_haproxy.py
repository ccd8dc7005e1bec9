"""A stream client behind HAProxy resumes on a surviving host after ``kill -9``.

Debian's HAProxy (``make haproxy``; from /usr/sbin/haproxy, its own config in tmp, free
ports) balances the TCP stream port of two real ``facegate serve`` hosts (127.0.0.5 and .6,
each with its own data dir, one PostgreSQL) with ``mode tcp``, ``balance leastconn`` and TCP
health checks, the configuration docs/cluster.md gives. A real ``facegate stream`` client
sends the looping Obama clip through HAProxy and writes every result to a JSON-lines file.
The host serving its stream is found through ``GET /api/v1/live/streams`` (which lists every
host's streams with their node) and killed with SIGKILL: the client reconnects through
HAProxy, lands on the survivor (its HELLO is refused with ``name_taken`` until the dead
node's name expires, then accepted) and results resume. The times are printed, not asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.hosts import bindable, eventually
from tests.pg import create_database, drop_database
from tests.serving import Server, create_key, enrol, free_port, start_server

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]

HAPROXY = Path("/usr/sbin/haproxy")
ADDRESSES = ("127.0.0.5", "127.0.0.6")
PERSON = "Barack_Obama"
FACEGATE = Path(sys.executable).with_name("facegate")

CONFIG = """\
global
    maxconn 1000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    retries 2
    option redispatch

frontend facegate_stream
    bind 127.0.0.1:{stream_port}
    default_backend facegate_stream

backend facegate_stream
    balance leastconn
    option tcp-check
    default-server check inter 1s fall 2 rise 2
{stream_servers}

frontend facegate_http
    mode http
    bind 127.0.0.1:{http_port}
    timeout client 1h
    default_backend facegate_http

backend facegate_http
    mode http
    balance roundrobin
    option httpchk GET /readyz
    timeout server 1h
    default-server check inter 2s fall 2 rise 2
{http_servers}
"""


def haproxy_config(hosts: list[tuple[str, int, int]], stream_port: int, http_port: int) -> str:
    """The balancer of docs/cluster.md for hosts given as (address, http port, stream port)."""
    stream = "\n".join(f"    server s{i} {a}:{sp}" for i, (a, _, sp) in enumerate(hosts))
    http = "\n".join(f"    server h{i} {a}:{hp}" for i, (a, hp, _) in enumerate(hosts))
    return CONFIG.format(
        stream_port=stream_port, http_port=http_port, stream_servers=stream, http_servers=http
    )


@pytest.fixture(scope="module")
def balanced(
    faces_dir: Path, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    if not HAPROXY.exists():
        pytest.skip("no /usr/sbin/haproxy (make haproxy)")
    if not all(bindable(a) for a in ADDRESSES):
        pytest.skip("loopback addresses 127.0.0.5-6 cannot be bound here")
    url = create_database(pg_admin_url, "cluster_haproxy")
    root = tmp_path_factory.mktemp("balanced")
    key = create_key(root / "keys", "admin", database_url=url)
    env = {"FACEGATE_DATABASE_URL": url, "FACEGATE_INFERENCE_THREADS": "1"}
    hosts: list[Server] = []
    ports: list[tuple[str, int, int]] = []
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for i, address in enumerate(ADDRESSES):
            port, stream_port = free_port(), free_port()
            args = ("--stream-port", str(stream_port), "--stream-host", address)
            hosts.append(start_server(root / f"host{i}", port, *args, env=env, host=address))
            ports.append((address, port, stream_port))
        for host in hosts:
            host.wait_ready(timeout=600)
        headers = {"X-API-Key": key}
        enrol(hosts[0].base, headers, PERSON, faces_dir / "people" / PERSON)
        lb_stream, lb_http = free_port(), free_port()
        config = root / "haproxy.cfg"
        config.write_text(haproxy_config(ports, lb_stream, lb_http))
        check = subprocess.run([str(HAPROXY), "-c", "-f", str(config)], capture_output=True)
        assert check.returncode == 0, check.stderr.decode()
        log = (root / "haproxy.log").open("w")
        proxy = subprocess.Popen(
            [str(HAPROXY), "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        eventually(
            lambda: httpx.get(f"http://127.0.0.1:{lb_http}/readyz", timeout=2).status_code == 200,
            "HAProxy's HTTP frontend",
            within_s=30,
        )
        yield {
            "hosts": hosts,
            "headers": headers,
            "key": key,
            "stream_port": lb_stream,
            "http_port": lb_http,
            "root": root,
        }
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for host in hosts:
            host.stop()
        drop_database(pg_admin_url, "cluster_haproxy")


def results(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    except FileNotFoundError:
        return 0


def test_a_stream_client_behind_haproxy_resumes_on_a_surviving_host(
    balanced: dict[str, Any], faces_dir: Path
):
    hosts: list[Server] = balanced["hosts"]
    headers = balanced["headers"]
    out = balanced["root"] / "results.jsonl"
    env = dict(os.environ, FACEGATE_API_KEY=balanced["key"])  # never in argv
    client = subprocess.Popen(
        [
            str(FACEGATE), "stream", "--source", str(faces_dir / "videos" / "obama.mp4"),
            "--loop", "--fps", "5", "--server", f"127.0.0.1:{balanced['stream_port']}",
            "--stream", "gate", "--json-out", str(out), "--quiet",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        eventually(lambda: results(out) >= 10, "results through HAProxy", within_s=180)

        def serving_node() -> str | None:
            answer = httpx.get(f"{hosts[0].base}/api/v1/live/streams", headers=headers)
            gate = next((s for s in answer.json()["streams"] if s["name"] == "gate"), None)
            return gate["node"] if gate else None

        node = eventually(serving_node, "the stream gate listed with its node", within_s=60)
        nodes = httpx.get(f"{hosts[0].base}/api/v1/cluster", headers=headers).json()["nodes"]
        url = next(n["url"] for n in nodes if n["id"] == node)
        victim = next(h for h in hosts if h.base == url)
        survivor = next(h for h in hosts if h is not victim)
        survivor_node = next(n["id"] for n in nodes if n["url"] == survivor.base)

        before = results(out)
        killed_at = time.monotonic()
        victim.signal(signal.SIGKILL)
        victim.proc.wait(30)
        eventually(lambda: results(out) > before, "results after the kill", within_s=180)
        resumed_s = time.monotonic() - killed_at

        def on_survivor() -> bool:
            answer = httpx.get(f"{survivor.base}/api/v1/live/streams", headers=headers)
            return any(
                s["name"] == "gate" and s["kind"] == "tcp" and s["node"] == survivor_node
                for s in answer.json()["streams"]
            )

        eventually(on_survivor, "gate served by the survivor", within_s=60)
        later = results(out)
        eventually(lambda: results(out) >= later + 10, "results go on", within_s=120)
        assert client.poll() is None, client.stderr.read().decode() if client.stderr else ""
        print(
            f"\nHAProxy failover: kill -9 of the serving host -> results resume through HAProxy "
            f"after {resumed_s:.1f} s ({before} results before, {results(out)} in all)"
        )
    finally:
        client.send_signal(signal.SIGINT)
        try:
            _, err = client.communicate(timeout=20)
            summary = err.decode(errors="replace").strip().splitlines()[-1:]
            print("client summary:", json.dumps(summary))
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait(10)
