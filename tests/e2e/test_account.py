"""A user's own account page: the devices signed in, ending one of them (whose open
page goes to sign-in at once) or all the others, in Vietnamese."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import Console

PHONE = ("Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36")


def test_a_user_signs_out_another_device_from_the_account_page(console: Console,
                                                               browser: Browser,
                                                               page: Page) -> None:
    phone_context = browser.new_context(user_agent=PHONE, locale="vi-VN")
    try:
        phone = phone_context.new_page()
        console.sign_in(phone, "officer.yn", expect_path="/alerts")
        console.sign_in(page, "officer.yn", expect_path="/alerts")
        page.get_by_role("link", name="officer.yn").click()
        page.wait_for_url(console.url + "/account")
        expect(page.get_by_role("heading", name="Thiết bị đang đăng nhập")).to_be_visible()
        rows = page.locator("#ac-sessions tbody tr")
        expect(rows.filter(has_text="Thiết bị này")).to_have_count(1)
        phone_row = rows.filter(has_text="Chrome – Android")
        expect(phone_row).to_have_count(1)
        phone_row.get_by_role("button", name="Kết thúc").click()
        expect(page.locator("#toasts")).to_contain_text("Đã đăng xuất thiết bị Chrome – Android")
        expect(rows.filter(has_text="Chrome – Android")).to_have_count(0)
        # The phone's open alerts page goes to sign-in by itself: its live stream ends
        # with the session (or, not yet open, is refused), no click needed.
        phone.wait_for_url("**/?next=%2Falerts")

        # A third session (a script's), then "all the others".
        script = console.check(console.api.post("/api/v1/auth/login", json={
            "username": "officer.yn", "password": PASSWORD}))
        page.reload()
        expect(rows.filter(has_text="python-httpx")).to_have_count(1)
        page.get_by_role("button", name="Đăng xuất mọi thiết bị khác").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Thiết bị này")
        expect(page.get_by_role("button", name="Đăng xuất mọi thiết bị khác")).to_be_disabled()
        page.goto(console.url + "/alerts")  # this device is still signed in
        expect(page.get_by_role("link", name="Cảnh báo")).to_have_attribute("aria-current", "page")
        assert console.api.get("/api/v1/auth/me", headers={
            "Authorization": f"Bearer {script['access_token']}"}).status_code == 401
    finally:
        phone_context.close()
