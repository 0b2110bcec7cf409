"""Signing in to the console, its language, and who may open which page."""

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console


def test_operator_signs_in_and_lands_on_the_wall_in_vietnamese(console: Console,
                                                                page: Page) -> None:
    console.sign_in(page, "operator.du", expect_path="/wall")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("link", name="Tường video")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Quản trị")).to_have_count(0)  # not an admin
    page.get_by_role("button", name="Chuyển ngôn ngữ sang tiếng Anh").click()
    expect(page.get_by_role("link", name="Video wall")).to_be_visible()
    page.reload()  # the choice is remembered
    expect(page.get_by_role("link", name="Alerts")).to_be_visible()


def test_wrong_password_says_why_and_stays_on_the_sign_in_page(console: Console,
                                                               page: Page) -> None:
    page.goto(console.url + "/")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#msg")).not_to_be_empty()
    assert page.url == console.url + "/"


def test_pages_need_a_session_and_the_right_role(console: Console, page: Page) -> None:
    page.goto(console.url + "/wall?layout=9")
    page.wait_for_url("**/?next=*")
    console.sign_in(page, "officer.yn", here=True)
    page.wait_for_url(console.url + "/wall?layout=9")  # back where it was going...
    assert "Không có quyền" in page.content()  # ...but an officer may not watch the wall
    page.goto(console.url + "/alerts")
    expect(page.get_by_role("link", name="Cảnh báo")).to_have_attribute("aria-current", "page")


def test_sign_out_ends_the_session(console: Console, page: Page) -> None:
    console.sign_in(page, "admin", expect_path="/wall")
    page.click("#sign-out")
    page.wait_for_url(console.url + "/")
    page.goto(console.url + "/admin")
    page.wait_for_url("**/?next=*")


def test_the_api_docs_page_works_under_the_security_policy(console: Console,
                                                           page: Page) -> None:
    response = page.goto(console.url + "/docs")
    assert response is not None and "script-src 'self'" in response.headers[
        "content-security-policy"]
    expect(page.get_by_role("heading", name="camera-center")).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="cameras").first).to_be_visible()
