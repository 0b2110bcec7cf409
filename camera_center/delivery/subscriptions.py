"""Webhook subscriptions: admins add, change and remove them (audited); secrets are
stored encrypted and never shown again after creation."""

from __future__ import annotations

import builtins
import secrets as token_source
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from camera_center.alerts.models import AlertEvent
from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.crypto import CredentialCipher
from camera_center.delivery.models import WebhookDelivery, WebhookSubscription
from camera_center.delivery.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookFilters,
    WebhookOut,
    WebhookUpdate,
)
from camera_center.errors import Conflict, NotFound
from camera_center.storage.engine import Database
from ingest.urls import mask_url


class WebhookStore:
    def __init__(self, db: Database, cipher: CredentialCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def _counts(self, sub_ids: list[int]) -> dict[tuple[int, str], int]:
        async with self.db.session() as s:
            rows = await s.execute(
                select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
                .where(WebhookDelivery.subscription_id.in_(sub_ids),
                       WebhookDelivery.status.in_(["pending", "dead"]))
                .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))
            return {(sid, status): n for sid, status, n in rows}

    async def out(self, subs: list[WebhookSubscription]) -> list[WebhookOut]:
        counts = await self._counts([sub.id for sub in subs])
        return [WebhookOut(
            id=sub.id, name=sub.name, url=mask_url(sub.url) or "",
            filters=WebhookFilters(**(sub.filters or {})), enabled=sub.enabled,
            last_event_id=sub.last_event_id, pending=counts.get((sub.id, "pending"), 0),
            dead=counts.get((sub.id, "dead"), 0), created_at=sub.created_at,
            updated_at=sub.updated_at) for sub in subs]

    async def list(self) -> list[WebhookSubscription]:
        async with self.db.session() as s:
            return list((await s.scalars(select(WebhookSubscription)
                                         .order_by(WebhookSubscription.id))).all())

    async def get(self, sub_id: int) -> WebhookSubscription:
        async with self.db.session() as s:
            sub = await s.get(WebhookSubscription, sub_id)
        if sub is None:
            raise NotFound(f"Webhook {sub_id} does not exist.")
        return sub

    async def create(self, who: Principal, data: WebhookCreate) -> tuple[WebhookSubscription,
                                                                         str | None]:
        generated = None if data.secret else token_source.token_urlsafe(32)
        secret = data.secret.get_secret_value() if data.secret else generated
        assert secret is not None
        async with self.db.session() as s:
            # From now on: a new subscription does not get the whole history at once.
            latest = int(await s.scalar(select(func.max(AlertEvent.id))) or 0)
            sub = WebhookSubscription(
                name=data.name, url=data.url, secret_enc=self.cipher.encrypt(secret),
                filters=data.filters.model_dump(mode="json"), enabled=data.enabled,
                last_event_id=latest)
            s.add(sub)
            try:
                await s.flush()
            except IntegrityError:
                raise Conflict(f"A webhook named '{data.name}' already exists.") from None
            audit.record(s, who, "webhook.create", target_type="webhook", target_id=sub.id,
                         detail={"name": sub.name, "url": mask_url(sub.url)})
            await s.commit()
        return sub, generated

    async def update(self, who: Principal, sub_id: int, data: WebhookUpdate) -> WebhookSubscription:
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        async with self.db.session() as s:
            sub = await s.get(WebhookSubscription, sub_id)
            if sub is None:
                raise NotFound(f"Webhook {sub_id} does not exist.")
            for key in ("name", "url", "enabled"):
                if changes.get(key) is not None:
                    setattr(sub, key, changes[key])
            if data.filters is not None:
                sub.filters = data.filters.model_dump(mode="json")
            if data.secret is not None:
                sub.secret_enc = self.cipher.encrypt(data.secret.get_secret_value())
            audit.record(s, who, "webhook.update", target_type="webhook", target_id=sub_id,
                         detail={"changed": sorted(changes)})
            try:
                await s.commit()
            except IntegrityError:
                raise Conflict(f"A webhook named '{data.name}' already exists.") from None
        return sub

    async def delete(self, who: Principal, sub_id: int) -> None:
        async with self.db.session() as s:
            sub = await s.get(WebhookSubscription, sub_id)
            if sub is None:
                raise NotFound(f"Webhook {sub_id} does not exist.")
            await s.execute(delete(WebhookDelivery).where(
                WebhookDelivery.subscription_id == sub_id))
            await s.delete(sub)
            audit.record(s, who, "webhook.delete", target_type="webhook", target_id=sub_id,
                         detail={"name": sub.name})
            await s.commit()

    async def deliveries(self, sub_id: int, status: str | None, before_id: int | None,
                         limit: int) -> builtins.list[DeliveryOut]:
        await self.get(sub_id)
        stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id) \
            .order_by(WebhookDelivery.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(WebhookDelivery.status == status)
        if before_id:
            stmt = stmt.where(WebhookDelivery.id < before_id)
        async with self.db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]

    async def retry(self, who: Principal, sub_id: int, delivery_id: int) -> DeliveryOut:
        async with self.db.session() as s:
            row = await s.get(WebhookDelivery, delivery_id)
            if row is None or row.subscription_id != sub_id:
                raise NotFound(f"Delivery {delivery_id} of webhook {sub_id} does not exist.")
            if row.status != "dead":
                raise Conflict(f"Delivery {delivery_id} is {row.status}; only dead deliveries "
                               "are retried by hand.")
            row.status, row.attempts = "pending", 0
            row.next_attempt_at = datetime.now(UTC)
            audit.record(s, who, "webhook.retry", target_type="webhook", target_id=sub_id,
                         detail={"delivery_id": delivery_id, "event_id": row.event_id})
            await s.commit()
            await s.refresh(row)
        return DeliveryOut.model_validate(row, from_attributes=True)
