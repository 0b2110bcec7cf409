"""The center's servers, for admins: each server's role, address, version, cameras,
CPU, load and last heartbeat, and whether it is up, late, down or draining; draining a
worker before maintenance, and cameras pinned to a worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from camera_center.api.deps import Admin, ServicesDep
from camera_center.cluster.nodes import Node, NodeState
from camera_center.errors import NotFound, UnprocessableEntity, problem_responses
from camera_center.services import Services
from camera_center.validation import SLUG_PATTERN

router = APIRouter(prefix="/cluster", tags=["cluster"], responses=problem_responses(401, 403))

NodeId = Path(min_length=1, max_length=64, description="The server's node id")
CameraId = Path(pattern=SLUG_PATTERN, description="Camera id, e.g. 'du-cho-01'")
# The roles of the servers that read cameras (an API server reads none).
_READERS = ("worker", "all")


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
    now: datetime = Field(description="The answering server's clock: heartbeat ages are "
                                      "measured against it, not the browser's")


class DrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    draining: bool = Field(description="true: hand its cameras to the other workers and "
                                       "take no more; false: take cameras again")


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node_id: Annotated[str, Field(min_length=1, max_length=64,
                                  description="A worker (role worker or all)")]


class PinOut(BaseModel):
    camera_id: str
    node_id: str


class PinList(BaseModel):
    items: list[PinOut]


def _out(node: Node) -> NodeOut:
    return NodeOut(**node.__dict__)


async def _node(services: Services, node_id: str) -> Node | None:
    return next((n for n in await services.nodes.list() if n.node_id == node_id), None)


@router.get("/nodes", response_model=NodeList, summary="The center's servers")
async def nodes(_admin: Admin, services: ServicesDep) -> NodeList:
    listed = await services.nodes.list()
    this = services.heartbeat.node_id if services.heartbeat else ""
    return NodeList(items=[_out(n) for n in listed], heartbeat_s=services.nodes.interval_s,
                    this_node=this, now=datetime.now(UTC))


@router.post("/nodes/{node_id}/drain", response_model=NodeOut,
             responses=problem_responses(400, 404, 422),
             summary="Drain a worker before maintenance, or let it take cameras again",
             description="A draining worker keeps its heartbeat but its cameras go to the "
                         "other workers and it is given none; it stays draining across "
                         "restarts until undrained.")
async def drain(body: DrainIn, who: Admin, services: ServicesDep,
                node_id: str = NodeId) -> NodeOut:
    node = await _node(services, node_id)
    if node is None:
        raise NotFound(f"Server '{node_id}' is not known: it has never sent a heartbeat "
                       "(see GET /api/v1/cluster/nodes).")
    if node.role not in _READERS:
        raise UnprocessableEntity(f"Server '{node_id}' is an API server (role {node.role}): "
                                  "it reads no cameras, so there is nothing to drain.")
    if not await services.nodes.set_draining(node_id, body.draining, who):
        raise NotFound(f"Server '{node_id}' is no longer known.")
    updated = await _node(services, node_id)
    if updated is None:
        raise NotFound(f"Server '{node_id}' is no longer known.")
    return _out(updated)


@router.get("/pins", response_model=PinList, summary="Cameras pinned to a worker")
async def pins(_admin: Admin, services: ServicesDep) -> PinList:
    pinned = await services.pins.all()
    return PinList(items=[PinOut(camera_id=c, node_id=n) for c, n in sorted(pinned.items())])


@router.put("/pins/{camera_id}", response_model=PinOut,
            responses=problem_responses(400, 404, 422),
            summary="Pin a camera to a worker",
            description="The camera goes to that worker while it is up and not draining, "
                        "and back to the ordinary plan while it is not.")
async def pin(body: PinIn, who: Admin, services: ServicesDep,
              camera_id: str = CameraId) -> PinOut:
    await services.cameras.get(who, camera_id)      # 404 for a camera that does not exist
    node = await _node(services, body.node_id)
    if node is None:
        raise UnprocessableEntity(f"Server '{body.node_id}' is not known: pin the camera to "
                                  "a server listed by GET /api/v1/cluster/nodes.")
    if node.role not in _READERS:
        raise UnprocessableEntity(f"Server '{body.node_id}' is an API server (role "
                                  f"{node.role}): it reads no cameras; pin to a worker "
                                  "(role worker or all).")
    try:
        await services.pins.pin(camera_id, body.node_id, who)
    except IntegrityError:  # the camera was deleted meanwhile (its pins go with it)
        raise NotFound(f"Camera '{camera_id}' does not exist.") from None
    return PinOut(camera_id=camera_id, node_id=body.node_id)


@router.delete("/pins/{camera_id}", status_code=204, responses=problem_responses(404, 422),
               summary="Unpin a camera: it goes back to the ordinary plan")
async def unpin(who: Admin, services: ServicesDep, camera_id: str = CameraId) -> Response:
    if not await services.pins.unpin(camera_id, who):
        raise NotFound(f"Camera '{camera_id}' is not pinned to a server.")
    return Response(status_code=204)
