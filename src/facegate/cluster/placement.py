"""Which node should run a camera: rendezvous (highest-random-weight) hashing.

Every node computes the same answer from the same inputs (the camera's name, the live nodes'
ids and the camera's pin) without talking to the others: each (camera, node) pair gets a
pseudo-random weight and the camera goes to the live node with the highest weight. When a
node joins, it takes over only the cameras for which it now has the highest weight (about
1/N of them); when a node leaves, only its own cameras move, each to its second choice.
A pin overrides the hash: a pinned camera (e.g. a USB camera plugged into one host) runs on
its node or, while that node is down, nowhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(camera: str, node: str) -> int:
    """The pair's weight: 64 bits of SHA-256 (stable across processes and versions, unlike
    Python's salted ``hash``)."""
    digest = hashlib.sha256(f"{camera}\x00{node}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def place(camera: str, live_nodes: Iterable[str], pinned_node: str | None = None) -> str | None:
    """The node that should own ``camera`` now, or None when no live node may."""
    nodes = set(live_nodes)
    if pinned_node is not None:
        return pinned_node if pinned_node in nodes else None
    if not nodes:
        return None
    return max(sorted(nodes), key=lambda node: weight(camera, node))


def placement(
    cameras: Iterable[tuple[str, str | None]], live_nodes: Iterable[str]
) -> dict[str, str | None]:
    """``place`` for each (camera, pinned node)."""
    nodes = list(live_nodes)
    return {name: place(name, nodes, pinned) for name, pinned in cameras}
