"""A PostgreSQL server behind a link the test can cut: a real black hole, not a refused port.

The server runs inside a network namespace joined to this one by a veth pair; the test
process reaches it over the pair. ``cut()`` sets the pair's outer end down, so packets
vanish and nothing answers (no RST, no ACK): exactly a pulled cable or a dead switch, the
case where a query without keepalives and ``tcp_user_timeout`` blocks for many minutes. A
user-space proxy cannot fake this: its kernel would still acknowledge every byte. Loopback
``tc`` drops need an action module this kernel lacks, hence the namespace.

``LinkedPostgres(links=2)`` joins the namespace by two veth pairs, the server listening on
both inner addresses: ``urls[i]`` goes over link ``i``, so ``cut(1)`` isolates only the client
(e.g. one host of a cluster) that was given ``urls[1]``.

Needs root and ``ip``; ``LinkUnavailable`` says why otherwise (tests skip with it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

from tests.pg import PostgresCluster, PostgresUnavailable


class LinkUnavailable(RuntimeError):
    """No network namespace can be made here."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise LinkUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()[:300]}")


class LinkedPostgres:
    """``urls[i]`` reaches the server over veth pair ``i`` (``url`` is ``urls[0]``);
    ``cut(i)``/``restore(i)`` that link."""

    def __init__(self, links: int = 1) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise LinkUnavailable("cutting a link needs root and iproute2 (`ip`)")
        tag = f"{os.getpid() % 100000}"
        self.netns = f"fgpg{tag}"
        # Per link: (outer device, inner device, local address, server address). A /24 per
        # process and link: parallel sessions never share addresses.
        third = os.getpid() % 200 + 20
        self.links = [
            (f"fgpo{tag}{'' if i == 0 else i}", f"fgpi{tag}{'' if i == 0 else i}",
             f"10.{211 + i}.{third}.1", f"10.{211 + i}.{third}.2")
            for i in range(links)
        ]  # fmt: skip
        self.outer, self.inner, self.local, self.remote = self.links[0]
        self.cluster: PostgresCluster | None = None
        try:
            _ip("netns", "add", self.netns)
            for outer, inner, local, remote in self.links:
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                _ip("link", "set", inner, "netns", self.netns)
                _ip("addr", "add", f"{local}/24", "dev", outer)
                _ip("link", "set", outer, "up")
                _ip("-n", self.netns, "addr", "add", f"{remote}/24", "dev", inner)
                _ip("-n", self.netns, "link", "set", inner, "up")
            _ip("-n", self.netns, "link", "set", "lo", "up")
            self.cluster = PostgresCluster(
                host=self.remote,
                wrap=("ip", "netns", "exec", self.netns),
                also=tuple(link[3] for link in self.links[1:]),
            ).start()
        except (LinkUnavailable, PostgresUnavailable):
            self.close()
            raise
        self.url = self.cluster.url
        self.urls = [self.url.replace(self.remote, link[3], 1) for link in self.links]

    def cut(self, link: int = 0) -> None:
        _ip("link", "set", self.links[link][0], "down")

    def restore(self, link: int = 0) -> None:
        _ip("link", "set", self.links[link][0], "up")

    def close(self) -> None:
        if self.cluster is not None:
            self.restore_quietly()
            self.cluster.stop()
        for outer, *_ in self.links:
            subprocess.run(["ip", "link", "del", outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)

    def restore_quietly(self) -> None:
        for link in range(len(self.links)):
            with contextlib.suppress(LinkUnavailable):
                self.restore(link)
