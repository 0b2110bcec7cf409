"""The alert console in a real browser: a new alert pops up (with a sound) within seconds of
being stored, and is handled from the page; filters; a phone-sized screen; the dashboard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from camera_sim.scenes import ZONE
from tests.e2e.conftest import Console, screenshot, wait_in_page
from tests.waiting import wait_until

# The gate zone's left edge, where the intrusion scene's person walks in (x 0.55-0.70).
GATE = ((ZONE[0][0], ZONE[0][1]), (0.70, ZONE[1][1]), (0.70, ZONE[2][1]),
        (ZONE[3][0], ZONE[3][1]))
FULL_FRAME = [[0, 0], [1, 0], [1, 1], [0, 1]]


def _own_camera(console: Console, cam: str, sim_cam: str, area: str, name: str) -> None:
    """A camera of this module's own, reading one of the simulator's streams."""
    if console.api.get(f"/api/v1/cameras/{cam}").status_code == 404:
        console.check(console.api.post("/api/v1/cameras", json={
            "id": cam, "name": name, "area_id": area, "main_url": console.sim.url(sim_cam, "main"),
            "sub_url": console.sim.url(sim_cam, "sub"), "detection": {"fps": 2}}))


def _wait_state(console: Console, cam: str, state: str, timeout_s: float = 40) -> None:
    wait_until(lambda: console.check(console.api.get(f"/api/v1/cameras/{cam}/health")),
               timeout_s, f"{cam} {state}", until=lambda health: health["state"] == state,
               interval_s=0.3)


def _alerts(console: Console, **params: Any) -> list[dict[str, Any]]:
    return console.check(console.api.get("/api/v1/alerts", params=params))["items"]


def _wait_alert(console: Console, timeout_s: float = 40, **params: Any) -> dict[str, Any]:
    return wait_until(lambda: _alerts(console, **params), timeout_s, f"an alert for {params}",
                      interval_s=0.5)[0]


def _open_console(console: Console, page: Page, username: str = "admin", query: str = "") -> None:
    console.sign_in(page, username)
    page.goto(console.url + "/alerts" + query)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")


@pytest.fixture(scope="module")
def motion_alerts(console: Console) -> dict[str, dict[str, Any]]:
    """A motion alert on a street camera of each area (cam115 in DU, cam116 in YN). The
    rules are switched off once they fired, so that no further pop-ups come."""
    made = {}
    for cam, sim_cam, area in (("cam115", "cam015", "DU"), ("cam116", "cam016", "YN")):
        _own_camera(console, cam, sim_cam, area, f"Đường phố {cam[3:]} {area}")
        rule = console.check(console.api.post(f"/api/v1/cameras/{cam}/rules", json={
            "kind": "motion", "name": "Chuyển động toàn khung", "zone": FULL_FRAME}))
        made[area] = _wait_alert(console, camera_id=cam, kind="motion")
        console.check(console.api.patch(f"/api/v1/rules/{rule['id']}", json={"enabled": False}))
    return made


def test_a_camera_going_dark_pops_up_within_3_s_and_is_acknowledged_from_the_page(
        console: Console, page: Page) -> None:
    _own_camera(console, "cam124", "cam024", "YN", "Cổng chợ 124 YN")
    _wait_state(console, "cam124", "online")
    rule = console.check(console.api.post("/api/v1/cameras/cam124/rules", json={
        "kind": "offline", "name": "Mất tín hiệu", "cooldown_s": 0}))
    _open_console(console, page)
    before = {a["id"] for a in _alerts(console, camera_id="cam124")}

    incident_at = time.time()
    console.sim.fault("cam024", "stop", seconds=60)
    try:
        popup = page.locator(".popup[role=alertdialog]")
        expect(popup).to_be_visible(timeout=40_000)
        expect(popup).to_contain_text("Cổng chợ 124 YN")
        expect(popup).to_contain_text("Camera mất kết nối")
        alert_id = int(popup.get_attribute("data-alert-id") or 0)
        shown_at = int(popup.get_attribute("data-shown-at") or 0) / 1000
        assert alert_id not in before
        alert = console.check(console.api.get(f"/api/v1/alerts/{alert_id}"))
        stored_at = datetime.fromisoformat(alert["updated_at"]).timestamp()
        print(f"\nincident -> pop-up {shown_at - incident_at:.2f} s; "
              f"stored -> pop-up {shown_at - stored_at:.2f} s")
        assert alert["status"] == "new" and alert["camera_id"] == "cam124"
        assert shown_at - stored_at <= 3.0
        # The pop-up is announced: it holds the focus, and the sound played.
        expect(page.locator(".popup .popup-open")).to_be_focused()
        assert int(page.locator("#sound-toggle").get_attribute("data-beeps") or 0) >= 1
        expect(page.locator(f".alert-item[data-id='{alert_id}']")).to_be_visible()
        screenshot(page, "alerts-console")

        page.locator(".popup").get_by_role("button", name="Tiếp nhận").click()
        expect(popup).to_have_count(0)
        wait_until(lambda: console.check(console.api.get(f"/api/v1/alerts/{alert_id}")), 5,
                   "the acknowledgement to reach the API",
                   until=lambda alert: alert["status"] == "acknowledged", interval_s=0.2)
        expect(page.locator(f".alert-item[data-id='{alert_id}'] .status")).to_have_text(
            "Đã tiếp nhận")
    finally:
        console.sim.clear("cam024")
        console.check(console.api.patch(f"/api/v1/rules/{rule['id']}", json={"enabled": False}))
    _wait_state(console, "cam124", "online")


def _zone_entries(console: Console, since: float) -> list[float]:
    """When the simulator sent cam017's "feet enter the gate zone" frames (its timeline)."""
    return [i["at"] for i in console.sim.timeline(since)["incidents"]
            if i["camera_id"] == "cam017" and i["kind"] == "zone_enter"]


def test_an_intrusion_in_the_simulator_pops_up_within_3_s(console: Console, page: Page) -> None:
    """Timed from the simulator's own record of the person entering the gate zone to the
    moment the pop-up is on screen. The rule is made while the scene is empty, so that its
    first alert is the next walk-in, which the console is already open for."""
    _own_camera(console, "cam117", "cam017", "DU", "Cổng trước 117 DU")
    _wait_state(console, "cam117", "online")
    _open_console(console, page)
    entered = wait_until(lambda: _zone_entries(console, time.time() - 30), 40,
                         "the simulator to log a zone_enter for cam017", interval_s=0.5)
    # The scene loops every 30 s: the person walks 3-26 s in, crossing into the zone at 8.5,
    # stands in it, and vanishes at 26 s still inside the full zone. The rule watches the
    # zone's first 15 % only (GATE), so that he leaves it walking out by about 25 s and
    # his vanishing is outside it; his next pass reaches it (box overlap) at about 37.8 s.
    # The rule is made midway, 6 s from either: on a loaded machine the server sees the
    # frames seconds late (an idle camera is decoded every 5 s), and with the full zone
    # and 3.5 s of room the vanishing fired the new rule before the next walk-in (CI).
    empty_at = max(entered) + 31.4 - 8.5
    while empty_at < time.time():
        empty_at += 30
    time.sleep(empty_at - time.time())
    rule = console.check(console.api.post("/api/v1/cameras/cam117/rules", json={
        "kind": "motion", "name": "Có người ở cổng trước", "zone": [list(p) for p in GATE],
        "cooldown_s": 5}))
    try:
        popup = page.locator(".popup[role=alertdialog]", has_text="Cổng trước 117 DU")
        expect(popup).to_be_visible(timeout=25_000)
        shown_at = int(popup.get_attribute("data-shown-at") or 0) / 1000
        # Motion may show before the feet cross the edge.
        entries = wait_until(lambda: _zone_entries(console, empty_at), 35,
                             "a zone_enter logged after the pop-up (one scene loop)",
                             interval_s=0.2)
        incident_at = min(entries, key=lambda at: abs(shown_at - at))
        print(f"\nintrusion -> pop-up {shown_at - incident_at:.2f} s")
        assert shown_at - incident_at <= 3.0
    finally:
        console.check(console.api.patch(f"/api/v1/rules/{rule['id']}", json={"enabled": False}))


def test_an_alert_is_commented_handled_and_resolved_from_its_page(
        console: Console, page: Page, motion_alerts: dict[str, dict[str, Any]]) -> None:
    alert = motion_alerts["DU"]
    _open_console(console, page, query=f"?id={alert['id']}")
    detail = page.locator("#detail")
    expect(detail.locator("#detail-title")).to_contain_text("Chuyển động")

    # A refusal shows the server's reason: officer.yn does not cover area DU.
    detail.locator("#assign-user").fill("officer.yn")
    detail.get_by_role("button", name="Giao việc").click()
    expect(detail.locator("#action-msg")).to_contain_text("does not cover area DU")

    detail.locator("#comment-text").fill("Đã cử tổ tuần tra đến hiện trường.")
    detail.get_by_role("button", name="Gửi").click()
    expect(detail.locator(".comment-list")).to_contain_text("Đã cử tổ tuần tra")
    got = console.check(console.api.get(f"/api/v1/alerts/{alert['id']}"))
    assert [c["text"] for c in got["comments"]] == ["Đã cử tổ tuần tra đến hiện trường."]

    detail.get_by_role("button", name="Bắt đầu xử lý").click()
    expect(detail.locator("#detail-status")).to_have_text("Đang xử lý")
    got = console.check(console.api.get(f"/api/v1/alerts/{alert['id']}"))
    assert got["status"] == "in_progress" and got["assignee"] == "admin"
    detail.get_by_role("button", name="Xem trực tiếp").click()
    expect(detail.locator(".live-box video:visible, .live-box img:visible").first).to_be_visible()
    screenshot(page, "alert-detail")

    detail.get_by_role("button", name="Đã giải quyết").click()
    expect(detail.locator("#detail-status")).to_have_text("Đã giải quyết")
    expect(detail.locator(".actions")).to_contain_text("Cảnh báo đã đóng.")
    assert console.check(console.api.get(f"/api/v1/alerts/{alert['id']}"))["status"] == "resolved"
    expect(detail.locator(".history-list")).to_contain_text("Đang xử lý → Đã giải quyết")


def test_filters_narrow_the_list_and_stay_in_the_url(
        console: Console, page: Page, motion_alerts: dict[str, dict[str, Any]]) -> None:
    _open_console(console, page)
    items = page.locator(".alert-item")
    expect(items.first).to_be_visible()
    page.select_option("#f-area", "YN")
    page.wait_for_url("**area=YN*")
    expect(page.locator(f".alert-item[data-id='{motion_alerts['YN']['id']}']")).to_be_visible()
    expect(page.locator(f".alert-item[data-id='{motion_alerts['DU']['id']}']")).to_have_count(0)
    page.select_option("#f-kind", "motion")
    page.wait_for_url("**kind=motion*")
    expect(items.filter(has_not_text="Chuyển động")).to_have_count(0)  # motion only now
    expect(items.first).to_be_visible()
    page.reload()  # the filters come back from the URL
    expect(page.locator("#f-area")).to_have_value("YN")
    expect(page.locator(f".alert-item[data-id='{motion_alerts['YN']['id']}']")).to_be_visible()
    expect(page.locator(f".alert-item[data-id='{motion_alerts['DU']['id']}']")).to_have_count(0)
    page.select_option("#f-priority", "critical")  # nothing is raised at that priority
    expect(page.locator("#list-summary")).to_have_text("Không có cảnh báo nào khớp bộ lọc.")
    page.select_option("#f-priority", "")
    expect(page.locator(f".alert-item[data-id='{motion_alerts['YN']['id']}']")).to_be_visible()
    page.select_option("#f-range", "custom")  # a time range that ended before these alerts
    expect(page.locator("#f-to")).to_be_visible()
    page.fill("#f-to", "2025-01-01T00:00")
    page.locator("#f-to").dispatch_event("change")
    page.wait_for_url("**to=2025-01-01T00%3A00*")
    expect(page.locator("#list-summary")).to_have_text("Không có cảnh báo nào khớp bộ lọc.")
    page.get_by_role("button", name="Xóa bộ lọc").click()
    expect(page.locator(f".alert-item[data-id='{motion_alerts['DU']['id']}']")).to_be_visible()
    assert "area=" not in page.url

    # Keyboard: one list item in the tab order, arrows move, Enter opens.
    items.first.focus()
    page.keyboard.press("ArrowDown")
    second = items.nth(1)
    expect(second).to_be_focused()
    opened = second.get_attribute("data-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**id={opened}*")
    expect(page.locator("#detail-title")).to_be_focused()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"


def test_an_officer_on_a_phone_sees_their_areas_alerts_and_handles_one(
        console: Console, phone: Page, motion_alerts: dict[str, dict[str, Any]]) -> None:
    console.sign_in(phone, "officer.yn", expect_path="/alerts")
    expect(phone.locator("#live-state")).to_have_attribute("data-state", "live")
    mine, other = motion_alerts["YN"]["id"], motion_alerts["DU"]["id"]
    expect(phone.locator(f".alert-item[data-id='{mine}']")).to_be_visible()
    expect(phone.locator(f".alert-item[data-id='{other}']")).to_have_count(0)
    _no_sideways_scroll(phone)
    screenshot(phone, "alerts-phone")

    phone.locator(f".alert-item[data-id='{mine}']").tap()
    expect(phone.locator("#detail-title")).to_be_visible()
    expect(phone.locator("#alert-list")).to_be_hidden()  # the alert takes the whole screen
    _no_sideways_scroll(phone)
    take = phone.get_by_role("button", name="Nhận việc")
    take.scroll_into_view_if_needed()
    take.tap()
    expect(phone.locator(".facts")).to_contain_text("officer.yn")
    assert console.check(console.api.get(f"/api/v1/alerts/{mine}"))["assignee"] == "officer.yn"
    screenshot(phone, "alert-detail-phone")
    phone.get_by_role("button", name="← Quay lại danh sách").tap()
    expect(phone.locator(f".alert-item[data-id='{mine}']")).to_be_visible()


def test_dashboard_shows_cameras_per_area_and_alert_charts(
        console: Console, page: Page, motion_alerts: dict[str, dict[str, Any]]) -> None:
    console.wait_online(20)
    console.sign_in(page, "operator.du", expect_path="/wall")
    page.goto(console.url + "/dashboard")
    du = page.locator("#areas tr[data-area='DU']")
    expect(du).to_contain_text("Thị trấn Đu")
    online = int(du.locator("[data-col=online]").inner_text())
    health = console.check(console.api.get("/api/v1/fleet/health", params={"area_id": "DU"}))
    assert abs(online - health["by_area"]["DU"].get("online", 0)) <= 1 and online >= 10
    expect(page.locator("#areas tr[data-area='YN']")).to_have_count(0)  # not this operator's
    expect(page.locator("#chart-hours svg rect.bar")).to_have_count(24)
    expect(page.locator("#chart-kinds svg")).to_contain_text("Chuyển động")
    expect(page.locator("#load-decoded")).not_to_have_text("–", timeout=20_000)
    screenshot(page, "dashboard")


# Keeps the page's WebSockets reachable, and can hold new ones off (they fail as if the
# network were down) so the test can change things while the page is disconnected.
_WS_SPY = """
window.__sockets = [];
window.__blockWs = false;
const RealWebSocket = window.WebSocket;
window.WebSocket = class extends RealWebSocket {
  constructor(url, ...rest) {
    // Blocked: a path of this site that no WebSocket answers (another address would be
    // refused by the security policy before the page could even try).
    super(window.__blockWs ? location.origin.replace(/^http/, "ws") + "/no-such-socket" : url,
          ...rest);
    window.__sockets.push({ url: String(url), socket: this, blocked: window.__blockWs });
  }
};
"""


def test_changes_made_while_disconnected_arrive_after_the_reconnect(
        console: Console, page: Page, motion_alerts: dict[str, dict[str, Any]]) -> None:
    alert_id = motion_alerts["YN"]["id"]
    page.add_init_script(_WS_SPY)
    _open_console(console, page)
    item = page.locator(f".alert-item[data-id='{alert_id}']")
    expect(item).to_be_visible()
    # One event while connected, so that the page knows where it is in the feed.
    console.check(console.api.post(f"/api/v1/alerts/{alert_id}/assign",
                                   json={"username": "admin"}))
    expect(item).to_contain_text("admin")

    page.evaluate("window.__blockWs = true; window.__sockets.at(-1).socket.close()")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "reconnecting")
    got = console.check(console.api.post(f"/api/v1/alerts/{alert_id}/ack", json={}))
    assert got["status"] == "acknowledged"
    console.check(console.api.post(f"/api/v1/alerts/{alert_id}/comments",
                                   json={"text": "Trong lúc mất mạng"}))
    wait_in_page(page, "window.__sockets.some((s) => s.blocked)")  # a retry failed
    expect(item.locator(".status")).to_have_text("Mới")  # the page could not know yet

    page.evaluate("window.__blockWs = false")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(item.locator(".status")).to_have_text("Đã tiếp nhận")
    resumed = page.evaluate("window.__sockets.at(-1).url")
    assert "last_id=" in resumed, resumed
