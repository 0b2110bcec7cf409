"""End-to-end fixtures: the real server (uvicorn on a free port, ingest on) reading the
session's simulated cameras, and a real headless Chromium driven by Playwright.

Playwright cannot download its own browser here: it drives Debian's ``chromium``
(``CC_CHROMIUM`` overrides the path). Screenshots go to ``test-artifacts/``
(``CC_TEST_ARTIFACTS`` overrides it); a failing test leaves one named after itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.server import BOOTSTRAP_PASSWORD, LiveServer, finish_first_sign_in
from camera_center.settings import load_settings
from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME
from camera_sim.process import SimProcess
from tests.conftest import AREAS, PASSWORD, USERS
from tests.waiting import wait_until

CHROMIUM = os.environ.get("CC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("CC_TEST_ARTIFACTS", "test-artifacts"))
# Chromium flags: no sandbox (CI runs as root), media plays without a click, and WebRTC
# host candidates carry real addresses instead of mDNS names (aiortc cannot resolve those).
CHROMIUM_ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                 "--disable-features=WebRtcHideLocalIpsWithMdns", "--disable-gpu"]

# The session simulator's 24 cameras: the first 12 in Thị trấn Đu, the rest in Xã Yên Ninh.
CAMERA_AREAS = {f"cam{i:03d}": ("DU" if i <= 12 else "YN") for i in range(1, 25)}


class Console:
    """A running server with areas, one user per role and the simulator's cameras.

    One for the e2e package (starting it and bringing 24 cameras online costs seconds), torn
    down after its last test so that it does not load the rest of the run:
    tests leave cam001..cam024 registered and enabled, and register cameras of their own
    (other ids) for anything that changes or removes one.
    """

    def __init__(self, url: str, sim: SimProcess, data_dir: Path) -> None:
        self.url = url
        self.sim = sim
        self.data_dir = data_dir
        self.api = httpx.Client(base_url=url, timeout=20)
        finish_first_sign_in(self.api, PASSWORD)
        r = self.api.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        r.raise_for_status()
        self.api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def seed(self) -> None:
        for area in AREAS:
            self.check(self.api.post("/api/v1/areas", json=area.model_dump(mode="json")))
        for username, role, areas in USERS:
            if username != "admin":
                self.check(self.api.post("/api/v1/users", json={
                    "username": username, "role": role.value, "password": PASSWORD,
                    "area_ids": areas}))
        for cam, area in CAMERA_AREAS.items():
            extra = ({"username": SIM_USERNAME, "password": SIM_PASSWORD}
                     if cam == "cam003" else {})
            self.check(self.api.post("/api/v1/cameras", json={
                "id": cam, "name": f"Camera {cam[3:]} {area}", "area_id": area,
                "main_url": self.sim.url(cam, "main"), "sub_url": self.sim.url(cam, "sub"),
                **extra}))

    @staticmethod
    def check(response: httpx.Response) -> Any:
        assert response.is_success, \
            f"{response.request.url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def wait_online(self, count: int, timeout_s: float = 60) -> None:
        wait_until(lambda: self.check(self.api.get("/api/v1/fleet/health"))["states"],
                   timeout_s, f"{count} cameras online",
                   until=lambda states: states.get("online", 0) >= count, interval_s=0.5)

    def sign_in(self, page: Page, username: str = "admin", expect_path: str | None = None,
                *, here: bool = False) -> None:
        """Sign in through the form (*here*: on the sign-in page already open)."""
        if not here:
            page.goto(self.url + "/")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        if expect_path:
            page.wait_for_url(self.url + expect_path + "*")
        else:
            page.wait_for_url(lambda url: urlsplit(url).path != "/")


@pytest.fixture(scope="package")
def console(sim: SimProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data_dir = tmp_path_factory.mktemp("console")
    settings = load_settings(
        None, data_dir=str(data_dir),
        database={"url": f"sqlite+aiosqlite:///{data_dir / 'console.db'}"},
        auth={"bootstrap_admin": f"admin:{BOOTSTRAP_PASSWORD}", "second_factor_roles": []},
        ingest={"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3, "backoff_cap_s": 2,
                "offline_grace_s": 2},
        # Short segments for the playback tests; no free-space floor (CI disks vary).
        recording={"segment_s": 10, "min_free_gb": 0})
    with LiveServer(settings) as server:
        console = Console(server.url, sim, data_dir)
        console.seed()
        yield console
        console.api.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile on a 1080p screen, in the center's language and time zone."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every page passes the server's Content-Security-Policy: a refused script, style,
    # frame or connection is a failure of whichever test met it.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and "Content Security Policy" in m.text else None)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"failed-{request.node.name}")
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def wait_in_page(page: Page, expression: str, timeout_ms: float = 30_000) -> Any:
    """What ``page.wait_for_function`` does, polled from here: Playwright compiles that
    predicate with eval inside the page, which the console's security policy refuses."""
    return wait_until(lambda: page.evaluate(expression), timeout_ms / 1000,
                      f"the page: {expression[:80]}", until=bool, interval_s=0.1)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
