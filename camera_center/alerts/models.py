"""Alert tables: the alert itself and the history of everything that happened to it.

Alerts keep their camera's id, name and area as they were when the alert was raised
(no foreign key): removing or moving a camera must not rewrite or lose past alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from camera_center.storage.base import Base, JSONType, UTCDateTime, utcnow


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_started_at_id", "started_at", "id"),
        Index("ix_alerts_area_started", "area_id", "started_at"),
        Index("ix_alerts_camera_started", "camera_id", "started_at"),
        Index("ix_alerts_status_started", "status", "started_at"),
        Index("ix_alerts_dedupe", "dedupe_key", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[str] = mapped_column(String(64))
    camera_name: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_name: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    label: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    zone: Mapped[str | None] = mapped_column(String(200))
    track_id: Mapped[int | None] = mapped_column(Integer)
    box: Mapped[list[float] | None] = mapped_column(JSONType)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    snapshot_path: Mapped[str | None] = mapped_column(String(300))
    clip_path: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlertHistory(Base):
    """One line per change: raised, seen again, status, assignment, comment."""

    __tablename__ = "alert_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"),
                                          index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class AlertEvent(Base):
    """Every change to an alert, in commit order: what live streams replay after a
    reconnect and what webhooks and MQTT deliver from (the outbox). Written in the same
    transaction as the change itself."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(32))      # alert.created | alert.updated
    alert_id: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)

