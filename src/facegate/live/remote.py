"""Live view across hosts: streams and MJPEG of other nodes, fetched from their owner.

A host knows from the database what runs where (``ClusterNode.placed``: the ``streams``
registry and the camera leases) and how to reach each node (``nodes.url``). For a stream it
does not run itself (neither in this worker nor in a sibling worker through
``facegate.live.relay``), it asks the owner node's *internal* endpoints
(``facegate.api.routes.live_internal``), authenticated by a node token
(``facegate.cluster.auth``) in the ``X-Facegate-Node`` header:

- ``GET /internal/v1/live/streams``: the owner's streams with their stats;
- ``GET /internal/v1/live/streams/{name}/mjpeg``: the owner's MJPEG, passed through byte for
  byte (the same boundary), so frames are encoded once, by the owner.

Recognition events are not proxied: every host reads every host's from the live event log
(facegate.live.event_log).

Everything here is asynchronous (httpx's async client); the database reads and the first
read of the cluster secret run on threads. A proxied response is closed when the viewer
leaves (the generator's ``finally``), which closes the owner's viewer too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

import httpx

from facegate.cluster.auth import HEADER
from facegate.cluster.service import ClusterNode
from facegate.cluster.store import NodeRow
from facegate.errors import Busy, DatabaseUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
STATS_TIMEOUT_S = 3.0
INTERNAL = "/internal/v1/live"


async def _headers(cluster: ClusterNode) -> dict[str, str]:
    token = await asyncio.to_thread(cluster.tokens.issue, cluster.id)
    return {HEADER: token}


def _client(read_timeout_s: float | None) -> httpx.AsyncClient:
    timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)


async def remote_streams(cluster: ClusterNode) -> list[dict[str, Any]]:
    """The streams and cameras other nodes run, each with its ``node``: the owner's stats
    when it answers, else what the database knows (name, kind, node)."""
    if not cluster.shared:
        return []
    try:
        placed, peers = await asyncio.gather(
            asyncio.to_thread(cluster.placed), asyncio.to_thread(cluster.peers)
        )
    except DatabaseUnavailable:  # this host's own streams are still worth showing
        log.warning("live: database unavailable, listing this host's streams only")
        return []
    wanted = {n.id: n for n in peers if any(node == n.id for _, node in placed.values())}
    if not wanted:
        return []
    headers = await _headers(cluster)

    async def ask(client: httpx.AsyncClient, node: NodeRow) -> list[dict[str, Any]]:
        try:
            answer = await client.get(f"{node.url}{INTERNAL}/streams", headers=headers)
            if answer.status_code == 200:
                return [dict(s, node=node.id) for s in answer.json().get("streams", [])]
            log.warning("live: node %s answered %d for its streams", node.id, answer.status_code)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("live: node %s did not list its streams (%s)", node.id, type(exc).__name__)
        return []

    async with _client(STATS_TIMEOUT_S) as client:
        answers = await asyncio.gather(*(ask(client, n) for n in wanted.values()))
    found = {s["name"]: s for streams in answers for s in streams if "name" in s}
    for name, (kind, node) in placed.items():  # known to the database, not (yet) answered
        if node in wanted and name not in found:
            found[name] = {"name": name, "kind": kind, "node": node, "fps": 0.0, "viewers": 0}
    return [found[name] for name in sorted(found)]


async def remote_mjpeg(cluster: ClusterNode, name: str) -> AsyncGenerator[bytes, None] | None:
    """The MJPEG body of ``name`` from the node that runs it, or None when no other alive
    node does (or it refuses); ``Busy`` when the owner has too many viewers."""
    if not cluster.shared:
        return None
    owner = await asyncio.to_thread(cluster.owner, name)
    if owner is None:
        return None
    headers = await _headers(cluster)
    client = _client(None)
    try:
        path = f"{INTERNAL}/streams/{quote(name, safe='')}/mjpeg"
        request = client.build_request("GET", f"{owner.url}{path}", headers=headers)
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        await client.aclose()
        log.warning("live: node %s did not serve %s (%s)", owner.id, name, type(exc).__name__)
        return None
    if response.status_code != 200:
        await response.aclose()
        await client.aclose()
        if response.status_code == 503:  # the owner has too many viewers: say so, not 404
            raise Busy("too many live viewers")
        return None
    return _body(client, response)


async def _body(client: httpx.AsyncClient, response: httpx.Response) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        return
    finally:
        await response.aclose()
        await client.aclose()
