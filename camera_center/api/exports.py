"""Evidence exports: officers and admins package footage of their areas for investigators.

Operators watch but do not hand footage out. A package is downloadable by whoever made
it and by admins; every creation, download and deletion is audited. The public key
that verifies packages is public: investigators check packages without an account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.convertors import Convertor, register_url_convertor

from camera_center.api.deps import Exporter, ServicesDep
from camera_center.api.recordings import checked_range, utc, visible_cameras
from camera_center.audit import log as audit
from camera_center.auth.roles import Principal, Role
from camera_center.errors import BadRequest, NotFound, problem_responses
from camera_center.recording.models import Export
from camera_center.recording.schemas import ExportIn, ExportOut, PublicKeyOut
from camera_center.registry.models import Area

router = APIRouter(prefix="/exports", tags=["exports"],
                   responses=problem_responses(400, 401, 403, 404, 422))


class _ExportIdConvertor(Convertor[str]):
    """Export ids are 32 hex digits: other words after /exports/ (public-key) are not
    ids, so DELETE /exports/public-key is a 405 rather than an invalid id."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("export_id", _ExportIdConvertor())
ExportId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _out(e: Export) -> ExportOut:
    return ExportOut(id=e.id, state=e.state, progress=e.progress,
                     cameras=list(e.cameras), start=utc(e.start_ts), end=utc(e.end_ts),
                     reason=e.reason, case_number=e.case_number, created_by=e.created_by,
                     created_at=e.created_at, finished_at=e.finished_at, bytes=e.bytes,
                     error=e.error,
                     download=f"/api/v1/exports/{e.id}/download" if e.state == "done" else None)


async def _mine(services: ServicesDep, who: Principal, export_id: str) -> Export:
    export = await services.recordings.exports.get(export_id)
    # Someone else's export is as missing as one that never was.
    if export is None or (who.role is not Role.ADMIN and export.created_by != who.username):
        raise NotFound(f"Export '{export_id}' does not exist.")
    return export


@router.get("/public-key", response_model=PublicKeyOut,
            summary="The key that signs export manifests (public: verify packages with it)")
async def public_key(services: ServicesDep) -> PublicKeyOut:
    key = services.recordings.key
    return PublicKeyOut(pem=key.public_pem(), fingerprint=key.fingerprint())


@router.post("", response_model=ExportOut, status_code=202,
             summary="Package footage of cameras between two times (officers, admins)")
async def create_export(who: Exporter, services: ServicesDep, body: ExportIn) -> ExportOut:
    limit_s = services.settings.recording.export_max_hours * 3600
    s, e = checked_range(body.start, body.end, limit_s, "An export")
    cams = await visible_cameras(services, who, body.cameras)
    index = services.recordings.index
    with_footage = [c for c in cams if await index.segments(c[0], s, e)]
    if not with_footage:
        raise BadRequest("No footage of these cameras in that range: nothing to export.")
    async with services.db.session() as session:
        areas = {a.id: a.name for a in (await session.scalars(
            select(Area).where(Area.id.in_({c[2] for c in cams})))).all()}
    cameras = [{"id": c[0], "name": c[1], "area_id": c[2], "area_name": areas.get(c[2])}
               for c in cams]
    export = await services.recordings.exports.create(who, cameras, s, e, body.reason,
                                                      body.case_number)
    return _out(export)


@router.get("", response_model=list[ExportOut],
            summary="Exports: your own (admins: everyone's), newest first")
async def list_exports(who: Exporter, services: ServicesDep) -> list[ExportOut]:
    rows = await services.recordings.exports.list(None if who.role is Role.ADMIN else who)
    return [_out(e) for e in rows]


@router.get("/{export_id:export_id}", response_model=ExportOut,
            summary="An export and its progress")
async def get_export(who: Exporter, services: ServicesDep, export_id: ExportId) -> ExportOut:
    return _out(await _mine(services, who, export_id))


@router.get("/{export_id:export_id}/download", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}}},
            summary="The signed package (ZIP)")
async def download_export(who: Exporter, services: ServicesDep,
                          export_id: ExportId) -> FileResponse:
    export = await _mine(services, who, export_id)
    path = await services.recordings.exports.file(export)
    if path is None:
        raise NotFound(f"Export '{export_id}' is {export.state}: no package to download.")
    async with services.db.session() as session, session.begin():
        audit.record(session, who, "export.downloaded", target_type="export",
                     target_id=export_id, detail={"case_number": export.case_number})
    name = f"export-{export.case_number}-{export_id[:8]}.zip".replace("/", "-")
    # A copy fetched from the API server that holds the package goes once it is sent.
    done = BackgroundTask(path.unlink, missing_ok=True) \
        if services.recordings.exports.elsewhere(export) else None
    return FileResponse(path, media_type="application/zip", filename=name, background=done)


@router.delete("/{export_id:export_id}", status_code=204,
               summary="Delete an export (its footage hold ends with it)")
async def delete_export(who: Exporter, services: ServicesDep, export_id: ExportId) -> None:
    export = await _mine(services, who, export_id)
    if export.state in ("queued", "running"):
        raise BadRequest("The export is still running; delete it once it is done.")
    await services.recordings.exports.delete(who, export)
