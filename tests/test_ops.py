"""Health, readiness, metrics and API docs."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from tests.conftest import World, camera_body


def test_liveness_and_readiness_need_no_sign_in(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"


def test_readiness_fails_when_the_database_is_gone(client: TestClient) -> None:
    from camera_center.storage.engine import Database

    services = client.app.state.services
    working = services.db
    # A database that refuses connections (nothing listens on port 9 here).
    services.db = Database("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    try:
        r = client.get("/readyz")
    finally:
        client.portal.call(services.db.close)
        services.db = working
    assert r.status_code == 503
    assert r.json()["detail"] == "The database is not reachable."
    assert client.get("/readyz").status_code == 200


def test_metrics_need_admin_or_the_metrics_token(make_settings) -> None:
    settings = make_settings(server={"metrics_token": "prom-scrape-token-1"})
    with TestClient(create_app(settings)) as c:
        assert c.get("/metrics").status_code == 401
        r = c.get("/metrics", headers={"Authorization": "Bearer prom-scrape-token-1"})
        assert r.status_code == 200
        assert "camera_center_http_requests_total" in r.text
        assert 'camera_center_users 0.0' in r.text


def test_metrics_count_cameras(world: World) -> None:
    world.client.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    text = world.client.get("/metrics", headers=world.admin).text
    assert 'camera_center_cameras{enabled="true"} 1.0' in text
    assert 'route="/api/v1/cameras"' in text


def test_metrics_count_requests_by_route_template_not_by_id(world: World) -> None:
    world.client.post("/api/v1/cameras", headers=world.admin, json=camera_body())
    assert world.client.get("/api/v1/cameras/du-001", headers=world.admin).status_code == 200
    text = world.client.get("/metrics", headers=world.admin).text
    assert 'route="/api/v1/cameras/{camera_id}"' in text
    assert "du-001" not in text


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/cameras/import" in spec["paths"]


def test_landing_page_is_vietnamese_by_default(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and 'lang="vi"' in r.text and "Đăng nhập" in r.text


def test_a_part_that_does_not_stop_is_named_and_the_rest_still_stop(
        settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("camera_center.services._STOP_TIMEOUT_S", 0.2)
    stopped: list[str] = []

    async def never() -> None:
        await asyncio.Event().wait()

    async def alerts_stop() -> None:
        stopped.append("alerts")

    with TestClient(create_app(settings)) as c:
        services = c.app.state.services
        monkeypatch.setattr(services.webhook_dispatcher, "stop", never)
        monkeypatch.setattr(services.alerts, "stop", alerts_stop)
    assert services.stuck_on_close == ["webhooks"]
    assert stopped == ["alerts"]  # the parts after the stuck one were still stopped
