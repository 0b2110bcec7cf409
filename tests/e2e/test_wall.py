"""The operators' video wall in a real Chromium: tiles moving, paging, filters, saved views,
keyboard, and screenshots of the 16- and 36-tile layouts."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, screenshot
from tests.waiting import wait_until

TILES = "#wall .tile"
# The e2e console's own 24 cameras ("Camera 001 DU" ... "Camera 024 YN"): other test modules
# register cameras of their own, so counts are taken within this search.
BASE = "q=Camera+0"


def open_wall(console: Console, page: Page, query: str = "layout=16",
              user: str = "admin") -> None:
    # The sign-in form takes over only after its session check answers; a click before
    # that would submit the plain form (a race under load), so let the page settle first.
    page.goto(console.url + "/")
    page.wait_for_load_state("networkidle")
    console.sign_in(page, user, expect_path="/wall", here=True)
    page.goto(f"{console.url}/wall?{query}")
    expect(page.locator("#page-info")).not_to_be_empty()


def tile_pictures(page: Page) -> list[str | None]:
    return page.eval_on_selector_all(f"{TILES} img", "imgs => imgs.map(i => i.getAttribute('src'))")


def wait_all_pictures(page: Page, count: int, timeout_s: float = 30) -> list[str]:
    srcs = wait_until(lambda: tile_pictures(page), timeout_s, f"a picture on each of {count} tiles",
                      until=lambda srcs: len(srcs) == count and all(srcs), interval_s=0.25,
                      sleep=lambda s: page.wait_for_timeout(s * 1000))
    return srcs  # type: ignore[return-value]


def test_wall_of_16_tiles_all_keep_updating(console: Console, page: Page) -> None:
    console.wait_online(16)
    open_wall(console, page, "layout=16")
    expect(page.locator(TILES)).to_have_count(16)
    first = wait_all_pictures(page, 16)

    def stale() -> list[int]:
        """The tiles still showing their first picture."""
        now = tile_pictures(page)
        return [i for i, (a, b) in enumerate(zip(first, now, strict=True)) if a == b]

    # Each tile's picture is replaced by a newer one within a few seconds.
    wait_until(stale, 15, "a newer picture on every tile (last value: the tiles without one)",
               until=lambda tiles: not tiles, interval_s=0.5,
               sleep=lambda s: page.wait_for_timeout(s * 1000))
    expect(page.locator(f"{TILES} .badge.online")).to_have_count(16, timeout=15000)
    ages = page.eval_on_selector_all(f"{TILES} .tile-age", "n => n.map(e => e.textContent)")
    assert all(a.endswith(" s") for a in ages), ages  # a fresh frame age on every tile
    screenshot(page, "wall-16")


def test_paging_shows_the_rest_and_survives_a_reload(console: Console, page: Page) -> None:
    open_wall(console, page, f"layout=16&{BASE}")
    expect(page.locator(TILES)).to_have_count(16)
    expect(page.locator("#page-info")).to_contain_text("1/2")
    page.get_by_role("button", name="Trang sau").click()
    expect(page.locator(TILES)).to_have_count(8)
    expect(page.locator(TILES).first).to_have_attribute("data-camera", "cam017")
    assert "page=2" in page.url
    page.reload()
    expect(page.locator(TILES)).to_have_count(8)
    expect(page.locator("#page-info")).to_contain_text("2/2")


def test_filter_by_area_shows_only_that_areas_cameras(console: Console, page: Page) -> None:
    open_wall(console, page, f"layout=16&{BASE}")
    page.get_by_label("Khu vực").select_option("DU")
    expect(page.locator(TILES)).to_have_count(12)
    names = page.eval_on_selector_all(f"{TILES} .tile-name", "n => n.map(e => e.textContent)")
    assert len(names) == 12 and all(n.endswith(" DU") for n in names), names
    assert "area=DU" in page.url


def test_search_by_name_narrows_the_wall(console: Console, page: Page) -> None:
    open_wall(console, page, "layout=9")
    page.get_by_label("Tìm").fill("camera 017")
    expect(page.locator(TILES)).to_have_count(1)
    expect(page.locator(f"{TILES} .tile-name")).to_have_text("Camera 017 YN")
    assert "q=camera+017" in page.url


def test_operator_sees_only_their_area(console: Console, page: Page) -> None:
    open_wall(console, page, f"layout=36&{BASE}", user="operator.du")
    expect(page.locator(TILES)).to_have_count(12)
    names = page.eval_on_selector_all(f"{TILES} .tile-name", "n => n.map(e => e.textContent)")
    assert all(n.endswith(" DU") for n in names), names


def test_saved_view_survives_a_reload_and_can_be_deleted(console: Console, page: Page) -> None:
    name = f"Yên Ninh {uuid.uuid4().hex[:6]}"
    open_wall(console, page, "layout=16")
    page.get_by_label("Bố cục").select_option("9")
    page.get_by_label("Khu vực").select_option("YN")
    expect(page.locator(TILES)).to_have_count(9)
    page.get_by_role("button", name="Lưu chế độ xem").click()
    page.get_by_label("Tên chế độ xem").fill(name)
    page.locator("#save-form button[value=save]").click()
    expect(page.locator("#view option:checked")).to_have_text(name)
    # Elsewhere, then back through the saved view after a reload.
    page.goto(f"{console.url}/wall?layout=4")
    expect(page.locator(TILES)).to_have_count(4)
    page.get_by_label("Chế độ xem", exact=True).select_option(label=name)
    expect(page.locator(TILES)).to_have_count(9)
    page.reload()
    expect(page.locator("#view option:checked")).to_have_text(name)
    expect(page.locator(TILES)).to_have_count(9)
    names = page.eval_on_selector_all(f"{TILES} .tile-name", "n => n.map(e => e.textContent)")
    assert all(n.endswith(" YN") for n in names), names
    page.get_by_role("button", name="Xóa chế độ xem").click()
    expect(page.locator("#view option", has_text=name)).to_have_count(0)
    assert all(v["name"] != name for v in console.check(console.api.get("/api/v1/views")))


def test_keyboard_reaches_a_tile_and_opens_it(console: Console, page: Page) -> None:
    open_wall(console, page, "layout=16")
    expect(page.locator(TILES)).to_have_count(16)
    page.locator(TILES).first.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    focused = page.evaluate("document.activeElement.dataset.camera")
    assert focused == "cam007"  # third column, second row of a 4x4 grid
    page.keyboard.press("Enter")
    dialog = page.locator("#focus")
    expect(dialog).to_be_visible()
    expect(page.locator("#focus-title")).to_have_text("Camera 007 DU")
    expect(page.locator("#focus-live video, #focus-live img").first).to_be_visible(timeout=15000)
    screenshot(page, "wall-focus")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_wall_of_36_tiles_screenshot(console: Console, page: Page) -> None:
    console.wait_online(20)
    open_wall(console, page, f"layout=36&{BASE}")
    expect(page.locator(TILES)).to_have_count(24)  # every camera on one page
    wait_all_pictures(page, 24)
    screenshot(page, "wall-36")


def test_offline_tile_says_why_and_lights_up_on_its_alert(console: Console, page: Page) -> None:
    cam = f"wall-alert-{uuid.uuid4().hex[:6]}"
    console.check(console.api.post("/api/v1/cameras", json={
        "id": cam, "name": f"Tường cảnh báo {cam[-6:]}", "area_id": "DU", "enabled": False,
        "main_url": "rtsp://127.0.0.1:9/nothing-listens-here"}))
    try:
        console.check(console.api.post(f"/api/v1/cameras/{cam}/rules",
                                       json={"kind": "offline", "name": "Mất kết nối"}))
        open_wall(console, page, f"layout=4&q={cam}")
        tile = page.locator(TILES)
        expect(tile).to_have_count(1)
        expect(tile.locator(".badge")).to_have_text("Đã tắt")
        # Switched on, it cannot connect: the tile says so, and its offline alert lights it.
        console.check(console.api.patch(f"/api/v1/cameras/{cam}", json={"enabled": True}))
        expect(tile.locator(".badge")).to_have_text("Mất kết nối", timeout=20000)
        expect(tile.locator(".tile-why")).to_have_text("Mất kết nối: camera từ chối kết nối")
        expect(tile).to_have_class(re.compile(r"\balerting\b"), timeout=20000)
    finally:
        alerts = console.check(console.api.get("/api/v1/alerts", params={"camera_id": cam}))
        for alert in alerts["items"]:
            console.api.post(f"/api/v1/alerts/{alert['id']}/false-alarm", json={})
        console.api.delete(f"/api/v1/cameras/{cam}")


def test_tour_turns_the_page_by_itself(console: Console, page: Page) -> None:
    open_wall(console, page, f"layout=16&tour=5&{BASE}")
    expect(page.locator("#page-info")).to_contain_text("1/2")
    expect(page.locator("#page-info")).to_contain_text("2/2", timeout=9000)
    expect(page.locator(TILES)).to_have_count(8)
