"""Live video over WebRTC: signalling answers, who may watch, and real video reaching a
real WebRTC client (aiortc) from the simulator's H.264 camera, relayed without re-encoding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from fastapi.testclient import TestClient

from bench.glass_to_glass import lan_address
from camera_center.app import create_app
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from tests.conftest import World, camera_body
from tests.waiting import wait_until

URL = "/api/v1/cameras/{}/live/webrtc"
T = TypeVar("T")


@pytest.fixture(scope="module")
def lan() -> Iterator[str]:
    with lan_address() as address:
        if address is None:
            pytest.skip("no non-loopback address for WebRTC ICE (aioice leaves 127.0.0.1 "
                        "out) and none could be created (needs root and veth)")
        yield address


def _register(client: TestClient, world: World, cam_id: str, url: str,
              area: str = "DU") -> None:
    body = camera_body(cam_id, area, main_url=url, sub_url=url)
    r = client.post("/api/v1/cameras", json=body, headers=world.admin)
    assert r.status_code == 201, r.text


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a thread of its own: Playwright's sync API (the e2e tests, same
    session) keeps an event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _offer_sdp() -> str:
    async def make() -> str:
        pc, sdp = await _offer()
        await pc.close()
        return sdp
    return _run(make())


def test_an_offer_that_is_not_sdp_is_refused_with_a_reason(client: TestClient,
                                                          world: World) -> None:
    _register(client, world, "du-live", "rtsp://127.0.0.10:554/nothing")
    for sdp in ("hello, this is not SDP", "v=0\r\ns=-\r\nt=0 0\r\n"):
        r = client.post(URL.format("du-live"), json={"sdp": sdp, "type": "offer"},
                        headers=world.headers["operator"])
        assert r.status_code == 400, r.text
        assert "SDP offer" in r.json()["detail"]


def test_an_answer_instead_of_an_offer_is_a_field_error(client: TestClient,
                                                        world: World) -> None:
    _register(client, world, "du-live", "rtsp://127.0.0.10:554/nothing")
    r = client.post(URL.format("du-live"), json={"sdp": _offer_sdp(), "type": "answer"},
                    headers=world.admin)
    assert r.status_code == 422
    r = client.post(URL.format("du-live"), content=b"{not json",
                    headers={**world.admin, "Content-Type": "application/json"})
    assert r.status_code == 400


def test_officers_cannot_open_live_video(client: TestClient, world: World) -> None:
    _register(client, world, "yn-live", "rtsp://127.0.0.10:554/nothing", area="YN")
    r = client.post(URL.format("yn-live"), json={"sdp": _offer_sdp()},
                    headers=world.headers["officer"])
    assert r.status_code == 403
    assert client.post(URL.format("yn-live"), json={"sdp": _offer_sdp()}).status_code == 401


def test_an_operator_cannot_watch_a_camera_outside_his_areas(client: TestClient,
                                                             world: World) -> None:
    _register(client, world, "yn-live", "rtsp://127.0.0.10:554/nothing", area="YN")
    r = client.post(URL.format("yn-live"), json={"sdp": _offer_sdp()},
                    headers=world.headers["operator"])
    assert r.status_code == 404
    r = client.delete(URL.format("yn-live") + "/abcdefgh12345678",
                      headers=world.headers["operator"])
    assert r.status_code == 404


def test_an_unreachable_camera_is_a_conflict_without_its_password(client: TestClient,
                                                                  world: World) -> None:
    body = camera_body("du-dead", "DU", main_url="rtsp://127.0.0.1:9/dead/main",
                       username="viewer", password="Very-Secret-77")
    assert client.post("/api/v1/cameras", json=body, headers=world.admin).status_code == 201
    r = client.post(URL.format("du-dead"), json={"sdp": _offer_sdp()}, headers=world.admin)
    assert r.status_code == 409, r.text
    assert "Very-Secret-77" not in r.text


def test_an_h265_camera_is_refused_so_the_page_falls_back(client: TestClient, world: World,
                                                          sim: SimProcess) -> None:
    _register(client, world, "du-hevc", sim.url("cam002", "main"))
    r = client.post(URL.format("du-hevc"), json={"sdp": _offer_sdp()}, headers=world.admin)
    assert r.status_code == 409, r.text
    assert "H.264" in r.json()["detail"]


def test_a_browser_without_h264_is_told_why(client: TestClient, world: World,
                                           sim: SimProcess) -> None:
    _register(client, world, "du-vp8", sim.url("cam007", "sub"))

    async def vp8_only() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                         if c.mimeType == "video/VP8"])
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    r = client.post(URL.format("du-vp8"), json={"sdp": _run(vp8_only()), "stream": "sub"},
                    headers=world.admin)
    assert r.status_code == 409, r.text
    assert "no H.264" in r.json()["detail"]


async def _watch(client: TestClient, headers: dict[str, str], cam_id: str,
                 frames_wanted: int = 10, timeout_s: float = 15) -> dict[str, Any]:
    pc, sdp = await _offer()
    got: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", lambda track: got.put_nowait(track))
    # The TestClient blocks: keep this loop (and its ICE agent) running meanwhile.
    r = await asyncio.to_thread(client.post, URL.format(cam_id), json={"sdp": sdp},
                                headers=headers)
    assert r.status_code == 200, r.text
    answer = r.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    track = await asyncio.wait_for(got.get(), 5)
    frames, started = [], time.monotonic()
    try:
        while len(frames) < frames_wanted:
            frame = await asyncio.wait_for(track.recv(),
                                           timeout_s - (time.monotonic() - started))
            frames.append(frame)
    except (TimeoutError, MediaStreamError):
        pass
    await pc.close()
    codecs = [line for line in answer["sdp"].splitlines() if line.startswith("a=rtpmap:")]
    return {"frames": frames, "session_id": answer["session_id"], "codecs": codecs,
            "seconds": time.monotonic() - started}


def test_a_viewer_receives_the_cameras_h264_video(client: TestClient, world: World,
                                                 sim: SimProcess, lan: str) -> None:
    _register(client, world, "du-h264", sim.url("cam001", "main"))
    seen = _run(_watch(client, world.headers["operator"], "du-h264"))
    assert len(seen["frames"]) == 10, f"only {len(seen['frames'])} frames in 15 s"
    assert (seen["frames"][-1].width, seen["frames"][-1].height) == (1280, 720)
    # Passthrough: nothing but H.264 (and its retransmission format) was offered back.
    assert all("H264" in c or "rtx" in c for c in seen["codecs"]), seen["codecs"]
    r = client.delete(URL.format("du-h264") + f"/{seen['session_id']}",
                      headers=world.headers["operator"])
    assert r.status_code in (204, 404)  # closing the client may have ended it already


def test_two_viewers_share_one_camera_reader(client: TestClient, world: World,
                                             sim: SimProcess, lan: str) -> None:
    _register(client, world, "du-shared", sim.url("cam004", "main"))

    async def both() -> list[dict[str, Any]]:
        return list(await asyncio.gather(
            _watch(client, world.admin, "du-shared", frames_wanted=5),
            _watch(client, world.headers["operator"], "du-shared", frames_wanted=5)))

    views = _run(both())
    assert [len(v["frames"]) for v in views] == [5, 5]
    relay = client.app.state.services.live_relay  # type: ignore[attr-defined]
    assert relay.readers() == ["du-shared"]
    assert relay.reader_opens == 1  # one RTSP session read for both viewers


def test_a_camera_beyond_its_viewer_limit_says_why_until_a_view_closes(
        client: TestClient, world: World, sim: SimProcess, lan: str) -> None:
    _register(client, world, "du-busy", sim.url("cam005", "sub"))
    relay = client.app.state.services.live_relay  # type: ignore[attr-defined]
    relay.limits = replace(relay.limits, max_per_camera=1)

    async def post(sdp: str, headers: dict[str, str]) -> Any:
        return await asyncio.to_thread(client.post, URL.format("du-busy"),
                                       json={"sdp": sdp, "stream": "sub"}, headers=headers)

    async def scenario() -> list[Any]:
        pcs = [await _offer() for _ in range(3)]
        first = await post(pcs[0][1], world.admin)
        assert first.status_code == 200, first.text
        session = URL.format("du-busy") + "/" + first.json()["session_id"]
        second = await post(pcs[1][1], world.headers["operator"])
        # Only its viewer (or an admin) ends a view: the operator cannot end the admin's.
        not_his = await asyncio.to_thread(client.delete, session,
                                          headers=world.headers["operator"])
        ended = await asyncio.to_thread(client.delete, session, headers=world.admin)
        again = await asyncio.to_thread(client.delete, session, headers=world.admin)
        third = await post(pcs[2][1], world.headers["operator"])
        for pc, _sdp in pcs:
            await pc.close()
        return [second, not_his, ended, again, third]

    second, not_his, ended, again, third = _run(scenario())
    assert second.status_code == 409 and "limit" in second.json()["detail"]
    assert (not_his.status_code, ended.status_code, again.status_code) == (404, 204, 404)
    assert third.status_code == 200, third.text  # the closed view freed its place


def test_stopping_the_server_closes_live_views_and_readers(
        make_settings: Callable[..., Settings], sim: SimProcess, lan: str) -> None:
    with TestClient(create_app(make_settings())) as client:
        world = World(client)
        _register(client, world, "du-stop", sim.url("cam006", "sub"))
        r = client.post(URL.format("du-stop"), json={"sdp": _offer_sdp(), "stream": "sub"},
                        headers=world.admin)
        assert r.status_code == 200, r.text
        relay = client.app.state.services.live_relay  # type: ignore[attr-defined]
        session = relay.session(r.json()["session_id"])
        assert relay.readers() == ["du-stop"]
    assert session.pc.connectionState == "closed"
    assert relay.readers() == [] and relay.session(session.id) is None


def test_a_live_view_ends_when_its_viewer_is_signed_out_by_an_admin(
        client: TestClient, world: World, sim: SimProcess, lan: str) -> None:
    """Finding 1 of the outside review, for WebRTC: a view outlived its viewer's access."""
    _register(client, world, "du-access", sim.url("cam007", "sub"))
    r = client.post(URL.format("du-access"), json={"sdp": _offer_sdp(), "stream": "sub"},
                    headers=world.headers["operator"])
    assert r.status_code == 200, r.text
    relay = client.app.state.services.live_relay  # type: ignore[attr-defined]
    session = relay.session(r.json()["session_id"])
    assert session is not None
    ended = client.delete(f"/api/v1/users/{world.ids['operator']}/sessions",
                          headers=world.admin)
    assert ended.status_code == 204
    wait_until(lambda: relay.session(session.id), 5, "the live view closed",
               until=lambda s: s is None, interval_s=0.05)
    assert session.pc.connectionState == "closed"
