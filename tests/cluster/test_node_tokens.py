"""Node tokens (facegate.cluster.auth) on SQLite and PostgreSQL: every node of one database
gets the same secret, a token verifies only unaltered and unexpired, and a node of another
cluster (another database) cannot forge one."""

from __future__ import annotations

from typing import Any

from facegate.cluster.auth import TOKEN_TTL_S, NodeTokens
from facegate.gallery import SqlStore, open_store
from tests.storage import in_threads


def test_nodes_of_one_database_share_the_secret(store: SqlStore, make_settings: Any):
    nodes = [NodeTokens(store.db) for _ in range(4)]
    in_threads(lambda tokens: tokens.issue("warm"), [(n,) for n in nodes])  # race to create
    other = open_store(make_settings())  # another connection to the same database
    try:
        token = nodes[0].issue("host-a")
        assert all(n.verify(token) == "host-a" for n in nodes[1:])
        assert NodeTokens(other.db).verify(token) == "host-a"
        with store.db.read() as tx:
            assert len(tx.execute("SELECT secret FROM cluster_secret")) == 1
    finally:
        other.close()


def test_a_token_verifies_only_unaltered_and_unexpired(store: SqlStore):
    now = [1_000_000.0]
    tokens = NodeTokens(store.db, clock=lambda: now[0])
    token = tokens.issue("host-a.example")  # dots in a node id are fine
    assert tokens.verify(token) == "host-a.example"
    body, _, mac = token.rpartition(".")
    node, _, expiry = body.rpartition(".")
    assert tokens.verify(f"host-b.{expiry}.{mac}") is None  # another node's name
    assert tokens.verify(f"{node}.{int(expiry) + 3600}.{mac}") is None  # a longer life
    assert tokens.verify(f"{body}.{'0' * len(mac)}") is None
    for junk in (None, "", "x", "a.b", "a.b.c", "a." * 300, f"{node}.-5.{mac}"):
        assert tokens.verify(junk) is None
    now[0] += TOKEN_TTL_S + 1
    assert tokens.verify(token) is None  # expired
    now[0] -= 10 * TOKEN_TTL_S
    assert tokens.verify(tokens.issue("h", ttl_s=10 * TOKEN_TTL_S)) is None  # too far ahead


def test_another_clusters_token_is_refused(make_settings: Any):
    first, second = open_store(make_settings()), None
    try:
        token = NodeTokens(first.db).issue("host-a")
        with first.db.write() as tx:  # a new cluster: its own secret
            tx.execute("DELETE FROM cluster_secret")
        second = open_store(make_settings())
        assert NodeTokens(second.db).verify(token) is None
    finally:
        first.close()
        if second is not None:
            second.close()
