"""The audit log, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from camera_center.api.deps import Admin, ServicesDep
from camera_center.audit import log as audit
from camera_center.errors import problem_responses
from camera_center.validation import IsoDateTime

router = APIRouter(prefix="/audit", tags=["audit"], responses=problem_responses(401, 403, 422))


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    source_ip: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_before_id: int | None


Short = Annotated[str | None, Query(max_length=128)]


@router.get("", response_model=AuditPage, summary="Who did what, newest first")
async def list_audit(
    who: Admin, services: ServicesDep, actor: Short = None, action: Short = None,
    target_type: Short = None, target_id: Short = None,
    since: IsoDateTime | None = None, until: IsoDateTime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    stmt = audit.query(actor=actor, action=action, target_type=target_type,
                       target_id=target_id, since=since, until=until, before_id=before_id,
                       limit=limit)
    async with services.db.session() as s:
        rows = list((await s.scalars(stmt)).all())
    items = [AuditOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)
