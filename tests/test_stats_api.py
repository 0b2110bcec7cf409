"""Dashboard figures: alerts per hour and per kind (counted in the database, within the
caller's areas) and the ingest and detector load, for staff only."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from camera_center.alerts.store import Candidate
from camera_center.app import create_app
from camera_sim.process import SimProcess
from tests.conftest import World, call, login, services_of
from tests.waiting import wait_until

# The hour buckets are SQL of each dialect: check both.
both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def _seed(world: World, alerts: list[tuple[str, str, datetime]]) -> None:
    """(kind, area, started_at) each as its own incident (own rule id: nothing folds)."""
    candidates = [Candidate(kind=kind, camera_id=f"{area.lower()}-cam", area_id=area,
                            camera_name=f"Camera {area}", at=at, rule_id=i)
                  for i, (kind, area, at) in enumerate(alerts, start=1)]
    call(world.client, services_of(world.client).alerts.store.raise_or_fold_many, candidates)


def _stats(world: World, who: str = "admin", **params: Any) -> dict[str, Any]:
    r = world.client.get("/api/v1/stats/alerts", headers=world.headers[who], params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _hour(stats: dict[str, Any], start: datetime) -> dict[str, Any]:
    [slot] = [h for h in stats["by_hour"] if datetime.fromisoformat(h["start"]) == start]
    return slot


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@both_databases
def test_alert_counts_per_hour_and_kind_match_the_stored_alerts(world: World) -> None:
    hour = _this_hour()
    _seed(world, [("intrusion", "DU", hour), ("intrusion", "DU", hour + timedelta(seconds=1)),
                  ("motion", "YN", hour),
                  ("tamper", "DU", hour - timedelta(hours=3) + timedelta(minutes=59)),
                  ("intrusion", "YN", hour - timedelta(hours=30))])  # outside 24 h
    stats = _stats(world)
    assert stats["hours"] == 24 and len(stats["by_hour"]) == 24
    assert stats["total"] == 4
    slot = _hour(stats, hour)
    assert slot["count"] == 3 and slot["by_kind"] == {"intrusion": 2, "motion": 1}
    assert _hour(stats, hour - timedelta(hours=3))["count"] == 1
    assert sum(h["count"] for h in stats["by_hour"]) == 4
    assert stats["by_kind"] == [{"key": "intrusion", "count": 2}, {"key": "motion", "count": 1},
                                {"key": "tamper", "count": 1}]
    assert stats["by_status"] == [{"key": "new", "count": 4}]

    longer = _stats(world, hours=48)
    assert len(longer["by_hour"]) == 48 and longer["total"] == 5
    assert _hour(longer, hour - timedelta(hours=30))["by_kind"] == {"intrusion": 1}


@both_databases
def test_counts_stay_within_the_callers_areas(world: World) -> None:
    hour = _this_hour()
    _seed(world, [("intrusion", "DU", hour), ("motion", "YN", hour), ("motion", "YN", hour),
                  ("tamper", "YN-CHO", hour)])
    assert _stats(world)["total"] == 4
    officer = _stats(world, "officer")  # officer.yn: YN and the market below it
    assert officer["total"] == 3
    assert {c["key"]: c["count"] for c in officer["by_kind"]} == {"motion": 2, "tamper": 1}
    assert _stats(world, "operator")["by_kind"] == [{"key": "intrusion", "count": 1}]
    assert _stats(world, area_id="YN-CHO")["total"] == 1
    # Asking for an area outside your own gives nothing, not the other area's figures.
    outside = _stats(world, "operator", area_id="YN")
    assert outside["total"] == 0 and len(outside["by_hour"]) == 24


@pytest.mark.parametrize("params", [{"hours": 0}, {"hours": 169}, {"hours": "day"},
                                    {"area_id": "no such/area"}])
def test_bad_parameters_are_refused_with_a_reason(world: World, params: dict[str, Any]) -> None:
    r = world.client.get("/api/v1/stats/alerts", headers=world.admin, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


def test_stats_need_a_sign_in_and_load_needs_staff(world: World) -> None:
    assert world.client.get("/api/v1/stats/alerts").status_code == 401
    assert world.client.get("/api/v1/stats/load").status_code == 401
    r = world.client.get("/api/v1/stats/load", headers=world.headers["officer"])
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    r = world.client.get("/api/v1/stats/load", headers=world.headers["operator"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ingest"]["enabled"] is False and body["ingest"]["cameras"] == 0
    assert body["detector"]["enabled"] is False


def test_load_reports_decoded_and_analysed_frames_of_a_live_camera(
        make_settings: Any, sim: SimProcess) -> None:
    settings = make_settings(ingest={"enabled": True, "open_timeout_s": 4})
    with TestClient(create_app(settings)) as client:
        world = World(client)
        r = client.post("/api/v1/cameras", headers=world.admin, json={
            "id": "du-load", "name": "Camera tải", "area_id": "DU",
            "main_url": sim.url("cam015", "main"), "sub_url": sim.url("cam015", "sub"),
            "detection": {"fps": 5}})
        assert r.status_code == 201, r.text
        operator = login(client, "operator.du")
        body = wait_until(
            lambda: client.get("/api/v1/stats/load", headers=operator).json(), 30,
            "du-load online, decoded and analysed",
            until=lambda body: (body["ingest"]["states"].get("online") == 1
                                and body["ingest"]["decoded_frames_per_s"]
                                and body["detector"]["analysed_frames_per_s"]),
            interval_s=1.2)
        assert body["ingest"]["cameras"] == 1 and body["ingest"]["packets_per_s"] > 0
        assert body["ingest"]["decoded_frames_per_s"] < 30  # 5 fps asked, not the full rate
        assert body["detector"]["enabled"] is True
        assert body["server"]["cpu_pct"] is not None and body["server"]["window_s"] >= 1


def test_alert_kinds_come_with_the_priority_they_are_raised_at(world: World) -> None:
    # The console's priority filter is built from this list.
    r = world.client.get("/api/v1/stats/kinds", headers=world.headers["officer"])
    assert r.status_code == 200
    kinds = {k["kind"]: k["priority"] for k in r.json()}
    assert kinds["intrusion"] == "high" and kinds["motion"] == "low"
    assert kinds["camera_offline"] == "medium"
    assert world.client.get("/api/v1/stats/kinds").status_code == 401
