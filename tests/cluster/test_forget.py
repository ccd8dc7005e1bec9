"""Dead nodes are forgotten (``ClusterStore.housekeep``, ``cluster.node_forget_s``) on SQLite
and PostgreSQL: a node without a heartbeat for that long leaves the cluster view with its
stream names, its leases expire but keep their epochs, 0 means never, and a node that comes
back registers again. The lease keeper offers the housekeeping by itself; on PostgreSQL one
host runs it at a time. Waits are polls with generous bounds, never clock asserts.
"""

from __future__ import annotations

from typing import Any

import pytest

from facegate.cluster.node import LeaseKeeper, Timings
from facegate.cluster.service import timings_from
from facegate.cluster.store import CameraRow, ClusterStore, singleton
from facegate.gallery import SqlStore, open_store
from tests.cluster.test_leases import eventually

pytestmark = pytest.mark.cluster
FORGET_S = 0.5


@pytest.fixture
def cluster(store: SqlStore) -> ClusterStore:
    return ClusterStore(store.db)


def ids(cluster: ClusterStore) -> list[str]:
    return [n["id"] for n in cluster.view(30)]


def test_a_node_gone_for_node_forget_s_is_deleted_with_its_names(cluster: ClusterStore):
    cluster.register_node("a", "http://127.0.0.2:8000")
    cluster.register_node("b", "http://127.0.0.3:8000")
    cluster.upsert_camera(CameraRow("door", "0"))
    assert cluster.acquire("door", "b", 60) == 1  # b owns door, then goes silent
    assert cluster.claim_stream("kiosk", "b", "t1", 60)

    def b_forgotten() -> bool:
        cluster.heartbeat("a", "http://127.0.0.2:8000")  # a stays alive
        return cluster.housekeep(FORGET_S) == ["b"]

    assert cluster.housekeep(0) == []  # 0: never
    assert eventually(b_forgotten)
    assert ids(cluster) == ["a"]
    assert cluster.leases() == []  # b's lease expired now, not in 60 s
    assert cluster.streams(60) == []
    assert cluster.claim_stream("kiosk", "a", "t2", 60)
    assert cluster.acquire("door", "a", 60) == 2  # the camera's epoch goes on counting
    assert cluster.housekeep(FORGET_S) == []  # a is alive
    cluster.heartbeat("b", "http://127.0.0.3:8000")  # b was only cut off: it is back
    assert ids(cluster) == ["a", "b"]


def test_node_forget_s_zero_keeps_dead_nodes(cluster: ClusterStore):
    cluster.register_node("old", "http://127.0.0.9:8000")
    assert eventually(lambda: not cluster.nodes(0.2)[0].alive)
    assert cluster.housekeep(0) == []
    assert ids(cluster) == ["old"]


def test_the_lease_keeper_runs_the_housekeeping(make_settings: Any, store: SqlStore):
    """A keeper forgets a dead node by itself; its timings follow the settings (the offer
    comes at least every quarter of ``node_forget_s``)."""
    cluster = ClusterStore(store.db)
    cluster.register_node("dead", "http://127.0.0.9:8000")
    timings = Timings(lease_s=2, renew_s=0.1, deadline_s=1.5, node_timeout_s=2,
                      node_forget_s=FORGET_S, housekeep_s=0.1)  # fmt: skip
    keeper = LeaseKeeper(cluster, "live", "http://127.0.0.2:8000", timings)
    keeper.start()
    try:
        assert eventually(lambda: ids(cluster) == ["live"]), ids(cluster)
    finally:
        keeper.stop()
    settings = make_settings(cluster_node_forget_s=20)
    assert timings_from(settings).housekeep_s == 5.0
    assert timings_from(settings.replace(cluster_node_forget_s=0)).housekeep_s == 30.0


def test_one_host_at_a_time_runs_the_housekeeping(make_settings: Any, store: SqlStore):
    if store.db.dialect != "postgres":
        pytest.skip("SQLite serves one host: its write transaction already excludes others")
    other = open_store(make_settings())  # another host's connection
    try:
        with store.db.write() as tx:
            assert singleton(tx, store.db, "cluster-housekeeping")
            assert ClusterStore(other.db).housekeep(FORGET_S) is None  # skipped, not blocked
        assert ClusterStore(other.db).housekeep(FORGET_S) == []
    finally:
        other.close()
