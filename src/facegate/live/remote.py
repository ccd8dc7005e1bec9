"""Live view across hosts: streams, MJPEG and events of other nodes, fetched from their owner.

A host knows from the database what runs where (``ClusterNode.placed``: the ``streams``
registry and the camera leases) and how to reach each node (``nodes.url``). For a stream it
does not run itself (neither in this worker nor in a sibling worker through
``facegate.live.relay``), it asks the owner node's *internal* endpoints
(``facegate.api.routes.live_internal``), authenticated by a node token
(``facegate.cluster.auth``) in the ``X-Facegate-Node`` header:

- ``GET /internal/v1/live/streams``: the owner's streams with their stats;
- ``GET /internal/v1/live/streams/{name}/mjpeg``: the owner's MJPEG, passed through byte for
  byte (the same boundary), so frames are encoded once, by the owner;
- ``/internal/v1/live/events`` (WebSocket): every recognition event of the node, one JSON
  text message each.

Everything here is asynchronous (httpx's async client); the database reads and the first
read of the cluster secret run on threads. A proxied response is closed when the viewer
leaves (the generator's ``finally``), which closes the owner's viewer too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import WebSocketException

from facegate.cluster.auth import HEADER
from facegate.cluster.service import ClusterNode
from facegate.cluster.store import NodeRow
from facegate.errors import Busy, DatabaseUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
STATS_TIMEOUT_S = 3.0
RESCAN_S = 5.0  # how often an events listener looks for nodes that joined
RETRY_S = (0.5, 5.0)  # an events pump's back-off after its owner went away (first, cap)
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


async def remote_events(cluster: ClusterNode) -> AsyncIterator[dict[str, Any]]:
    """Every other alive node's recognition events, merged, each with its ``node``, for as
    long as the caller iterates. Nodes that join are found within ``RESCAN_S``; a pump whose
    node went away retries with back-off while the node is still listed alive."""
    if not cluster.shared:  # one host: nothing to merge, wait until the caller stops
        await asyncio.Event().wait()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
    pumps: dict[str, asyncio.Task[None]] = {}
    loop = asyncio.get_running_loop()

    async def pump(node: NodeRow) -> None:
        delay = RETRY_S[0]
        url = "ws" + node.url.removeprefix("http") + f"{INTERNAL}/events"
        while True:
            try:
                headers = await _headers(cluster)
                async with ws_connect(
                    url, additional_headers=headers, open_timeout=CONNECT_TIMEOUT_S
                ) as ws:
                    delay = RETRY_S[0]
                    async for message in ws:
                        with contextlib.suppress(ValueError, TypeError, asyncio.QueueFull):
                            queue.put_nowait(dict(json.loads(message), node=node.id))
            except (OSError, TimeoutError, WebSocketException):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_S[1])

    async def scan() -> None:
        while True:
            try:
                peers = await asyncio.to_thread(cluster.peers)
            except Exception as exc:  # database away: keep the pumps we have
                log.warning("live: cannot list nodes for events (%s)", type(exc).__name__)
                peers = None
            if peers is not None:
                alive = {n.id: n for n in peers}
                for gone in [n for n in pumps if n not in alive]:
                    pumps.pop(gone).cancel()
                for node_id, node in alive.items():
                    if node_id not in pumps:
                        pumps[node_id] = loop.create_task(pump(node))
            await asyncio.sleep(RESCAN_S)

    scanner = loop.create_task(scan())
    try:
        while True:
            yield await queue.get()
    finally:
        scanner.cancel()
        for task in pumps.values():
            task.cancel()
        await asyncio.gather(scanner, *pumps.values(), return_exceptions=True)
