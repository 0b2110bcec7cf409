"""The administration page in a real browser, signed in as admin: cameras, CSV import, the
zone editor, users, the audit log. Cameras here have ids of their own (cam2NN) and are
removed afterwards; the session's cam001..cam024 are only read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME
from camera_sim.process import free_port
from tests.conftest import PASSWORD
from tests.e2e.conftest import Console, screenshot, wait_in_page
from tests.waiting import wait_until


@pytest.fixture
def cleanup(console: Console) -> Iterator[dict[str, list]]:
    """Ids of cameras and users a test made, deleted when it ends (whatever happened)."""
    made: dict[str, list] = {"cameras": [], "users": []}
    yield made
    for cam in made["cameras"]:
        console.api.delete(f"/api/v1/cameras/{cam}")
    users = console.api.get("/api/v1/users").json()
    for user in users:
        if user["username"] in made["users"]:
            console.api.delete(f"/api/v1/users/{user['id']}")


def open_admin(console: Console, page: Page, tab: str) -> None:
    console.sign_in(page, "admin", expect_path="/wall")
    page.goto(f"{console.url}/admin#{tab}")
    page.wait_for_selector("body[data-ready=true]")


def register(console: Console, cam: str, source: str, **extra: str) -> None:
    console.check(console.api.post("/api/v1/cameras", json={
        "id": cam, "name": f"Camera {cam} admin test", "area_id": "DU",
        "main_url": console.sim.url(source, "main"), "sub_url": console.sim.url(source, "sub"),
        **extra}))


def row(page: Page, cam: str):
    return page.locator(f"#cam-table tr[data-camera-id='{cam}']")


def search(page: Page, text: str) -> None:
    """Type into the camera search (the list reloads, health included)."""
    page.fill("#cam-search", "")
    page.fill("#cam-search", text)
    page.wait_for_timeout(700)


def wait_for_badge(page: Page, cam: str, query: str, label: str, timeout_s: float = 30) -> None:
    def shown() -> str | None:
        """The camera's badge after a fresh search (None while it has none)."""
        search(page, query)
        badge = row(page, cam).locator(".badge")
        return badge.inner_text() if badge.count() else None

    wait_until(shown, timeout_s, f"{cam} to show {label!r}", until=lambda text: text == label,
               interval_s=0.8, sleep=lambda s: page.wait_for_timeout(s * 1000))


def test_tabs_follow_the_keyboard_and_the_url_keeps_the_open_tab(console: Console,
                                                                 page: Page) -> None:
    open_admin(console, page, "users")
    expect(page.get_by_role("tab", name="Người dùng")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-users")).to_be_visible()
    page.get_by_role("tab", name="Người dùng").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Webhook")).to_be_focused()
    page.wait_for_url("**/admin#webhooks")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#panel-webhooks")).to_be_visible()
    expect(page.locator("#panel-users")).to_be_hidden()
    # The ONVIF tab comes from another module: it shows that module or says it is missing.
    page.get_by_role("tab", name="ONVIF").click()
    expect(page.locator("#panel-onvif")).not_to_be_empty()
    page.get_by_role("button", name="Chuyển ngôn ngữ sang tiếng Anh").click()
    expect(page.get_by_role("tab", name="Cameras")).to_be_visible()
    expect(page.get_by_role("tab", name="Audit log")).to_be_visible()


def test_csv_import_shows_upload_progress_then_per_row_results(
        console: Console, page: Page, tmp_path: Path, cleanup: dict) -> None:
    cleanup["cameras"] += ["cam201", "cam202", "cam203"]
    sim = console.sim
    csv = tmp_path / "cameras.csv"
    csv.write_text(
        "id,name,area_id,main_url,sub_url,tags\n"
        f"cam201,Camera 201 nhập CSV,DU,{sim.url('cam005', 'main')},{sim.url('cam005')},csv\n"
        f"cam202,Camera 202 nhập CSV,YN,{sim.url('cam014', 'main')},{sim.url('cam014')},csv\n"
        "cam203,Camera 203 hỏng,DU,http://127.0.0.1/not-rtsp,,csv\n", encoding="utf-8")
    open_admin(console, page, "import")
    page.set_input_files("#imp-file", str(csv))
    expect(page.locator("#imp-dry")).to_be_checked()  # a dry run comes first
    page.click("#imp-start")
    expect(page.locator("#imp-table tbody tr")).to_have_count(3)
    expect(page.locator("#imp-summary")).to_contain_text("Chạy thử")
    assert console.api.get("/api/v1/cameras/cam201").status_code == 404  # nothing stored yet
    # Now for real: the upload reports its progress, then every row its outcome.
    page.click("#imp-apply")
    expect(page.locator("#imp-summary")).to_contain_text("2 tạo mới")
    expect(page.locator("#imp-progress")).to_have_attribute("value", "100")
    expect(page.locator("#imp-progress")).to_be_visible()
    expect(page.locator("#imp-table tr[data-row='2']")).to_contain_text("Tạo mới")
    expect(page.locator("#imp-table tr[data-row='3']")).to_contain_text("Tạo mới")
    failed = page.locator("#imp-table tr[data-row='4']")
    expect(failed).to_contain_text("Lỗi")
    expect(failed).to_contain_text("main_url")
    screenshot(page, "admin-import")
    made = console.check(console.api.get("/api/v1/cameras", params={"tag": "csv"}))
    assert sorted(c["id"] for c in made["items"]) == ["cam201", "cam202"]
    assert {c["id"]: c["area_id"] for c in made["items"]} == {"cam201": "DU", "cam202": "YN"}


def test_camera_form_creates_tests_edits_disables_and_deletes_a_camera(
        console: Console, page: Page, cleanup: dict) -> None:
    cleanup["cameras"] += ["cam211", "cam212", "cam213"]
    # One camera that cannot be reached, to see its health in words in the list.
    console.check(console.api.post("/api/v1/cameras", json={
        "id": "cam213", "name": "Camera 213 không tới được", "area_id": "DU",
        "main_url": f"rtsp://127.0.0.1:{free_port()}/gone"}))
    open_admin(console, page, "cameras")
    page.click("#cam-add")
    form = page.locator("#cam-form")
    form.locator("[name=id]").fill("cam211")
    form.locator("[name=name]").fill("Camera 211 Cổng chợ")
    form.locator("[name=area_id]").select_option("DU")
    form.locator("[name=main_url]").fill(console.sim.url("cam007", "main"))
    form.locator("[name=sub_url]").fill(console.sim.url("cam007", "sub"))
    page.click("#cam-form-test")
    expect(page.locator("#cam-form-probe .probe-snapshot")).to_be_visible(timeout=20_000)
    expect(page.locator("#cam-form-probe")).to_contain_text("H264")
    form.get_by_role("button", name="Lưu").click()
    expect(row(page, "cam211")).to_be_visible()
    assert console.check(console.api.get("/api/v1/cameras/cam211"))["name"] == "Camera 211 Cổng chợ"

    # A camera with a password: the form never shows it, and blank keeps it.
    page.click("#cam-add")
    form.locator("[name=id]").fill("cam212")
    form.locator("[name=name]").fill("Camera 212 có mật khẩu")
    form.locator("[name=main_url]").fill(console.sim.url("cam003", "main"))
    form.locator("[name=username]").fill(SIM_USERNAME)
    form.locator("[name=password]").fill("Wrong-Password-1")
    page.click("#cam-form-test")
    expect(page.locator("#cam-form-probe")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu",
                                                           timeout=20_000)
    form.locator("[name=password]").fill(SIM_PASSWORD)
    form.get_by_role("button", name="Lưu").click()
    expect(form).to_be_hidden()  # saved: the list reloads behind the closing dialog
    search(page, "cam212")
    row(page, "cam212").get_by_role("button", name="Sửa").click()
    expect(form.locator("[name=password]")).to_have_value("")
    expect(form).to_contain_text("Để trống để giữ mật khẩu đã lưu")
    form.locator("[name=name]").fill("Camera 212 đã sửa")
    page.click("#cam-form-test")  # the stored password fills in
    expect(page.locator("#cam-form-probe .probe-snapshot")).to_be_visible(timeout=20_000)
    form.get_by_role("button", name="Lưu").click()
    expect(form).to_be_hidden()
    saved = console.check(console.api.get("/api/v1/cameras/cam212"))
    assert saved["name"] == "Camera 212 đã sửa" and saved["has_password"] is True
    assert SIM_PASSWORD not in page.content()

    # Test connection from the list shows the camera's picture.
    row(page, "cam212").get_by_role("button", name="Kiểm tra kết nối").click()
    expect(page.locator("dialog[open] .probe-snapshot")).to_be_visible(timeout=20_000)
    page.locator("dialog[open]").get_by_role("button", name="Đóng").click()

    # Health in the list: online for the working one, the reason for the broken one.
    wait_for_badge(page, "cam211", "cam21", "Trực tuyến")
    wait_for_badge(page, "cam213", "cam21", "Mất kết nối")
    # In the console's language: the server sends a reason code beside its English words.
    expect(row(page, "cam213").locator(".last-error")).to_contain_text("từ chối kết nối")
    screenshot(page, "admin-cameras")

    row(page, "cam211").get_by_role("button", name="Tắt").click()
    expect(row(page, "cam211").locator(".badge")).to_have_text("Đã tắt")
    assert console.check(console.api.get("/api/v1/cameras/cam211"))["enabled"] is False
    row(page, "cam213").get_by_role("button", name="Xóa").click()
    page.locator("dialog[open]").get_by_role("button", name="Xóa").click()
    expect(row(page, "cam213")).to_have_count(0)
    assert console.api.get("/api/v1/cameras/cam213").status_code == 404


def test_zone_and_line_drawn_on_the_snapshot_are_saved_to_the_cameras_rules(
        console: Console, page: Page, cleanup: dict) -> None:
    cleanup["cameras"].append("cam221")
    register(console, "cam221", "cam017")
    open_admin(console, page, "zones:cam221")
    expect(page.locator("#zn-camera")).to_have_value("cam221")
    wait_in_page(page, "document.querySelector('.zn-picture').naturalWidth > 0",
                 timeout_ms=20_000)
    page.click("#zn-new-zone")
    canvas = page.locator("#zn-canvas")
    box = canvas.bounding_box()
    assert box is not None
    corners = [(0.2, 0.3), (0.7, 0.3), (0.75, 0.8), (0.15, 0.8)]
    for x, y in corners:
        canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
    expect(canvas.locator("circle.zn-handle")).to_have_count(4)
    canvas.locator("circle[data-index='0']").click()  # back on the first point closes it
    expect(canvas.locator("polygon.zn-draft")).to_have_count(1)
    # Drag the third point further down and right.
    page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.8 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.9 * box["height"], steps=5)
    page.mouse.up()
    page.fill("#zn-name", "Vùng cổng chợ")
    page.select_option("#zn-kind", "intrusion")
    page.click("#zn-save")
    expect(page.locator("#zn-rules")).to_contain_text("Vùng cổng chợ")
    [rule] = console.check(console.api.get("/api/v1/cameras/cam221/rules"))
    assert rule["kind"] == "intrusion" and len(rule["zone"]) == 4
    expected = [(0.2, 0.3), (0.7, 0.3), (0.9, 0.9), (0.15, 0.8)]
    for (x, y), (ex, ey) in zip(rule["zone"], expected, strict=True):
        assert abs(x - ex) < 0.02 and abs(y - ey) < 0.02, rule["zone"]
    screenshot(page, "admin-zone-editor")

    # Keyboard: a point moves with the arrow keys, and typed numbers are saved too.
    canvas.locator("circle[data-index='1']").focus()
    page.keyboard.press("Shift+ArrowUp")
    page.locator("#zn-points input[aria-label='Điểm 1 x']").fill("0.25")
    page.locator("#zn-points input[aria-label='Điểm 1 x']").press("Tab")
    page.click("#zn-save")
    zone = wait_until(lambda: console.check(console.api.get(f"/api/v1/rules/{rule['id']}"))["zone"],
                      10, "the typed point saved", until=lambda zone: zone[0][0] == 0.25,
                      interval_s=0.2)
    assert zone[0][0] == 0.25 and abs(zone[1][1] - 0.25) < 0.02, zone

    # A line with a direction.
    page.click("#zn-new-line")
    expect(canvas.locator("polygon.zn-other")).to_have_count(1)  # the saved zone stays drawn
    canvas.click(position={"x": 0.1 * box["width"], "y": 0.6 * box["height"]})
    canvas.click(position={"x": 0.9 * box["width"], "y": 0.6 * box["height"]})
    page.fill("#zn-name", "Vạch qua đường")
    page.select_option("#zn-direction", "top_to_bottom")
    page.click("#zn-save")
    expect(page.locator("#zn-rules li")).to_have_count(2)
    line = next(r for r in console.check(console.api.get("/api/v1/cameras/cam221/rules"))
                if r["kind"] == "line_crossing")
    assert line["direction"] == "top_to_bottom"
    assert [round(p[1], 1) for p in line["line"]] == [0.6, 0.6]


def test_admin_creates_a_user_with_an_area_and_disables_them(
        console: Console, page: Page, cleanup: dict) -> None:
    cleanup["users"].append("op.admin-test")
    open_admin(console, page, "users")
    page.click("#user-add")
    dialog = page.locator("dialog[open]")
    page.fill("#user-username", "op.admin-test")
    page.fill("#user-full-name", "Nguyễn Văn Thử")
    page.select_option("#user-role", "operator")
    page.fill("#user-password", PASSWORD)
    dialog.get_by_label("Xã Yên Ninh (YN)").check()
    dialog.get_by_role("button", name="Lưu").click()
    user_row = page.locator("#user-table tr[data-username='op.admin-test']")
    expect(user_row).to_contain_text("Xã Yên Ninh")
    expect(user_row).to_contain_text("điều hành viên")
    made = next(u for u in console.check(console.api.get("/api/v1/users"))
                if u["username"] == "op.admin-test")
    assert made["area_ids"] == ["YN"] and made["role"] == "operator"
    # A password the admin chose is replaced by its owner at first sign-in (the default).
    assert made["must_change_password"] is True
    expect(user_row).to_contain_text("Chờ đổi mật khẩu")
    screenshot(page, "admin-users")
    user_row.get_by_role("button", name="Khóa").click()
    page.locator("dialog[open]").get_by_role("button", name="Khóa").click()
    expect(user_row.locator(".badge").first).to_have_text("Đã khóa")
    r = console.api.post("/api/v1/auth/login", json={"username": "op.admin-test",
                                                      "password": PASSWORD})
    assert r.status_code in (401, 403)


def test_audit_viewer_lists_admin_actions_and_filters_them(console: Console, page: Page,
                                                           cleanup: dict) -> None:
    cleanup["cameras"].append("cam231")
    register(console, "cam231", "cam008")
    console.check(console.api.post("/api/v1/cameras/cam231/rules", json={
        "kind": "intrusion", "name": "Vùng nhật ký",
        "zone": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}))
    console.check(console.api.patch("/api/v1/cameras/cam231", json={"enabled": False}))
    open_admin(console, page, "audit")
    table = page.locator("#audit-table")
    expect(table.locator("tr[data-action='camera.update']").first).to_contain_text("cam231")
    expect(table.locator("tr[data-action='rule.create']").first).to_be_visible()
    page.fill("#audit-action", "camera.create")
    page.fill("#audit-target-id", "cam231")
    page.get_by_role("button", name="Lọc", exact=True).click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("admin")
    expect(table.locator("tbody tr")).to_contain_text("camera cam231")
    page.get_by_role("button", name="Bỏ lọc").click()
    expect(table.locator("tr[data-action='rule.create']").first).to_be_visible()
    screenshot(page, "admin-audit")


def test_area_tree_adds_renames_and_deletes_a_sub_area(console: Console, page: Page) -> None:
    try:
        open_admin(console, page, "areas")
        page.click("#area-add")
        page.fill("#area-id", "ADM-TEST")
        page.fill("#area-name", "Khu thử nghiệm")
        page.select_option("#area-kind", "site")
        page.select_option("#area-parent", "DU")
        page.locator("dialog[open]").get_by_role("button", name="Lưu").click()
        item = page.locator("li[data-area-id='DU'] li[data-area-id='ADM-TEST']")
        expect(item).to_contain_text("Khu thử nghiệm")
        assert console.check(console.api.get("/api/v1/areas/ADM-TEST"))["parent_id"] == "DU"
        item.locator(".area-row").get_by_role("button", name="Sửa").click()
        expect(page.locator("#area-id")).to_have_value("ADM-TEST")
        page.fill("#area-name", "Khu thử nghiệm đổi tên")
        page.locator("dialog[open]").get_by_role("button", name="Lưu").click()
        expect(item).to_contain_text("Khu thử nghiệm đổi tên")
        assert console.check(console.api.get("/api/v1/areas/ADM-TEST"))["name"] == \
            "Khu thử nghiệm đổi tên"
        item.locator(".area-row").get_by_role("button", name="Xóa").click()
        page.locator("dialog[open]").get_by_role("button", name="Xóa").click()
        expect(item).to_have_count(0)
        assert console.api.get("/api/v1/areas/ADM-TEST").status_code == 404
    finally:
        console.api.delete("/api/v1/areas/ADM-TEST")


def test_webhook_is_created_with_filters_shows_its_secret_once_and_is_deleted(
        console: Console, page: Page) -> None:
    open_admin(console, page, "webhooks")
    page.click("#webhook-add")
    dialog = page.locator("dialog[open]")
    page.fill("#webhook-name", "Trực ban huyện")
    page.fill("#webhook-url", "http://127.0.0.1:9/hook")
    dialog.get_by_label("Xâm nhập vùng").check()
    page.select_option("#webhook-priority", "high")
    dialog.get_by_role("button", name="Lưu").click()
    expect(page.locator(".secret-note")).to_contain_text("chỉ hiện một lần")
    [hook] = [h for h in console.check(console.api.get("/api/v1/webhooks"))
              if h["name"] == "Trực ban huyện"]
    try:
        assert hook["filters"]["kinds"] == ["intrusion"]
        assert hook["filters"]["min_priority"] == "high"
        hook_row = page.locator(f"#webhook-table tr[data-webhook-id='{hook['id']}']")
        hook_row.get_by_role("button", name="Lần gửi").click()
        expect(page.locator("dialog[open] table")).to_be_visible()
        page.locator("dialog[open]").get_by_role("button", name="Đóng").click()
        hook_row.get_by_role("button", name="Xóa").click()
        page.locator("dialog[open]").get_by_role("button", name="Xóa").click()
        expect(hook_row).to_have_count(0)
        assert console.api.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    finally:
        console.api.delete(f"/api/v1/webhooks/{hook['id']}")
