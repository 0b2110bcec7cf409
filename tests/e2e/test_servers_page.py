"""The servers section of the administration page in a real browser: this server listed
with its state, drained with a confirmation; a camera pinned to it and unpinned. The
server is left undrained and without pins, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, screenshot


@pytest.fixture
def this_node(console: Console) -> Iterator[str]:
    """The server's node id; undrained and unpinned afterwards."""
    node = console.check(console.api.get("/api/v1/cluster/nodes"))["this_node"]
    yield node
    console.api.post(f"/api/v1/cluster/nodes/{node}/drain", json={"draining": False})
    for pin in console.check(console.api.get("/api/v1/cluster/pins"))["items"]:
        console.api.delete(f"/api/v1/cluster/pins/{pin['camera_id']}")


def open_servers(console: Console, page: Page) -> None:
    console.sign_in(page, "admin", expect_path="/wall")
    page.goto(f"{console.url}/admin#servers")
    page.wait_for_selector("body[data-ready=true]")


def test_admin_sees_this_server_up_and_drains_it(console: Console, page: Page,
                                                 this_node: str) -> None:
    open_servers(console, page)
    expect(page.get_by_role("tab", name="Máy chủ")).to_have_attribute("aria-selected", "true")
    row = page.locator(f"#server-table tr[data-node-id='{this_node}']")
    expect(row.locator(".node-state")).to_have_text("Hoạt động")
    expect(row).to_contain_text("máy chủ này")
    expect(row).to_contain_text("trước")            # the last heartbeat, "… s trước"
    row.get_by_role("button", name="Rút tải").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text(this_node)
    dialog.get_by_role("button", name="Rút tải").click()
    expect(row.locator(".node-state")).to_have_text("Đang rút tải")
    expect(row.get_by_role("button", name="Nhận tải lại")).to_be_visible()
    node = next(n for n in console.check(console.api.get("/api/v1/cluster/nodes"))["items"]
                if n["node_id"] == this_node)
    assert node["draining"] is True and node["state"] == "draining"
    screenshot(page, "admin-servers-draining")
    # Still draining after the next refreshes: the heartbeat keeps an admin's choice.
    page.wait_for_timeout(6000)
    expect(row.locator(".node-state")).to_have_text("Đang rút tải")


def test_admin_pins_a_camera_to_this_server_and_unpins_it(console: Console, page: Page,
                                                         this_node: str) -> None:
    open_servers(console, page)
    page.fill("#pin-camera", "cam001")
    page.select_option("#pin-node", this_node)
    page.get_by_role("button", name="Ghim", exact=True).click()
    pinned = page.locator("#pin-table tr[data-camera-id='cam001']")
    expect(pinned).to_contain_text(this_node)
    expect(pinned.locator(".node-state")).to_have_text("Hoạt động")
    assert console.check(console.api.get("/api/v1/cluster/pins"))["items"] == [
        {"camera_id": "cam001", "node_id": this_node}]
    pinned.get_by_role("button", name="Bỏ ghim").click()
    page.locator("dialog").get_by_role("button", name="Bỏ ghim").click()
    expect(pinned).to_have_count(0)
    expect(page.locator("#pin-table")).to_contain_text("Chưa có camera nào được ghim.")
