"""``GET /api/v1/cluster``: the nodes of the cluster and the cameras each owns now.

Read from the database (``nodes``, ``camera_leases``), so every host answers the same view.
Administrators only: it names hosts and their internal URLs.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from facegate.api.auth import require
from facegate.api.routes.deps import services
from facegate.cluster.service import ClusterNode
from facegate.services import Services

router = APIRouter(prefix="/api/v1", tags=["cluster"], dependencies=[Depends(require("admin"))])


@router.get("/cluster")
async def cluster(svc: Annotated[Services, Depends(services)]) -> dict[str, Any]:
    """``{"nodes": [{"id", "url", "alive", "cameras": [names this node owns now]}]}``."""
    node = svc.cluster or ClusterNode(svc.settings, svc.gallery.store.db)
    return await asyncio.to_thread(node.view)
