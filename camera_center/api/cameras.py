"""Cameras: read within your areas; admins register, change, import and export them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Response, UploadFile

from camera_center.api.deps import Admin, AnyUser, ServicesDep
from camera_center.errors import problem_responses
from camera_center.registry.cameras import to_out
from camera_center.registry.csv_io import export_cameras, import_cameras
from camera_center.registry.schemas import (
    CameraCreate,
    CameraOut,
    CameraPage,
    CameraUpdate,
    ImportReport,
)
from camera_center.validation import AREA_CODE_PATTERN, SLUG_PATTERN

router = APIRouter(prefix="/cameras", tags=["cameras"],
                   responses=problem_responses(400, 401, 403, 404, 409, 413, 422))

CameraId = Path(pattern=SLUG_PATTERN, description="Camera id, e.g. 'du-cho-01'")


@router.get("", response_model=CameraPage, summary="Cameras in your areas")
async def list_cameras(
    who: AnyUser, services: ServicesDep,
    area_id: Annotated[str | None, Query(pattern=AREA_CODE_PATTERN,
                                         description="This area and the areas below it")] = None,
    enabled: bool | None = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in id and name")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CameraPage:
    items, total = await services.cameras.list(who, area_id=area_id, enabled=enabled, tag=tag,
                                               q=q, limit=limit, offset=offset)
    return CameraPage(items=[to_out(c, who) for c in items], total=total, limit=limit,
                      offset=offset)


@router.post("", response_model=CameraOut, status_code=201, summary="Register a camera")
async def create_camera(body: CameraCreate, who: Admin, services: ServicesDep) -> CameraOut:
    return to_out(await services.cameras.create(body, who), who)


@router.post("/import", response_model=ImportReport,
             summary="Create or update cameras from a CSV file",
             description="Columns: id,name,area_id,main_url (required) and address,lat,lon,"
                         "sub_url,onvif_url,snapshot_url,username,password,enabled,tags,"
                         "detect_fps. Valid rows are applied, invalid rows are reported; "
                         "with dry_run nothing is stored.")
async def import_csv(who: Admin, services: ServicesDep,
                     file: Annotated[UploadFile, File(description="CSV, UTF-8")],
                     dry_run: bool = False) -> ImportReport:
    raw = await file.read()
    return await import_cameras(services.cameras, raw, who, dry_run=dry_run)


@router.get("/export", summary="All cameras as CSV (without passwords)",
            response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_csv(who: Admin, services: ServicesDep) -> Response:
    body = await export_cameras(services.cameras, who)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="cameras.csv"'})


@router.get("/{camera_id}", response_model=CameraOut)
async def get_camera(who: AnyUser, services: ServicesDep,
                     camera_id: str = CameraId) -> CameraOut:
    return to_out(await services.cameras.get(who, camera_id), who)


@router.patch("/{camera_id}", response_model=CameraOut)
async def update_camera(body: CameraUpdate, who: Admin, services: ServicesDep,
                        camera_id: str = CameraId) -> CameraOut:
    return to_out(await services.cameras.update(camera_id, body, who), who)


@router.delete("/{camera_id}", status_code=204)
async def delete_camera(who: Admin, services: ServicesDep,
                        camera_id: str = CameraId) -> Response:
    await services.cameras.delete(camera_id, who)
    return Response(status_code=204)
