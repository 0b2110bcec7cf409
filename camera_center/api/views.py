"""Saved wall views: each operator keeps their own layouts and camera lists."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from camera_center.api.deps import ServicesDep, Staff
from camera_center.errors import problem_responses
from camera_center.services import Services
from camera_center.views.schemas import ViewCreate, ViewOut, ViewUpdate
from camera_center.views.store import ViewStore, to_out

router = APIRouter(prefix="/views", tags=["views"],
                   responses=problem_responses(400, 401, 403, 404, 409, 413, 422))

ViewId = Path(ge=1, le=2**31 - 1, description="View id")


def _store(services: Services) -> ViewStore:
    # Stateless over the database: cheaper to build per request than to wire into Services.
    return ViewStore(services.db, services.cameras)


@router.get("", response_model=list[ViewOut], summary="Your saved wall views")
async def list_views(who: Staff, services: ServicesDep) -> list[ViewOut]:
    return [to_out(v) for v in await _store(services).list(who)]


@router.post("", response_model=ViewOut, status_code=201, summary="Save a wall view",
             description="A layout (1, 4, 9, 16, 25 or 36 tiles), filters (area, group, "
                         "status, search) and/or an explicit list of cameras in order.")
async def create_view(body: ViewCreate, who: Staff, services: ServicesDep) -> ViewOut:
    return to_out(await _store(services).create(who, body))


@router.get("/{view_id}", response_model=ViewOut, summary="One of your saved views")
async def get_view(who: Staff, services: ServicesDep, view_id: int = ViewId) -> ViewOut:
    return to_out(await _store(services).get(who, view_id))


@router.patch("/{view_id}", response_model=ViewOut, summary="Change one of your saved views")
async def update_view(body: ViewUpdate, who: Staff, services: ServicesDep,
                      view_id: int = ViewId) -> ViewOut:
    return to_out(await _store(services).update(who, view_id, body))


@router.delete("/{view_id}", status_code=204, summary="Delete one of your saved views")
async def delete_view(who: Staff, services: ServicesDep, view_id: int = ViewId) -> Response:
    await _store(services).delete(who, view_id)
    return Response(status_code=204)
