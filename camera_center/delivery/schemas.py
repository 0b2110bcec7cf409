"""API models of webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from camera_center.alerts.lifecycle import AlertKind, Priority
from camera_center.validation import AreaCode, HttpURL, Name

Secret = Annotated[SecretStr, Field(min_length=16, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookFilters(_In):
    area_ids: Annotated[list[AreaCode], Field(max_length=200)] = Field(
        default_factory=list, description="These areas and those below them; empty: all")
    kinds: Annotated[list[AlertKind], Field(max_length=20)] = Field(
        default_factory=list, description="Empty: every kind")
    min_priority: Priority | None = Field(None, description="e.g. high: high and critical")


class WebhookCreate(_In):
    name: Name
    url: HttpURL
    secret: Secret | None = Field(None, description="Omit to have one generated (shown once)")
    filters: WebhookFilters = Field(default_factory=WebhookFilters)
    enabled: bool = True


class WebhookUpdate(_In):
    name: Name | None = None
    url: HttpURL | None = None
    secret: Secret | None = None
    filters: WebhookFilters | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    filters: WebhookFilters
    enabled: bool
    last_event_id: int
    pending: int
    dead: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(description="Only when it was generated; not shown again")


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    alert_id: int
    topic: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_before_id: int | None
