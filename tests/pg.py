"""A throwaway PostgreSQL server for the test session.

``make postgres`` installs the Debian package when it is missing; this module finds its
binaries, creates a cluster in a temporary directory with ``initdb``, starts it on a free
loopback port and removes it afterwards. PostgreSQL refuses to run as root, so as root the
cluster belongs to the ``postgres`` system user and every command runs through ``runuser``.
Durability is switched off (``fsync=off``): the data is thrown away anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why (tests skip with it)."""


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise PostgresUnavailable(
        "PostgreSQL binaries (initdb, pg_ctl) not found: run `make postgres` "
        "(installs the Debian package) or set FACEGATE_TEST_DATABASE_URL"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One temporary cluster; ``url`` is a superuser connection to database ``postgres``.

    ``host`` is the address it listens on (trusted in pg_hba), ``also`` more such addresses
    (one per link of tests/pg_link.py); ``wrap`` prefixes every command (``ip netns exec
    NAME``: a server inside a network namespace). ``halt()`` and ``resume()`` stop and start
    the same server (outage tests)."""

    def __init__(
        self, host: str = "127.0.0.1", wrap: tuple[str, ...] = (), also: tuple[str, ...] = ()
    ) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as error:
                raise PostgresUnavailable(
                    "running as root and no `postgres` user exists"
                ) from error
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.prefix = [*wrap, *self.prefix]
        self.host = host
        self.addresses = (host, *also)
        self.url = f"postgresql://facegate@{host}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip()[-1000:]} {tail}"
            )

    def start(self) -> PostgresCluster:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "facegate",
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        if self.host != "127.0.0.1":
            with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
                hba.writelines(f"host all all {a}/24 trust\n" for a in self.addresses)
        return self.resume()

    def resume(self) -> PostgresCluster:
        """Start the server (again) on the same data and port."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={','.join(self.addresses)} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def halt(self) -> None:
        """Stop the server (fast shutdown: sessions are ended), keeping its data."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except PostgresUnavailable:
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """Create an empty database next to ``admin_url``'s and return its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
