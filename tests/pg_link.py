"""A PostgreSQL server behind a link the test can cut: a real black hole, not a refused port.

The server runs inside a network namespace joined to this one by a veth pair; the test
process reaches it over the pair. ``cut()`` sets the pair's outer end down, so packets
vanish and nothing answers (no RST, no ACK): exactly a pulled cable or a dead switch, the
case where a query without keepalives and ``tcp_user_timeout`` blocks for many minutes. A
user-space proxy cannot fake this: its kernel would still acknowledge every byte. Loopback
``tc`` drops need an action module this kernel lacks, hence the namespace.

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
    """``url`` reaches the server over a veth pair; ``cut()``/``restore()`` the link."""

    def __init__(self) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise LinkUnavailable("cutting a link needs root and iproute2 (`ip`)")
        tag = f"{os.getpid() % 100000}"
        self.netns = f"fgpg{tag}"
        self.outer, self.inner = f"fgpo{tag}", f"fgpi{tag}"
        # A /24 per process: parallel sessions never share addresses.
        third = os.getpid() % 200 + 20
        self.local, self.remote = f"10.211.{third}.1", f"10.211.{third}.2"
        self.cluster: PostgresCluster | None = None
        try:
            _ip("netns", "add", self.netns)
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.netns)
            _ip("addr", "add", f"{self.local}/24", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            _ip("-n", self.netns, "addr", "add", f"{self.remote}/24", "dev", self.inner)
            _ip("-n", self.netns, "link", "set", self.inner, "up")
            _ip("-n", self.netns, "link", "set", "lo", "up")
            self.cluster = PostgresCluster(
                host=self.remote, wrap=("ip", "netns", "exec", self.netns)
            ).start()
        except (LinkUnavailable, PostgresUnavailable):
            self.close()
            raise
        self.url = self.cluster.url

    def cut(self) -> None:
        _ip("link", "set", self.outer, "down")

    def restore(self) -> None:
        _ip("link", "set", self.outer, "up")

    def close(self) -> None:
        if self.cluster is not None:
            self.restore_quietly()
            self.cluster.stop()
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)

    def restore_quietly(self) -> None:
        with contextlib.suppress(LinkUnavailable):
            self.restore()
