"""Finding 10 of the outside review: reads any signed-in user can ask for stay cheap.
A stream resumed from event id 0 replays only the newest events (filtered by the
database), and the summary is counted by the database (its speed at 1,000,000 alerts
is measured by bench.alert_queries)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from camera_center.alerts.live import FeedFilters
from camera_center.alerts.models import AlertEvent
from camera_center.app import create_app
from camera_center.auth.roles import Principal, Role
from camera_center.settings import Settings
from tests.conftest import call, seed_areas, services_of


def _event(n: int, area: str) -> dict[str, Any]:
    alert = {"id": n, "area_id": area, "camera_id": f"cam-{area}", "kind": "motion",
             "priority": "low", "status": "new"}
    return {"topic": "alert.created", "alert_id": n, "area_id": area,
            "camera_id": f"cam-{area}", "kind": "motion", "priority": "low",
            "payload": alert}


def test_a_resume_from_zero_replays_only_the_newest_events(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(alerts={"replay_max_events": 100})
    with TestClient(create_app(settings)) as client:
        services = services_of(client)
        seed_areas(client)

        async def fill() -> None:
            async with services.db.session() as s:
                await s.execute(insert(AlertEvent), [
                    _event(n, "DU" if n % 2 else "YN") for n in range(1, 301)])
                await s.commit()

        async def replayed(who: Principal) -> list[int]:
            feed = services.alert_feed.follow(who, FeedFilters(), last_id=0)
            ids: list[int] = []
            try:
                while True:
                    page = await asyncio.wait_for(anext(feed), 1.0)
                    ids += [item.id for item in page]
            except TimeoutError:
                return ids
            finally:
                await feed.aclose()

        call(client, fill)
        admin = Principal(user_id=None, username="a", role=Role.ADMIN)
        ids = call(client, replayed, admin)
        assert ids == list(range(201, 301)), "the newest 100, in order"
        officer = Principal(user_id=None, username="o", role=Role.OFFICER,
                            area_ids=frozenset({"DU"}))
        ids = call(client, replayed, officer)
        assert ids == [n for n in range(201, 301) if n % 2], "only the caller's area"
