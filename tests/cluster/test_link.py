"""Two real hosts on one PostgreSQL, one of them behind a link the test can cut.

Hosts A and B (``facegate serve``, each its own data dir, bound to 127.0.0.2 and .3) share a
PostgreSQL server in a network namespace (tests/pg_link.py) and reach it over two different
veth pairs, so cutting B's link isolates B alone: a real black hole, no RST. Checked, in
order (the module's tests share the hosts):

- an enrolment made on A is matched on B (identify polled on B): normally, after B's LISTEN
  connection was killed (``pg_terminate_backend``), and after a 5 s cut of B's link during
  which the enrolment was made;
- during the cut B's ``/healthz``, ``/readyz`` and identify keep answering (no hang, no 500);
- a node gone for ``cluster.node_forget_s`` disappears from ``GET /api/v1/cluster``.

The times are printed (docs/cluster.md quotes them), never asserted: only generous bounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster.hosts import bindable, eventually
from tests.pg import PostgresUnavailable, create_database
from tests.pg_link import LinkedPostgres, LinkUnavailable
from tests.serving import Server, create_key, enrol, free_port, start_server

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]

ADDRESSES = ("127.0.0.2", "127.0.0.3")
PEOPLE = ("Barack_Obama", "Anders_Fogh_Rasmussen", "Bashar_Assad", "Antonio_Banderas")
BOUND_S = 60.0  # generous: the machine is shared
CUT_S = 5.0
FORGET_S = 20  # cluster.node_forget_s for these hosts (housekept every 5 s)


def waited(check: Callable[[], Any], what: str, within_s: float = BOUND_S) -> float:
    """Poll ``check`` until truthy; the seconds it took (fails after ``within_s``)."""
    began = time.monotonic()
    eventually(check, what, within_s, every_s=0.05)
    return time.monotonic() - began


@pytest.fixture(scope="module")
def link() -> Iterator[LinkedPostgres]:
    try:
        linked = LinkedPostgres(links=2)
    except (LinkUnavailable, PostgresUnavailable) as error:
        pytest.skip(f"no cuttable PostgreSQL link here: {error}")
    try:
        yield linked
    finally:
        linked.close()


@pytest.fixture(scope="module")
def hosts(
    link: LinkedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    if not all(bindable(a) for a in ADDRESSES):
        pytest.skip("loopback addresses 127.0.0.2-3 cannot be bound here")
    url_a = create_database(link.urls[0], "cluster_link")
    urls = (url_a, url_a.replace(link.links[0][3], link.links[1][3], 1))  # B: over link 1
    root = tmp_path_factory.mktemp("link")
    key = create_key(root / "keys", "admin", database_url=urls[0])
    servers: list[Server] = []
    try:
        for name, address, url in zip("ab", ADDRESSES, urls, strict=True):
            env = {
                "FACEGATE_DATABASE_URL": url,
                "FACEGATE_INFERENCE_THREADS": "1",
                "FACEGATE_ACCESS_ENABLED": "false",
                "FACEGATE_CLUSTER_NODE_FORGET_S": str(FORGET_S),
            }
            args = ("--stream-host", address)
            servers.append(start_server(root / name, free_port(), *args, env=env, host=address))
        for server in servers:
            server.wait_ready(timeout=600)
        yield {"a": servers[0], "b": servers[1], "headers": {"X-API-Key": key}, "url": urls[0]}
    finally:
        for server in servers:
            server.stop()


def names_on(host: Server, headers: dict[str, str], photo: Path) -> set[str]:
    """Who ``host`` recognises in ``photo``."""
    files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
    answer = httpx.post(f"{host.base}/api/v1/identify", files=files, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return {f["person"]["name"] for f in answer.json()["faces"] if f["person"]}


def propagation(hosts: dict[str, Any], faces_dir: Path, person: str, how: str) -> float:
    """Enrol ``person`` on A, then poll identify on B: seconds from A's answer to B's match."""
    folder = faces_dir / "people" / person
    photo = sorted(folder.iterdir())[0]
    a, b, headers = hosts["a"], hosts["b"], hosts["headers"]
    assert person not in names_on(b, headers, photo)  # not known yet: the check can fail
    enrol(a.base, headers, person, folder)
    took = waited(lambda: person in names_on(b, headers, photo), f"{person} on B ({how})")
    print(f"\nenrolment on A matched on B {how}: {took:.2f} s (identify polled on B)")
    return took


def listeners(url: str, client: str) -> list[int]:
    """Backend pids of the LISTEN connections coming from ``client`` (a host's address)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE query ILIKE 'LISTEN%%' AND client_addr = %s::inet",
            (client,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_enrolment_on_a_reaches_b(hosts: dict[str, Any], faces_dir: Path):
    propagation(hosts, faces_dir, PEOPLE[0], "normally")


def test_enrolment_reaches_b_after_its_listen_connection_is_killed(
    hosts: dict[str, Any], faces_dir: Path, link: LinkedPostgres
):
    b_addr = link.links[1][2]
    killed = listeners(hosts["url"], b_addr)
    assert killed, "B has no LISTEN connection"
    with psycopg.connect(hosts["url"], autocommit=True) as conn:
        for pid in killed:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    propagation(hosts, faces_dir, PEOPLE[1], "after B's LISTEN connection was killed")
    again = waited(lambda: set(listeners(hosts["url"], b_addr)) - set(killed), "B's LISTEN")
    print(f"B listening again after {again:.2f} s more")


def test_b_recovers_from_a_cut_link(hosts: dict[str, Any], faces_dir: Path, link: LinkedPostgres):
    """B's link is cut for 5 s; A enrols meanwhile. B keeps answering HTTP during the cut
    and matches the new person after the link is back."""
    a, b, headers = hosts["a"], hosts["b"], hosts["headers"]
    person = PEOPLE[2]
    folder = faces_dir / "people" / person
    photo = sorted(folder.iterdir())[0]
    assert person not in names_on(b, headers, photo)
    link.cut(1)
    cut_at = time.monotonic()
    try:
        enrol(a.base, headers, person, folder)  # A's link is fine
        known = sorted((faces_dir / "people" / PEOPLE[0]).iterdir())[0]
        files = {"image": (known.name, known.read_bytes(), "image/jpeg")}
        answers: list[tuple[str, int, float]] = []
        while time.monotonic() - cut_at < CUT_S:
            for path in ("/healthz", "/readyz", "/api/v1/identify"):
                began = time.monotonic()
                if path == "/api/v1/identify":  # from memory (bounded staleness) or 503
                    answer = httpx.post(
                        f"{b.base}{path}", files=files, headers=headers, timeout=BOUND_S
                    )
                else:
                    answer = httpx.get(f"{b.base}{path}", timeout=BOUND_S)  # never hangs
                answers.append((path, answer.status_code, time.monotonic() - began))
    finally:
        link.restore(1)
    restored_at = time.monotonic()
    took = waited(lambda: person in names_on(b, headers, photo), f"{person} on B after the cut")
    paths = ("/healthz", "/readyz", "/api/v1/identify")
    slowest = {p: max(t for q, _, t in answers if q == p) for p in paths}
    codes = sorted({f"{p} {c}" for p, c, _ in answers})
    print(
        f"\n{CUT_S:.0f} s cut of B's link: enrolment made on A during the cut matched on B "
        f"{took:.2f} s after the link returned ({restored_at - cut_at:.1f} s cut); during the "
        f"cut B answered {len(answers)} requests ({', '.join(codes)}), slowest "
        + ", ".join(f"{p} {t:.2f} s" for p, t in slowest.items())
    )
    assert {p for p, _, _ in answers} == set(paths)
    assert all(code in (200, 503) for _, code, _ in answers), answers  # never a 500
    propagation(hosts, faces_dir, PEOPLE[3], "after the cut")


def test_a_dead_node_leaves_the_cluster_view(hosts: dict[str, Any]):
    """A node row whose heartbeat grows older than ``node_forget_s`` (a host gone for good) is
    deleted by the hosts' housekeeping and no longer listed; the live hosts stay. The ghost's
    last heartbeat is put ``FORGET_S - 10`` s back, so it is listed (dead) when first read and
    forgotten about 10 s later, whenever the housekeeping runs."""
    a, headers = hosts["a"], hosts["headers"]
    with psycopg.connect(hosts["url"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO nodes (id, url, started_at, heartbeat_at) VALUES "
            "('ghost', 'http://127.0.0.9:8000', now() - interval '1 hour', "
            "now() - make_interval(secs => %s))",
            (FORGET_S - 10,),
        )

    def ids() -> list[str]:
        answer = httpx.get(f"{a.base}/api/v1/cluster", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return [n["id"] for n in answer.json()["nodes"]]

    assert "ghost" in ids()
    took = waited(lambda: "ghost" not in ids(), "the ghost node forgotten")
    assert len(ids()) == 2
    print(f"\na node {FORGET_S - 10} s silent forgotten {took:.1f} s later (due after 10 s)")
