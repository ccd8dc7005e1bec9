"""``[cluster]``: many hosts on one database (facegate.cluster; docs/cluster.md): who this
node is, how other hosts reach it, and the timing of camera leases and node heartbeats."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from facegate.config.base import Section


class ClusterSettings(Section):
    """This node's identity and the lease / heartbeat timing."""

    ENV_PREFIX: ClassVar[str] = "cluster_"

    node_id: str | None = Field(
        None,
        max_length=128,
        description="this host's node id (default: made once, kept in <data_dir>/node-id)",
    )
    node_url: str | None = Field(
        None, description="http://HOST:PORT other hosts reach this one at (set by serve)"
    )
    lease_s: float = Field(10.0, gt=0, description="a camera lease lasts this long")
    renew_s: float = Field(2.0, gt=0, description="the owner renews this often")
    renew_deadline_s: float = Field(
        7.0, gt=0, description="owner stops capturing this long after its last renewal began"
    )
    node_timeout_s: float = Field(
        10.0, gt=0, description="a node without a heartbeat this long is not alive"
    )
    node_forget_s: float = Field(
        600.0,
        ge=0,
        description="a node without a heartbeat this long is deleted from the cluster (0: never)",
    )
