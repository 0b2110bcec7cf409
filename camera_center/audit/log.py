"""Writing and reading the audit log.

Entries are added in the same transaction as the change they describe, so a
change is never stored without its audit line (nor the other way round).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit.models import AuditEntry
from camera_center.auth.roles import Principal, system_principal
from camera_center.storage.engine import rowcount


def record(session: AsyncSession, actor: Principal, action: str, *,
           target_type: str | None = None, target_id: str | int | None = None,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.user_id, actor=actor.username, action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id), source_ip=actor.source_ip,
        detail=detail or {},
    )
    session.add(entry)
    return entry


def record_anonymous(session: AsyncSession, username: str, action: str, source_ip: str | None,
                     detail: dict[str, Any] | None = None) -> AuditEntry:
    """For events without an authenticated actor (a failed login)."""
    entry = AuditEntry(actor_id=None, actor=username[:64], action=action, target_type="user",
                       target_id=username[:128], source_ip=source_ip, detail=detail or {})
    session.add(entry)
    return entry


def query(*, actor: str | None = None, action: str | None = None,
          target_type: str | None = None, target_id: str | None = None,
          since: datetime | None = None, until: datetime | None = None,
          before_id: int | None = None, limit: int = 100) -> Select[AuditEntry]:
    """Newest first; page with *before_id* = the last id of the previous page."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return stmt


async def prune(session: AsyncSession, before: datetime) -> int:
    """Remove entries older than *before* (``retention.audit_days``), and say so in the
    log itself: the trail shows when and how far it was cut. Commits."""
    removed = rowcount(await session.execute(delete(AuditEntry).where(AuditEntry.at < before)))
    if removed:
        record(session, system_principal("retention"), "audit.pruned",
               detail={"entries": removed, "before": before.isoformat()})
    await session.commit()
    return removed
