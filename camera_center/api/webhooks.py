"""Webhook subscriptions and their delivery log, for admins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from camera_center.api.deps import Admin, ServicesDep
from camera_center.delivery.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from camera_center.errors import problem_responses

router = APIRouter(prefix="/webhooks", tags=["webhooks"],
                   responses=problem_responses(400, 401, 403, 404, 409, 422))

WebhookId = Path(ge=1, le=2**31 - 1, description="Webhook id")
DeliveryId = Path(ge=1, le=2**31 - 1, description="Delivery id")


@router.get("", response_model=list[WebhookOut], summary="Webhook subscriptions")
async def list_webhooks(who: Admin, services: ServicesDep) -> list[WebhookOut]:
    store = services.webhooks
    return await store.out(await store.list())


@router.post("", response_model=WebhookCreated, status_code=201,
             summary="Subscribe a URL to alert events (HMAC-signed JSON POSTs)")
async def create_webhook(body: WebhookCreate, who: Admin, services: ServicesDep) -> WebhookCreated:
    sub, generated = await services.webhooks.create(who, body)
    [out] = await services.webhooks.out([sub])
    return WebhookCreated(**out.model_dump(), secret=generated)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(who: Admin, services: ServicesDep,
                      webhook_id: int = WebhookId) -> WebhookOut:
    [out] = await services.webhooks.out([await services.webhooks.get(webhook_id)])
    return out


@router.patch("/{webhook_id}", response_model=WebhookOut)
async def update_webhook(body: WebhookUpdate, who: Admin, services: ServicesDep,
                         webhook_id: int = WebhookId) -> WebhookOut:
    [out] = await services.webhooks.out([await services.webhooks.update(who, webhook_id, body)])
    return out


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(who: Admin, services: ServicesDep,
                         webhook_id: int = WebhookId) -> Response:
    await services.webhooks.delete(who, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage,
            summary="What was sent, newest first: attempts, answers, dead letters")
async def deliveries(
    who: Admin, services: ServicesDep, webhook_id: int = WebhookId,
    status: Literal["pending", "delivered", "dead"] | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryPage:
    items = await services.webhooks.deliveries(webhook_id, status, before_id, limit)
    return DeliveryPage(items=items,
                        next_before_id=items[-1].id if len(items) == limit else None)


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut,
             summary="Send a dead delivery again")
async def retry(who: Admin, services: ServicesDep, webhook_id: int = WebhookId,
                delivery_id: int = DeliveryId) -> DeliveryOut:
    return await services.webhooks.retry(who, webhook_id, delivery_id)
