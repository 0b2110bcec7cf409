"""Webhooks: signed JSON POSTs of alert events, at least once, retried with backoff.

The alert event log is the outbox. For each subscription the dispatcher turns the
events after its cursor into delivery rows and moves the cursor, in one transaction;
then it sends what is due. A restart at any point loses nothing: an event not yet
taken in is still after the cursor, a delivery not yet confirmed is still pending.
Receivers dedupe on ``X-Camera-Center-Event-Id`` (a retry after a lost answer sends
the same event again, with the same id and body).

Several API servers run a dispatcher each on one PostgreSQL database and deliver each
event once between them: taking in locks the subscriptions' rows (the second server
then finds the cursor moved), and sending first claims the due deliveries
(``FOR UPDATE SKIP LOCKED``, then pushed back by the longest a batch can take), so a
server that dies mid-batch leaves them due again for the others a minute later.

Signature: ``X-Camera-Center-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the subscription's secret>``; check it and that t is recent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select

from camera_center.alerts.lifecycle import Priority
from camera_center.alerts.models import AlertEvent
from camera_center.crypto import CredentialCipher
from camera_center.delivery.models import WebhookDelivery, WebhookSubscription
from camera_center.events import EventBus
from camera_center.logs import get_logger
from camera_center.registry.areas import descendants, tree_pairs
from camera_center.settings import WebhookSettings
from camera_center.storage.engine import Database, rowcount
from ingest.backoff import Backoff

log = get_logger(__name__)

_TAKE_IN = 500           # events per subscription per pass
_SEND_BATCH = 100        # due deliveries per pass
_IDLE_WAKE_S = 1.0       # look for due retries at least this often
# ... and at most this often: under a burst of alerts one pass takes in many events,
# instead of two queries per alert (measured: bench.alerts at 100 alerts/s).
_MIN_PASS_S = 0.2
_PRIORITY_RANK = {p.value: i for i, p in enumerate(Priority)}  # critical=0 ... low=3


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def matches(filters: dict[str, Any], area_id: str, kind: str, priority: str,
            area_ids: set[str] | None) -> bool:
    """*area_ids*: the subscription's areas with everything below them (None: all)."""
    if area_ids is not None and area_id not in area_ids:
        return False
    if filters.get("kinds") and kind not in filters["kinds"]:
        return False
    lowest = filters.get("min_priority")
    return not lowest or _PRIORITY_RANK.get(priority, 9) <= _PRIORITY_RANK[lowest]


@dataclass
class _Target:
    id: int
    url: str
    secret: str


class WebhookDispatcher:
    def __init__(self, db: Database, bus: EventBus, cipher: CredentialCipher,
                 settings: WebhookSettings, keep_days: int = 14) -> None:
        """Delivered and dead deliveries are kept *keep_days* for the delivery log."""
        self.db = db
        self.keep = timedelta(days=keep_days)
        self._pruned_at = 0.0
        self.bus = bus
        self.cipher = cipher
        self.settings = settings
        # A failed delivery waits 80-100 % of the doubling step: spread, yet on schedule.
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_cap_s, jitter=0.2)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.settings.timeout_s,
                                         follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        wake = self.bus.subscribe("alert.", maxsize=1)  # only a doorbell: content unused
        try:
            while True:
                try:
                    await self.take_in()
                    await self.send_due()
                    if time.monotonic() - self._pruned_at > 3600:
                        self._pruned_at = time.monotonic()
                        await self.prune(datetime.now(UTC) - self.keep)
                except Exception:
                    log.exception("webhook pass failed")
                await asyncio.sleep(_MIN_PASS_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.get(), _IDLE_WAKE_S - _MIN_PASS_S)
        finally:
            wake.close()

    async def take_in(self) -> int:
        """Turn new events into deliveries for every enabled subscription."""
        made = 0
        async with self.db.session() as s:
            # Locked until this pass commits: another API server's pass waits, then
            # reads the cursors this one moved (SQLite has one server: no lock needed).
            subs = list((await s.scalars(select(WebhookSubscription).where(
                WebhookSubscription.enabled.is_(True))
                .order_by(WebhookSubscription.id).with_for_update())).all())
            if not subs:
                return 0
            tree = await tree_pairs(s)
            for sub in subs:
                events = list((await s.scalars(
                    select(AlertEvent).where(AlertEvent.id > sub.last_event_id)
                    .order_by(AlertEvent.id).limit(_TAKE_IN))).all())
                if not events:
                    continue
                filters = sub.filters or {}
                areas = descendants(tree, filters["area_ids"]) if filters.get("area_ids") \
                    else None
                for e in events:
                    if matches(filters, e.area_id, e.kind, e.priority, areas):
                        s.add(WebhookDelivery(
                            subscription_id=sub.id, event_id=e.id, alert_id=e.alert_id,
                            topic=e.topic, payload=e.payload, status="pending", attempts=0,
                            next_attempt_at=datetime.now(UTC)))
                        made += 1
                sub.last_event_id = events[-1].id
            await s.commit()
        return made

    async def prune(self, before: datetime) -> int:
        async with self.db.session() as s:
            result = await s.execute(delete(WebhookDelivery).where(
                WebhookDelivery.status != "pending", WebhookDelivery.created_at < before))
            await s.commit()
        return rowcount(result)

    @property
    def claim_s(self) -> float:
        """How long a batch being sent is this server's: the longest it can take (every
        wave of ``concurrency`` posts timing out) and some room."""
        return math.ceil(_SEND_BATCH / self.settings.concurrency) * self.settings.timeout_s + 30

    async def send_due(self) -> int:
        now = datetime.now(UTC)
        async with self.db.session() as s:
            # Claimed: the other API servers skip these rows now and find them not due
            # after the commit; the outcome below sets their next attempt for real. (One
            # server on SQLite claims nothing: a restart mid-batch resends at once.)
            # Only enabled subscriptions' deliveries: a disabled one's backlog waits
            # without taking the batch from the others.
            due = list((await s.scalars(
                select(WebhookDelivery)
                .join(WebhookSubscription,
                      WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.status == "pending",
                       WebhookDelivery.next_attempt_at <= now,
                       WebhookSubscription.enabled.is_(True))
                .order_by(WebhookDelivery.id).limit(_SEND_BATCH)
                .with_for_update(skip_locked=True, of=WebhookDelivery))).all())
            if not due:
                return 0
            if self.db.dialect == "postgresql":  # several servers may share the rows
                claimed_until = now + timedelta(seconds=self.claim_s)
                for d in due:
                    d.next_attempt_at = claimed_until
            subs = {sub.id: sub for sub in (await s.scalars(select(WebhookSubscription).where(
                WebhookSubscription.id.in_({d.subscription_id for d in due})))).all()}
            await s.commit()
        targets = {i: _Target(i, sub.url, self.cipher.decrypt(sub.secret_enc))
                   for i, sub in subs.items() if sub.enabled}
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(delivery: WebhookDelivery) -> tuple[WebhookDelivery, int | None, str | None]:
            target = targets.get(delivery.subscription_id)
            if target is None:
                return delivery, None, "subscription disabled"
            async with limit:
                return (delivery, *await self._post(target, delivery))

        results = await asyncio.gather(*(one(d) for d in due))
        async with self.db.session() as s:
            for delivery, status_code, error in results:
                row = await s.get(WebhookDelivery, delivery.id)
                if row is None:
                    continue
                if error == "subscription disabled":  # meanwhile: due once enabled again
                    row.next_attempt_at = now
                    continue
                row.attempts += 1
                row.last_status_code = status_code
                row.last_error = error
                if error is None:
                    row.status, row.delivered_at = "delivered", datetime.now(UTC)
                elif row.attempts >= self.settings.max_attempts:
                    row.status = "dead"
                    log.warning("webhook delivery dead", delivery_id=row.id,
                                subscription_id=row.subscription_id, attempts=row.attempts,
                                error=error)
                else:
                    row.next_attempt_at = datetime.now(UTC) + timedelta(
                        seconds=self._backoff.delay(row.attempts - 1))
            await s.commit()
        return len(results)


    async def _post(self, target: _Target, d: WebhookDelivery) -> tuple[int | None, str | None]:
        body = json.dumps({"event_id": d.event_id, "event": d.topic, "alert": d.payload},
                          ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   "User-Agent": "camera-center-webhook",
                   "X-Camera-Center-Event-Id": str(d.event_id),
                   "X-Camera-Center-Event": d.topic,
                   "X-Camera-Center-Signature": sign(target.secret, body, int(time.time()))}
        assert self._client is not None
        try:
            r = await self._client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: no answer from the receiver"
        if 200 <= r.status_code < 300:
            return r.status_code, None
        return r.status_code, f"the receiver answered {r.status_code}"
