"""The internal endpoint: what one server asks of another in multi-server mode (an API
server fetching a segment a worker recorded, an alert's picture or clip it stored, or an
export package another API server built).

Not for people: every call carries the center's shared secret (``cluster.secret``) in
``X-Cluster-Secret``, and a server without one (a single server) answers none.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import FileResponse
from pydantic import BaseModel

from camera_center.api.deps import ServicesDep
from camera_center.errors import NotFound, Unauthorized, problem_responses
from camera_center.recording.models import Segment

SECRET_HEADER = "X-Cluster-Secret"


async def _server(services: ServicesDep, x_cluster_secret: Annotated[
        str | None, Header(include_in_schema=False)] = None) -> None:
    secret = services.settings.cluster.secret
    if secret is None:
        raise NotFound("This server is not part of a cluster.")
    if x_cluster_secret is None or not hmac.compare_digest(
            x_cluster_secret.encode(), secret.get_secret_value().encode()):
        raise Unauthorized("Server-to-server calls need the cluster secret.")


router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False,
                   dependencies=[Depends(_server)], responses=problem_responses(401, 404))


@router.get("/segments/{segment_id}")
async def segment(segment_id: int, services: ServicesDep) -> FileResponse:
    """A segment this server recorded, as written (the one being written: so far)."""
    index = services.recordings.index
    async with services.db.session() as s:
        seg = await s.get(Segment, segment_id)
    if seg is None or seg.node_id != index.node_id:
        raise NotFound(f"Segment {segment_id} is not on this server.")
    path = index.root / seg.path
    if not path.is_file():
        raise NotFound(f"Segment {segment_id}'s file is gone (retention took it).")
    return FileResponse(path, media_type="video/mp4")


@router.get("/media/{path:path}")
async def media(path: str, services: ServicesDep) -> FileResponse:
    """An alert's snapshot or clip this server stored."""
    found = services.alerts.media.path(path)
    if found is None:
        raise NotFound("No such alert media on this server.")
    return FileResponse(found)


@router.get("/exports/{export_id}")
async def export_package(export_id: str, services: ServicesDep) -> FileResponse:
    """An export package this server built."""
    exports = services.recordings.exports
    export = await exports.get(export_id)
    if export is None or export.node_id != exports.node_id:
        raise NotFound(f"Export {export_id} is not on this server.")
    path = await exports.file(export)
    if path is None:
        raise NotFound(f"Export {export_id} has no package on this server.")
    return FileResponse(path, media_type="application/zip")


class ReaderStates(BaseModel):
    node_id: str
    cameras: dict[str, str]     # camera id -> stream state, of every reader running
    leases: dict[str, int]      # camera id -> fencing epoch held


@router.get("/cameras", response_model=ReaderStates)
async def cameras(services: ServicesDep) -> ReaderStates:
    """What this server reads now and the leases it holds (the other servers and the
    cluster tests check that no camera is read twice)."""
    fleet, member = services.fleet, services.membership
    return ReaderStates(
        node_id=services.heartbeat.node_id if services.heartbeat else "",
        cameras={c: fleet.state(c) for c in fleet.supervisor.camera_ids()} if fleet else {},
        leases={c: t.epoch for c, t in member.held.items()} if member else {})
