"""A real RTSP server (GStreamer's gst-rtsp-server) serving the simulated cameras.

Each camera has ``/<id>/main`` (1280x720) and ``/<id>/sub`` (640x360). A mount's
pipeline is built only when a client asks for it and is shared by all its clients;
``appsrc`` is fed the cached access units (stream copy, no encoding) with
timestamps that keep growing across loops of the clip, paced to real time by
``clocksync``. One Python thread feeds every mount a little ahead of its clock:
GStreamer's streaming threads never call into Python, so hundreds of them do not
queue for the interpreter lock (as they did with a ``need-data`` callback each).

Faults are injected per camera at run time. Every scripted incident is logged
with the wall-clock time its first frame was sent: the ground truth for tests.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gi
import structlog

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

from ingest.sim.fleet import SIM_PASSWORD, SIM_USERNAME, SimCamera  # noqa: E402
from ingest.sim.scenes import SCENES, EncodedClip  # noqa: E402

log = structlog.stdlib.get_logger("ingest.sim")

Gst.init(None)

# Each mount is fed this far ahead of its clock, every _PUMP_S.
_LEAD_NS = Gst.SECOND // 2
_PUMP_S = 0.05
# A mount's pipeline keeps running this long after its last client left.
_LINGER_S = 10.0


@dataclass
class _Faults:
    stall_until: float = 0.0
    garbage_frames: int = 0
    switch_pending: bool = False
    slow_start_s: float = 0.0


@dataclass(eq=False)  # kept in a set: identity, not value
class _Mount:
    camera: SimCamera
    kind: str                    # "main" or "sub"
    clip: EncodedClip
    alt_clip: EncodedClip        # another resolution, for the resolution-change fault
    on_incident: Callable[[dict[str, Any]], None]
    on_active: Callable[[_Mount, bool], None]
    faults: _Faults = field(default_factory=_Faults)
    factory: Any = None
    media: Any = None
    appsrc: Any = None
    index: int = 0               # position in the clip, keeps counting across loops
    next_pts: int = 0
    new_viewer_at: float | None = None
    pushed: int = 0
    held: Any = None             # the media we keep prepared between clients
    idle_since: float | None = None

    @property
    def path(self) -> str:
        return f"/{self.camera.id}/{self.kind}"

    def configure(self, _factory: Any, media: Any) -> None:
        self.media = media
        self.appsrc = media.get_element().get_child_by_name("src")
        self.appsrc.set_caps(_caps(self.clip))
        self.index = self.next_pts = 0
        if self.faults.slow_start_s:
            self.faults.stall_until = time.monotonic() + self.faults.slow_start_s
        media.connect("prepared", self._prepared)
        media.connect("unprepared", self._unprepared)
        self.on_active(self, True)

    def _prepared(self, media: Any) -> None:
        # Hold the media ourselves, as a real camera keeps encoding between clients:
        # gst-rtsp-server answers 503 to a client that arrives while the last one's
        # media is being torn down, and readers reconnect within milliseconds.
        if media == self.media and self.held is None:
            media.prepare(None)
            self.held = media
            self.idle_since = None

    def release_if_idle(self, now: float) -> None:
        """Give the held media back once no client has used it for _LINGER_S."""
        media = self.held
        if media is None:
            return
        if media.get_status() == GstRtspServer.RTSPMediaStatus.ERROR:
            self.held = None  # a broken pipeline must not outlive its clients
            media.unprepare()
            return
        clients = sum(len(media.get_stream(i).transport_filter(None))
                      for i in range(media.n_streams()))
        if clients:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = now
        elif now - self.idle_since >= _LINGER_S:
            self.held = None
            media.unprepare()

    def _unprepared(self, media: Any) -> None:
        if media != self.media:
            return  # an older media of this mount, torn down after a new one started
        self.on_active(self, False)
        self.appsrc = self.media = self.held = None

    def _running_time(self) -> int | None:
        src = self.appsrc
        clock = src.get_clock() if src is not None else None
        return None if clock is None else clock.get_time() - src.get_base_time()

    def feed(self, now: float) -> None:
        """Push what is due up to _LEAD_NS ahead of the pipeline's clock."""
        src = self.appsrc
        if src is None or now < self.faults.stall_until:
            return
        now_rt = self._running_time()
        # Before the pipeline plays (no clock yet) the first frames still go, so that
        # the payloader can describe the stream.
        target = (now_rt or 0) + _LEAD_NS
        for _ in range(64):  # bounded: a mount far behind catches up over a few rounds
            if self.next_pts >= target:
                break
            self.push(src, now_rt)

    def push(self, src: Any, now_rt: int | None) -> None:
        """One access unit; *now_rt* is the pipeline's running time (None: no clock yet)."""
        clip = self.clip
        n = len(clip.units)
        if self.faults.switch_pending and clip.keyframes[self.index % n]:
            self.faults.switch_pending = False
            self.clip, self.alt_clip = self.alt_clip, self.clip
            clip, n = self.clip, len(self.clip.units)
            self.index = 0
            # No set_caps here: the parser picks up the new size from the in-band SPS.
        if self.new_viewer_at is not None and time.monotonic() >= self.new_viewer_at:
            # Restart the current GOP so a new viewer gets a keyframe (with SPS/PPS) now.
            self.new_viewer_at = None
            while not clip.keyframes[self.index % n]:
                self.index -= 1
        i = self.index % n
        data = clip.units[i]
        if self.faults.garbage_frames > 0:
            self.faults.garbage_frames -= 1
            data = _corrupt_picture(data)
        frame_ns = Gst.SECOND // clip.fps
        if now_rt is not None and now_rt > self.next_pts + 2 * frame_ns:
            self.next_pts = now_rt  # after a stall: no timestamps in the past
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = buf.dts = self.next_pts
        buf.duration = frame_ns
        if not clip.keyframes[i]:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        if self.kind == "sub" and clip.scene in SCENES:
            self._log_incidents(i, clip)
        self.next_pts += frame_ns
        self.index += 1
        self.pushed += 1
        src.emit("push-buffer", buf)

    def _log_incidents(self, i: int, clip: EncodedClip) -> None:
        for incident in SCENES[clip.scene].incidents:
            if i == round(incident.at_s * clip.fps):
                # Sent now, seen by the client after pacing: at = when this frame is due.
                lead_s = 0.0
                now_rt = self._running_time()
                if now_rt is not None:
                    lead_s = max(0.0, (self.next_pts - now_rt) / Gst.SECOND)
                self.on_incident({"camera_id": self.camera.id, "kind": incident.kind,
                                  "at": time.time() + lead_s,
                                  "duration_s": incident.duration_s, "box": incident.box,
                                  **incident.detail})


def _corrupt_picture(unit: bytes) -> bytes:
    """Random bytes in the picture data of an access unit (its last NAL unit).

    The parameter sets and NAL headers stay intact, so the simulator's own parser keeps
    going, and what reaches the client is a picture no decoder can make sense of.
    """
    start = unit.rfind(b"\x00\x00\x01") + 3 + 4  # past the start code and a few header bytes
    if start >= len(unit):
        return unit
    noisy = bytearray(unit)
    for _ in range(max(8, (len(noisy) - start) // 16)):
        k = random.randrange(start, len(noisy))  # noqa: S311 - noise, not security
        noisy[k] = random.randrange(256)         # noqa: S311
    return bytes(noisy)


def _caps(clip: EncodedClip) -> Any:
    # No width/height: they come from the SPS, so a resolution change needs no new caps.
    return Gst.Caps.from_string(
        f"video/x-{clip.codec},stream-format=byte-stream,alignment=au,framerate={clip.fps}/1")


# RTP packet size, as cameras send it (a 640x360 keyframe is about 20 packets).
DEFAULT_MTU = 1400


def _launch(codec: str, vendor: bool = False, mtu: int = DEFAULT_MTU) -> str:
    # The "vendor" stream stands for a camera's proprietary codec: the same video in
    # GStreamer's own RTP payload (X-GST), which standard clients cannot decode.
    payloader = "rtpgstpay" if vendor else f"rtp{codec}pay"
    return ("( appsrc name=src is-live=true format=time do-timestamp=false min-latency=0 "
            "max-buffers=64 block=false emit-signals=false "
            f"! clocksync ! {codec}parse ! {payloader} name=pay0 pt=96 mtu={mtu} )")


class SimServer:
    def __init__(self, cameras: list[SimCamera], clips: Callable[[str, str, str], EncodedClip],
                 host: str = "127.0.0.1", port: int = 8554, mtu: int = DEFAULT_MTU) -> None:
        """*clips(scene, kind, codec)* gives the encoded clip for a mount."""
        self.cameras = {c.id: c for c in cameras}
        self.mtu = mtu
        self.host, self.port = host, port
        self.incidents: deque[dict[str, Any]] = deque(maxlen=20_000)
        self._incident_lock = threading.Lock()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self._setup_auth()
        # One thread serialises ~70 ms of setup per new client; 400 cameras connect at once.
        self.server.get_thread_pool().set_max_threads(4)
        self.mounts: dict[str, _Mount] = {}
        self._dark_until: dict[str, float] = {}
        self._dark_cycle: dict[str, int] = {}
        for cam in cameras:
            for kind in ("main", "sub", "vendor"):
                size = "main" if kind == "main" else "sub"
                mount = _Mount(cam, kind, clips(cam.scene, size, cam.codec),
                               clips("quiet", f"{size}-alt", cam.codec), self._record,
                               self._set_active)
                mount.factory = self._factory(mount)
                self.mounts[mount.path] = mount
                self.server.get_mount_points().add_factory(mount.path, mount.factory)
        self.server.connect("client-connected", self._client_connected)
        self._loop = GLib.MainLoop()
        self._thread: threading.Thread | None = None
        self._active: set[_Mount] = set()
        self._stopping = threading.Event()
        self.started_at = time.time()

    # -- setup -------------------------------------------------------------------------------

    def _setup_auth(self) -> None:
        auth = GstRtspServer.RTSPAuth()
        # Tokens must be built with set_string: editing get_structure() changes a copy.
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", "anonymous")
        auth.set_default_token(anonymous)
        user = GstRtspServer.RTSPToken()
        user.set_string("media.factory.role", "user")
        # Digest, as most IP cameras ask for (Basic would send the password in clear).
        auth.add_digest(SIM_USERNAME, SIM_PASSWORD, user)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        self.server.set_auth(auth)

    def _permissions(self, mount: _Mount, refuse: bool = False) -> Any:
        # access without construct answers 401 with a challenge (access=false would be 404).
        open_to_anonymous = not (refuse or mount.camera.needs_auth)
        perms = GstRtspServer.RTSPPermissions.new()
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "anonymous, media.factory.access=(boolean)true, "
            f"media.factory.construct=(boolean){str(open_to_anonymous).lower()}"))
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, "
            f"media.factory.construct=(boolean){str(not refuse).lower()}"))
        return perms

    def _factory(self, mount: _Mount) -> Any:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_launch(mount.clip.codec, vendor=mount.kind == "vendor",
                                   mtu=self.mtu))
        factory.set_shared(True)
        factory.set_permissions(self._permissions(mount))
        factory.connect("media-configure", mount.configure)
        return factory

    def _client_connected(self, _server: Any, client: Any) -> None:
        def on_play(_client: Any, ctx: Any) -> None:
            mount = self.mounts.get(ctx.uri.abspath.rstrip("/"))
            if mount is not None:
                mount.new_viewer_at = time.monotonic() + 0.1

        client.connect("play-request", on_play)

    def _record(self, incident: dict[str, Any]) -> None:
        with self._incident_lock:
            self.incidents.append(incident)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self.server.attach(None)
        GLib.timeout_add(100, self._tick)
        self._thread = threading.Thread(target=self._loop.run, name="gst-rtsp", daemon=True)
        self._thread.start()
        self._pump = threading.Thread(target=self._feed_all, name="sim-feed", daemon=True)
        self._pump.start()
        self.started_at = time.time()

    def stop(self) -> None:
        self._stopping.set()
        self._loop.quit()

    def _set_active(self, mount: _Mount, active: bool) -> None:
        if active:
            self._active.add(mount)
        else:
            self._active.discard(mount)

    def _feed_all(self) -> None:
        while not self._stopping.wait(_PUMP_S):
            now = time.monotonic()
            for mount in list(self._active):
                try:
                    mount.feed(now)
                except Exception:  # one broken mount must not starve the others
                    log.exception("feeding a mount failed", path=mount.path)

    def _tick(self) -> bool:
        now = time.monotonic()
        for mount in list(self._active):
            mount.release_if_idle(now)
        for cam_id, until in list(self._dark_until.items()):  # end outages
            if now >= until:
                del self._dark_until[cam_id]
                self._mount_points(cam_id, add=True)
        wall = time.time() - self.started_at
        for cam in self.cameras.values():  # scheduled outages
            cycle = cam.dark
            if cycle and wall >= cycle.start_s:
                k = int((wall - cycle.start_s) // cycle.period_s)
                if k > self._dark_cycle.get(cam.id, -1):
                    self._dark_cycle[cam.id] = k
                    self._go_dark(cam.id, cycle.off_s)
        return True

    # -- faults (any thread; server changes run on the GLib loop) -----------------------------

    def _camera_mounts(self, cam_id: str) -> list[_Mount]:
        if cam_id not in self.cameras:
            raise KeyError(cam_id)
        return [self.mounts[f"/{cam_id}/{kind}"] for kind in ("main", "sub", "vendor")]

    def _mount_points(self, cam_id: str, add: bool) -> None:
        points = self.server.get_mount_points()
        for mount in self._camera_mounts(cam_id):
            if add:
                points.add_factory(mount.path, mount.factory)
            else:
                points.remove_factory(mount.path)

    def _drop_sessions(self, cam_id: str) -> None:
        """Disconnect every client watching this camera (closing the TCP connection)."""
        medias = [m.media for m in self._camera_mounts(cam_id) if m.media is not None]
        if not medias:
            return

        def client_filter(_server: Any, client: Any) -> Any:
            hit = False

            def session_filter(_client: Any, session: Any) -> Any:
                nonlocal hit
                hit = hit or any(sm.get_media() in medias for sm in session.filter(None))
                return GstRtspServer.RTSPFilterResult.KEEP

            client.session_filter(session_filter)
            return (GstRtspServer.RTSPFilterResult.REMOVE if hit
                    else GstRtspServer.RTSPFilterResult.KEEP)

        self.server.client_filter(client_filter)

    def _go_dark(self, cam_id: str, seconds: float) -> None:
        self._dark_until[cam_id] = time.monotonic() + seconds
        self._mount_points(cam_id, add=False)
        self._drop_sessions(cam_id)
        self._record({"camera_id": cam_id, "kind": "dark", "at": time.time(),
                      "duration_s": seconds, "box": None})

    def _on_loop(self, fn: Callable[[], None]) -> None:
        def run() -> bool:
            fn()
            return False

        # Not at idle priority: with hundreds of streams the loop is never idle, and a
        # fault would wait forever.
        GLib.idle_add(run, priority=GLib.PRIORITY_HIGH)

    def fault_stop(self, cam_id: str, seconds: float) -> None:
        """The camera goes dark: sessions dropped, new connections refused (404)."""
        self._camera_mounts(cam_id)
        self._on_loop(lambda: self._go_dark(cam_id, seconds))

    def fault_stall(self, cam_id: str, seconds: float) -> None:
        """Connections stay open but no data flows."""
        for mount in self._camera_mounts(cam_id):
            mount.faults.stall_until = time.monotonic() + seconds

    def fault_garbage(self, cam_id: str, frames: int) -> None:
        """The next *frames* access units have random bytes in them."""
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
        mounts = self._camera_mounts(cam_id)

        points = self.server.get_mount_points()

        def refuse() -> None:
            # A fresh factory that may not construct: the shared media of the old one can
            # outlive its sessions on a busy server, and a client reconnecting to it would
            # be let in without the check.
            for mount in mounts:
                refusing = GstRtspServer.RTSPMediaFactory()
                refusing.set_launch(_launch(mount.clip.codec, mtu=self.mtu))
                refusing.set_permissions(self._permissions(mount, refuse=True))
                points.remove_factory(mount.path)
                points.add_factory(mount.path, refusing)
            self._drop_sessions(cam_id)

        def restore() -> bool:
            for mount in mounts:
                points.remove_factory(mount.path)
                points.add_factory(mount.path, mount.factory)
            return False

        self._on_loop(refuse)
        GLib.timeout_add(int(seconds * 1000), restore)

    def clear_faults(self, cam_id: str) -> None:
        for mount in self._camera_mounts(cam_id):
            mount.faults = _Faults()
        if cam_id in self._dark_until:
            self._dark_until[cam_id] = 0.0

    # -- reporting ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        active = [m.path for m in self.mounts.values() if m.appsrc is not None]
        return {"cameras": len(self.cameras), "active_mounts": len(active),
                "dark": sorted(self._dark_until), "pushed": sum(m.pushed for m in
                                                                self.mounts.values())}

    def timeline(self, since: float = 0.0) -> list[dict[str, Any]]:
        with self._incident_lock:
            return [i for i in self.incidents if i["at"] >= since]
