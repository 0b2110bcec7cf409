"""The focused tile's live video in a real Chromium: WebRTC playing the camera's H.264,
and fast snapshots where WebRTC cannot carry the camera (H.265)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bench.glass_to_glass import lan_address
from tests.e2e.conftest import Console, screenshot, wait_in_page

# Runs startLive from the page the way the wall's focused tile does.
START = """async ([id, name]) => {
  const { startLive } = await import('/static/js/live.js');
  const box = document.createElement('div');
  box.id = 'live-test';
  box.style.cssText = 'width:640px;height:360px;position:fixed;top:80px;left:20px;z-index:9';
  document.body.append(box);
  window.liveStates = [];
  const onState = (mode, why) => window.liveStates.push([mode, why]);
  window.liveView = await startLive(box, { id, name }, { onState });
}"""


@pytest.fixture(scope="module")
def lan() -> Iterator[str]:
    with lan_address() as address:
        if address is None:
            pytest.skip("no non-loopback address for WebRTC ICE and none could be created")
        yield address


def _video(page: Page) -> dict[str, Any]:
    return page.evaluate("""() => { const v = document.querySelector('#live-test video');
        return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight,
                 paused: v.paused, hidden: v.hidden,
                 state: document.querySelector('#live-test .live-state').textContent }; }""")


def test_focused_camera_plays_live_webrtc_video(console: Console, page: Page, lan: str) -> None:
    console.wait_online(1)
    console.sign_in(page, "operator.du", expect_path="/wall")
    page.evaluate(START, ["cam001", "Camera 001 DU"])
    wait_in_page(page, """() => { const v = document.querySelector('#live-test video');
        return v && v.videoWidth > 0 && v.currentTime > 0; }""", timeout_ms=15_000)
    first = _video(page)
    page.wait_for_timeout(2000)
    later = _video(page)
    screenshot(page, "live-video-webrtc")
    assert later["time"] - first["time"] > 1.0, (first, later)  # playing, not frozen
    assert (later["width"], later["height"]) == (1280, 720)  # the main stream, as sent
    assert not later["paused"] and not later["hidden"]
    assert later["state"] == "Trực tiếp (WebRTC)"
    assert page.evaluate("window.liveView.mode") == "live"
    expect(page.locator("#live-test img")).to_be_hidden()  # no snapshot under the video
    page.evaluate("window.liveView.stop()")
    assert page.locator("#live-test video").count() == 0


def test_h265_camera_falls_back_to_refreshing_snapshots(console: Console, page: Page,
                                                        lan: str) -> None:
    console.wait_online(2)
    console.sign_in(page, "admin", expect_path="/wall")
    page.evaluate(START, ["cam002", "Camera 002 DU"])
    wait_in_page(page, """() => { const i = document.querySelector('#live-test img');
        return i && !i.hidden && i.src.startsWith('blob:') && i.naturalWidth > 0; }""",
                 timeout_ms=10_000)
    sources = set()
    for _ in range(8):
        sources.add(page.evaluate("document.querySelector('#live-test img').src"))
        page.wait_for_timeout(250)
    screenshot(page, "live-video-fallback")
    expect(page.locator("#live-test video")).to_be_hidden()
    assert len(sources) >= 4, sources  # refreshed several times in 2 s
    states = page.evaluate("window.liveStates")
    assert states[-1][0] == "fallback" and "re-encoding" in states[-1][1], states
    state = page.locator("#live-test .live-state").text_content() or ""
    assert state.startswith("Ảnh cập nhật nhanh"), state
    page.evaluate("window.liveView.stop()")
    assert page.locator("#live-test").count() == 1  # the box we made stays, emptied
    assert page.locator("#live-test img").count() == 0


def test_double_clicking_a_wall_tile_plays_its_live_video(console: Console, page: Page,
                                                          lan: str) -> None:
    console.wait_online(4)
    console.sign_in(page, "operator.du", expect_path="/wall")
    page.goto(console.url + "/wall?layout=4&q=Camera+00")
    page.locator("#wall .tile[data-camera='cam004']").dblclick()
    expect(page.locator("#focus-title")).to_have_text("Camera 004 DU")
    playing = """() => { const v = document.querySelector('#focus-live video');
        return v && v.videoWidth > 0 ? v.currentTime : 0; }"""
    wait_in_page(page, f"({playing})() > 0", timeout_ms=15_000)
    first = page.evaluate(playing)
    page.wait_for_timeout(2000)
    assert page.evaluate(playing) - first > 1.0  # the video plays, it is not a still
    page.keyboard.press("Escape")
    expect(page.locator("#focus")).to_be_hidden()
