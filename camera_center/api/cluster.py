"""The center's servers, for admins: each server's role, address, version, cameras,
CPU, load and last heartbeat, and whether it is up, late, down or draining."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from camera_center.api.deps import Admin, ServicesDep
from camera_center.cluster.nodes import NodeState
from camera_center.errors import problem_responses

router = APIRouter(prefix="/cluster", tags=["cluster"], responses=problem_responses(401, 403))


class NodeOut(BaseModel):
    node_id: str
    role: str = Field(description="all, api or worker")
    address: str
    version: str
    weight: float
    draining: bool
    cameras: int = Field(description="Cameras it reads now")
    cpu_percent: float = Field(description="The whole machine's CPU use, 0-100")
    load: float = Field(description="1-minute load average per core")
    started_at: datetime
    heartbeat_at: datetime
    state: NodeState = Field(description="up; late after 3 missed heartbeats; down after "
                                          "6; draining while an admin empties it")


class NodeList(BaseModel):
    items: list[NodeOut]
    heartbeat_s: float
    this_node: str = Field(description="The server that answered")


@router.get("/nodes", response_model=NodeList, summary="The center's servers")
async def nodes(_admin: Admin, services: ServicesDep) -> NodeList:
    listed = await services.nodes.list()
    this = services.heartbeat.node_id if services.heartbeat else ""
    return NodeList(items=[NodeOut(**n.__dict__) for n in listed],
                    heartbeat_s=services.nodes.interval_s, this_node=this)
