"""The account's setup in the console: a password an admin chose is replaced at first
sign-in (nothing else opens until then), and two-step sign-in is enrolled from the
account page with a QR code, then asked for at every sign-in, a recovery code standing
in for a lost phone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import Console, screenshot, wait_in_page

USERNAME = "op.setup"
NEW_PASSWORD = "Ca-truc-dem-2026"


@pytest.fixture
def new_operator(console: Console) -> Iterator[int]:
    user = console.check(console.api.post("/api/v1/users", json={
        "username": USERNAME, "role": "operator", "password": PASSWORD, "area_ids": ["DU"],
        "full_name": "Trần Thị Ca", "must_change_password": True}))
    yield user["id"]
    console.api.delete(f"/api/v1/users/{user['id']}")


def sign_in(console: Console, page: Page, password: str) -> None:
    page.goto(console.url + "/")
    page.fill("#username", USERNAME)
    page.fill("#password", password)
    page.click("#submit")


def test_a_new_operator_changes_the_password_then_enrols_two_step_sign_in(
        console: Console, page: Page, new_operator: int) -> None:
    sign_in(console, page, PASSWORD)
    page.wait_for_url(console.url + "/account")
    expect(page.locator("#ac-setup")).to_contain_text("Mật khẩu ban đầu phải được đổi")
    expect(page.locator("#ac-sessions-section")).to_be_hidden()
    expect(page.locator("#ac-2fa-section")).to_be_hidden()
    page.goto(console.url + "/wall")  # nothing else opens
    page.wait_for_url(console.url + "/account")
    page.fill("#ac-current", PASSWORD)
    page.fill("#ac-new", NEW_PASSWORD)
    page.fill("#ac-repeat", NEW_PASSWORD)
    page.get_by_role("button", name="Đổi mật khẩu").click()
    page.wait_for_url(console.url + "/")

    sign_in(console, page, NEW_PASSWORD)
    page.wait_for_url(console.url + "/wall")  # the operator's own start page
    page.goto(console.url + "/account")
    expect(page.locator("#ac-setup")).to_be_hidden()
    expect(page.locator("#ac-2fa-state")).to_have_text("Đang tắt.")
    page.get_by_role("button", name="Bật xác thực hai bước").click()
    qr = page.locator("#ac-2fa-qr")
    expect(qr).to_be_visible()
    wait_in_page(page, "document.getElementById('ac-2fa-qr').naturalWidth > 100")
    secret = page.locator("#ac-2fa-secret").inner_text().replace(" ", "")
    assert pyotp.TOTP(secret).now()
    page.fill("#ac-2fa-code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Xác nhận và bật").click()
    expect(page.locator("#ac-2fa-error")).to_contain_text("does not match")
    page.fill("#ac-2fa-code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Xác nhận và bật").click()
    codes = page.locator("#ac-2fa-code-list li")
    expect(codes).to_have_count(10)
    recovery = codes.nth(0).inner_text()
    screenshot(page, "account-two-step")
    page.get_by_role("button", name="Tôi đã lưu các mã").click()
    expect(page.locator("#ac-2fa-code-list li")).to_have_count(0)
    expect(page.locator("#ac-2fa-state")).to_have_text("Đang bật. Còn 10 mã khôi phục chưa dùng.")

    # Signed out, the password alone is not enough any more.
    page.click("#sign-out")
    page.wait_for_url(console.url + "/")
    sign_in(console, page, NEW_PASSWORD)
    expect(page.locator("#second-step")).to_be_visible()
    expect(page.locator("#code-label")).to_have_text("Mã xác thực (6 chữ số)")
    # The code of the next half minute: the one shown at enrolment works only once.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url(console.url + "/wall")

    page.click("#sign-out")
    page.wait_for_url(console.url + "/")
    sign_in(console, page, NEW_PASSWORD)
    page.get_by_role("button", name="Không có điện thoại? Dùng mã khôi phục").click()
    expect(page.locator("#code-label")).to_have_text("Mã khôi phục")
    page.fill("#code", recovery)
    page.get_by_role("button", name="Xác nhận").click()
    page.wait_for_url(console.url + "/wall")
    page.goto(console.url + "/account")
    expect(page.locator("#ac-2fa-state")).to_have_text("Đang bật. Còn 9 mã khôi phục chưa dùng.")
