"""The area tree: everyone signed in reads it (filters need it); admins change it."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from camera_center.api.deps import Admin, AnyUser, ServicesDep
from camera_center.errors import problem_responses
from camera_center.registry.models import Area
from camera_center.registry.schemas import AreaCreate, AreaKind, AreaOut, AreaUpdate
from camera_center.validation import AREA_CODE_PATTERN

router = APIRouter(prefix="/areas", tags=["areas"],
                   responses=problem_responses(400, 401, 403, 404, 409, 422))

AreaId = Path(pattern=AREA_CODE_PATTERN)


def _out(area: Area) -> AreaOut:
    return AreaOut(id=area.id, name=area.name, kind=AreaKind(area.kind),
                   parent_id=area.parent_id, created_at=area.created_at,
                   updated_at=area.updated_at)


@router.get("", response_model=list[AreaOut])
async def list_areas(who: AnyUser, services: ServicesDep) -> list[AreaOut]:
    return [_out(a) for a in await services.areas.list()]


@router.post("", response_model=AreaOut, status_code=201)
async def create_area(body: AreaCreate, who: Admin, services: ServicesDep) -> AreaOut:
    return _out(await services.areas.create(body, who))


@router.get("/{area_id}", response_model=AreaOut)
async def get_area(who: AnyUser, services: ServicesDep, area_id: str = AreaId) -> AreaOut:
    return _out(await services.areas.get(area_id))


@router.patch("/{area_id}", response_model=AreaOut)
async def update_area(body: AreaUpdate, who: Admin, services: ServicesDep,
                      area_id: str = AreaId) -> AreaOut:
    return _out(await services.areas.update(area_id, body, who))


@router.delete("/{area_id}", status_code=204)
async def delete_area(who: Admin, services: ServicesDep, area_id: str = AreaId) -> Response:
    await services.areas.delete(area_id, who)
    return Response(status_code=204)
