"""API models of alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from camera_center.alerts.lifecycle import AlertStatus, Priority
from camera_center.auth.schemas import Username
from camera_center.validation import SLUG_PATTERN, Text


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertOut(BaseModel):
    id: int
    kind: str
    camera_id: str
    camera_name: str
    area_id: str
    rule_id: int | None
    rule_name: str | None
    priority: Priority
    started_at: datetime
    last_seen_at: datetime
    occurrences: int = Field(description="Detections folded into this alert (one incident)")
    label: str | None
    score: float | None
    zone: str | None
    track_id: int | None
    box: list[float] | None = Field(description="x1, y1, x2, y2 in 0..1 of the picture")
    detail: dict[str, Any]
    status: AlertStatus
    assignee: str | None
    has_snapshot: bool
    has_clip: bool
    updated_at: datetime


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class CommentOut(BaseModel):
    at: datetime
    author: str
    text: str


class AlertDetail(AlertOut):
    allowed_next: list[AlertStatus]
    comments: list[CommentOut]
    history: list[HistoryOut]


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class NoteIn(_In):
    note: Text | None = None


class CommentIn(_In):
    text: Text


class AssignIn(_In):
    username: Username | None = Field(description="Who takes the alert; null to unassign")


class Count(BaseModel):
    key: str
    count: int


class SummaryOut(BaseModel):
    since: datetime
    until: datetime
    total: int
    by_area: list[Count]
    by_kind: list[Count]
    by_status: list[Count]
    by_hour: list[Count] = Field(description="UTC hours, ISO 8601, oldest first")


CameraFilter = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
