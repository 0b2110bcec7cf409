"""The simulated cameras' RTSP server: RTSP/1.0 over TCP, RTP interleaved, on asyncio.

Each camera has ``/<id>/main`` (1280x720), ``/<id>/sub`` (640x360) and ``/<id>/vendor``
(the sub stream in a payload format no standard client knows); see ``mounts`` for how
they stream. ``live_stream`` adds a mount fed frame by frame by its owner (a benchmark's
camera that draws the time).

Why not GStreamer's gst-rtsp-server, which served these streams before: it cost about
4.2 ms of CPU per stream-second here (a thread hand-off and a send per RTP packet), so
400 cameras took 1.7 of this machine's 2 cores and left the server under test starved.
This server sends each frame's packets, cut once per clip, in one write: about a tenth
of that. It speaks the part of RTSP that cameras and their clients use (OPTIONS,
DESCRIBE, SETUP with interleaved TCP, PLAY, PAUSE, TEARDOWN, GET/SET_PARAMETER, Digest
authentication); FFmpeg (ffprobe, PyAV, OpenCV) reads it.

Faults are injected per camera at run time. Every scripted incident is logged with the
wall-clock time its first frame was sent: the ground truth for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME, SimCamera
from camera_sim.mounts import Faults, LiveMount, Mount, Viewer
from camera_sim.rtp import FrameBlock, frame_blocks, sdp_media
from camera_sim.rtsp_messages import PUBLIC, DigestAuth, Request, parse_request, response
from camera_sim.scenes import SCENES, EncodedClip

# RTP packet size, as cameras send it (a 640x360 keyframe is about 20 packets).
DEFAULT_MTU = 1400
_OUTAGE_CHECK_S = 0.1
_SESSION_TIMEOUT_S = 60


@dataclass(eq=False)
class _Connection:
    transport: asyncio.WriteTransport
    session: str | None = None
    setup: dict[Mount, int] = field(default_factory=dict)   # mount -> interleaved channel
    playing: dict[Mount, Viewer] = field(default_factory=dict)

    def stop_playing(self) -> None:
        for mount, viewer in self.playing.items():
            mount.remove(viewer)
        self.playing.clear()


class SimServer:
    def __init__(self, cameras: list[SimCamera], clips: Callable[[str, str, str], EncodedClip],
                 host: str = "127.0.0.1", port: int = 8554, mtu: int = DEFAULT_MTU) -> None:
        """*clips(scene, kind, codec)* gives the encoded clip for a mount."""
        self.cameras = {c.id: c for c in cameras}
        self.mtu = mtu
        self.host, self.port = host, port
        self.incidents: deque[dict[str, Any]] = deque(maxlen=20_000)
        self._incident_lock = threading.Lock()
        self._auth = DigestAuth(SIM_USERNAME, SIM_PASSWORD)
        self._blocks: dict[int, tuple[FrameBlock, ...]] = {}
        self._incident_frames: dict[tuple[str, int], dict[int, list[Any]]] = {}
        self.mounts: dict[str, Mount] = {}
        self._dark_until: dict[str, float] = {}
        self._dark_cycle: dict[str, int] = {}
        self._refuse_until: dict[str, float] = {}
        self._connections: set[_Connection] = set()
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        for cam in cameras:
            for kind in ("main", "sub", "vendor"):
                size = "main" if kind == "main" else "sub"
                mount = Mount(cam, kind, clips(cam.scene, size, cam.codec),
                               clips("quiet", f"{size}-alt", cam.codec), self)
                self.mounts[mount.path] = mount
        self.started_at = time.time()

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen (raises OSError if the port is taken), then serve on a thread of its own."""
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, self.host, self.port, backlog=1024))
        self.loop.call_later(_OUTAGE_CHECK_S, self._check_outages)
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim-rtsp",
                                        daemon=True)
        self._thread.start()
        self.started_at = time.time()

    def stop(self) -> None:
        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._connections):
                conn.transport.close()
            self.loop.stop()

        if self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(shutdown)
            self._thread.join(timeout=5)

    def live_stream(self, camera_id: str, codec: str, width: int, height: int,
                    fps: int) -> Callable[[bytes, bool], None]:
        """Serve frames encoded as they come at ``/<camera_id>/live``; returns the function
        that sends one (an access unit and whether it is a keyframe), from any thread."""
        camera = SimCamera(camera_id, scene="live", codec=codec)
        empty = EncodedClip("live", codec, width, height, fps, [], [])
        mount = LiveMount(camera, "live", empty, empty, self)
        mount.ssrc = random.getrandbits(32)
        mount.started = self.loop.time()
        self.mounts[mount.path] = mount

        def push(unit: bytes, keyframe: bool) -> None:
            self.loop.call_soon_threadsafe(mount.push, unit, keyframe)
        return push

    def blocks(self, clip: EncodedClip) -> tuple[FrameBlock, ...]:
        """The clip cut into packets, once per clip (cameras share clips)."""
        blocks = self._blocks.get(id(clip))
        if blocks is None:
            blocks = self._blocks[id(clip)] = frame_blocks(clip, self.mtu)
        return blocks

    def log_incidents(self, camera_id: str, clip: EncodedClip, index: int) -> None:
        key = (clip.scene, clip.fps)
        frames = self._incident_frames.get(key)
        if frames is None:
            frames = {}
            for incident in (SCENES[clip.scene].incidents if clip.scene in SCENES else ()):
                frames.setdefault(round(incident.at_s * clip.fps), []).append(incident)
            self._incident_frames[key] = frames
        for incident in frames.get(index, ()):
            self._record({"camera_id": camera_id, "kind": incident.kind, "at": time.time(),
                          "duration_s": incident.duration_s, "box": incident.box,
                          **incident.detail})

    def _record(self, incident: dict[str, Any]) -> None:
        with self._incident_lock:
            self.incidents.append(incident)

    # -- RTSP --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer.transport)
        self._connections.add(conn)
        try:
            while True:
                first = await reader.readexactly(1)
                if first == b"$":  # interleaved data from the client (RTCP reports)
                    header = await reader.readexactly(3)
                    await reader.readexactly(int.from_bytes(header[1:3], "big"))
                    continue
                head = first + await reader.readuntil(b"\r\n\r\n")
                request = parse_request(head)
                length = int(request.headers.get("Content-Length") or 0)
                if length:
                    await reader.readexactly(length)
                self._handle(conn, request)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                ValueError):
            pass  # the client left, or sent something that is not RTSP: drop it
        finally:
            conn.stop_playing()
            self._connections.discard(conn)
            writer.close()

    def _handle(self, conn: _Connection, req: Request) -> None:
        send = conn.transport.write
        if req.method == "OPTIONS":
            send(response(req.cseq, 200, {"Public": PUBLIC}))
            return
        path = req.path
        mount = self.mounts.get("/" + "/".join(path[:2])) if len(path) >= 2 else None
        if req.method in ("PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER") \
                and mount is None and conn.setup:
            mount = next(iter(conn.setup))  # aggregate control URL ("*" or the base)
        if mount is None:
            send(response(req.cseq, 404))
            return
        cam_id = mount.camera.id
        now = time.monotonic()
        if self._dark_until.get(cam_id, 0.0) > now:
            send(response(req.cseq, 404))
            return
        refusing = self._refuse_until.get(cam_id, 0.0) > now
        if refusing or (mount.camera.needs_auth and not self._auth.check(req)):
            send(response(req.cseq, 401, self._auth.challenge()))
            return
        handler = getattr(self, f"_on_{req.method.lower()}", None)
        if handler is None:
            send(response(req.cseq, 405, {"Allow": PUBLIC}))
            return
        handler(conn, req, mount)

    def _session_headers(self, conn: _Connection) -> dict[str, str]:
        return {"Session": f"{conn.session};timeout={_SESSION_TIMEOUT_S}"} if conn.session else {}

    def _on_describe(self, conn: _Connection, req: Request, mount: Mount) -> None:
        base = req.url.rstrip("/") + "/"
        sdp = "\r\n".join([
            "v=0", f"o=- {mount.ssrc or 1} 1 IN IP4 {self.host}",
            f"s=camera-center simulator {mount.camera.id} {mount.kind}",
            f"c=IN IP4 {self.host}", "t=0 0", "a=control:*", "a=range:npt=0-",
            *sdp_media(mount.clip, vendor=mount.kind == "vendor"), ""]).encode()
        conn.transport.write(response(req.cseq, 200, {
            "Content-Base": base, "Content-Type": "application/sdp"}, sdp))

    def _on_setup(self, conn: _Connection, req: Request, mount: Mount) -> None:
        transport = req.headers.get("Transport", "")
        channel = _interleaved_channel(transport)
        if "TCP" not in transport.upper() or channel is None:
            # Cameras behind NAT and this test bed: TCP only (clients then retry with it).
            conn.transport.write(response(req.cseq, 461))
            return
        if req.headers.get("Session") and conn.session and \
                req.headers["Session"].split(";")[0] != conn.session:
            conn.transport.write(response(req.cseq, 454))
            return
        conn.session = conn.session or secrets.token_hex(8)
        conn.setup[mount] = channel
        if not mount.ssrc:
            mount.ssrc = random.getrandbits(32)
        conn.transport.write(response(req.cseq, 200, {
            "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1};"
                         f"ssrc={mount.ssrc:08X}",
            **self._session_headers(conn)}))

    def _on_play(self, conn: _Connection, req: Request, mount: Mount) -> None:
        session = (req.headers.get("Session") or "").split(";")[0]
        if not conn.session or session != conn.session or mount not in conn.setup:
            conn.transport.write(response(req.cseq, 454))
            return
        starting = [m for m in conn.setup if m not in conn.playing]
        info = []
        for m in starting:
            seq, rtptime = m.rtp_info()
            info.append(f"url={req.url.rstrip('/')}/trackID=0;seq={seq};rtptime={rtptime}")
        conn.transport.write(response(req.cseq, 200, {
            "Range": "npt=0.000-", **({"RTP-Info": ",".join(info)} if info else {}),
            **self._session_headers(conn)}))
        for m in starting:
            viewer = Viewer(conn.transport, conn.setup[m])
            conn.playing[m] = viewer
            delay = m.faults.slow_start_s
            if delay:
                self.loop.call_later(delay, self._start_late, conn, m, viewer)
            else:
                m.add(viewer)

    @staticmethod
    def _start_late(conn: _Connection, mount: Mount, viewer: Viewer) -> None:
        """A slow-start PLAY: stream only if the viewer is still there and playing."""
        if not viewer.transport.is_closing() and conn.playing.get(mount) is viewer:
            mount.add(viewer)

    def _on_pause(self, conn: _Connection, req: Request, mount: Mount) -> None:
        conn.stop_playing()
        conn.transport.write(response(req.cseq, 200, self._session_headers(conn)))

    def _on_teardown(self, conn: _Connection, req: Request, mount: Mount) -> None:
        conn.stop_playing()
        conn.setup.clear()
        headers = self._session_headers(conn)
        conn.session = None
        conn.transport.write(response(req.cseq, 200, headers))

    def _on_get_parameter(self, conn: _Connection, req: Request, mount: Mount) -> None:
        conn.transport.write(response(req.cseq, 200, self._session_headers(conn)))

    _on_set_parameter = _on_get_parameter

    # -- outages and faults (any thread; changes run on the server's loop) ------------------

    def _check_outages(self) -> None:
        wall = time.time() - self.started_at
        for cam in self.cameras.values():  # scheduled outages
            cycle = cam.dark
            if cycle and wall >= cycle.start_s:
                k = int((wall - cycle.start_s) // cycle.period_s)
                if k > self._dark_cycle.get(cam.id, -1):
                    self._dark_cycle[cam.id] = k
                    self._go_dark(cam.id, cycle.off_s)
        now = time.monotonic()
        for table in (self._dark_until, self._refuse_until):
            for cam_id, until in list(table.items()):
                if until <= now:
                    del table[cam_id]
        self.loop.call_later(_OUTAGE_CHECK_S, self._check_outages)

    def _camera_mounts(self, cam_id: str) -> list[Mount]:
        if cam_id not in self.cameras:
            raise KeyError(cam_id)
        return [self.mounts[f"/{cam_id}/{kind}"] for kind in ("main", "sub", "vendor")]

    def _drop_viewers(self, cam_id: str) -> None:
        """Disconnect every client of this camera (closing their TCP connections)."""
        mounts = set(self._camera_mounts(cam_id))
        for conn in list(self._connections):
            if mounts & set(conn.setup):
                conn.transport.close()
                conn.stop_playing()  # at once: a mount without viewers stops its timer

    def _go_dark(self, cam_id: str, seconds: float) -> None:
        self._dark_until[cam_id] = time.monotonic() + seconds
        self._drop_viewers(cam_id)
        self._record({"camera_id": cam_id, "kind": "dark", "at": time.time(),
                      "duration_s": seconds, "box": None})

    def fault_stop(self, cam_id: str, seconds: float) -> None:
        """The camera goes dark: sessions dropped, new connections refused (404)."""
        self._camera_mounts(cam_id)
        self.loop.call_soon_threadsafe(lambda: self._go_dark(cam_id, seconds))

    def fault_stall(self, cam_id: str, seconds: float) -> None:
        """Connections stay open but no data flows."""
        until = time.monotonic() + seconds
        for mount in self._camera_mounts(cam_id):
            mount.faults.stall_until = until

    def fault_garbage(self, cam_id: str, frames: int) -> None:
        """The next *frames* frames carry random bytes in their payloads."""
        for mount in self._camera_mounts(cam_id):
            mount.faults.garbage_frames = frames

    def fault_resolution(self, cam_id: str) -> None:
        """Switch resolution at the next keyframe (new SPS in-band)."""
        for mount in self._camera_mounts(cam_id):
            mount.faults.switch_pending = True

    def fault_slow_start(self, cam_id: str, seconds: float) -> None:
        """From the next connection on, the first frame comes *seconds* late."""
        for mount in self._camera_mounts(cam_id):
            mount.faults.slow_start_s = seconds

    def fault_refuse(self, cam_id: str, seconds: float) -> None:
        """Answer 401 to everybody (as after a password change on the camera)."""
        self._camera_mounts(cam_id)

        def refuse() -> None:
            self._refuse_until[cam_id] = time.monotonic() + seconds
            self._drop_viewers(cam_id)

        self.loop.call_soon_threadsafe(refuse)

    def clear_faults(self, cam_id: str) -> None:
        for mount in self._camera_mounts(cam_id):
            mount.faults = Faults()

        def clear() -> None:
            self._dark_until.pop(cam_id, None)
            self._refuse_until.pop(cam_id, None)

        self.loop.call_soon_threadsafe(clear)

    # -- reporting ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        mounts = list(self.mounts.values())
        now = time.monotonic()
        return {"cameras": len(self.cameras),
                "active_mounts": sum(1 for m in mounts if m.streaming),
                "viewers": sum(len(m.viewers) for m in mounts),
                "dark": sorted(c for c, until in list(self._dark_until.items()) if until > now),
                "pushed": sum(m.pushed for m in mounts)}

    def timeline(self, since: float = 0.0) -> list[dict[str, Any]]:
        with self._incident_lock:
            return [i for i in self.incidents if i["at"] >= since]


def _interleaved_channel(transport: str) -> int | None:
    for part in transport.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "interleaved":
            with contextlib.suppress(ValueError):
                return int(value.split("-")[0])
    return None
