"""ONVIF against a third-party virtual camera (ipycam) kept inside a network namespace.

ipycam binds 0.0.0.0 and multicasts WS-Discovery, so it runs in a namespace of its own
joined to this host by one veth pair on a private /29: probes, SOAP, RTSP and
multicast stay on that pair and never leave the machine. Helper servers for the
bad-input cases listen on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.auth.roles import system_principal
from camera_center.registry.models import Camera
from camera_center.settings import load_settings
from tests.conftest import World, call, camera_body, services_of
from tests.waiting import wait_until

CAM_USER, CAM_PASSWORD = "admin", "Cam-secret-77"
_NET = 10 + os.getpid() % 200  # third octet: parallel runs do not collide
HOST_IP, CAM_IP, SILENT_IP = f"10.213.{_NET}.1", f"10.213.{_NET}.2", f"10.213.{_NET}.3"
NS, VETH = f"ccov{os.getpid() % 100000}", f"ccv{os.getpid() % 100000}"

_CAMERA_SCRIPT = """
import logging, signal, sys, threading
import numpy as np
# ipycam says in its log which streaming path it took: the fixture shows it on a failure.
logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True)
import subprocess
import ipycam.camera
from ipycam import IPCamera, CameraConfig
# ipycam gives `ffmpeg -version` 5 s and, past that, quietly serves no RTSP at all. On a
# test machine busy with the rest of the suite the first run of ffmpeg can take longer, so
# the probe is made here with room to spare and its answer handed to ipycam.
_ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, timeout=60)
ipycam.camera.is_native_rtsp_available = lambda: _ffmpeg.returncode == 0
cfg = CameraConfig(name="Virtual Gate Cam", local_ip=sys.argv[1], main_width=640,
                   main_height=360, main_fps=10, sub_width=320, sub_height=180, sub_fps=10,
                   main_bitrate="512K", sub_bitrate="256K", username=sys.argv[2],
                   password=sys.argv[3], hw_accel="cpu")
cam = IPCamera(cfg)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
if not cam.start():
    sys.exit(2)
print("READY", flush=True)
base = np.zeros((360, 640, 3), np.uint8)
base[:, :, 1] = np.linspace(0, 200, 640, dtype=np.uint8)[None, :]
t = 0
while not stop.is_set():
    frame = base.copy()
    x = (t * 8) % 600
    frame[150:210, x:x + 40] = (0, 0, 255)
    cam.stream(frame)
    t += 1
cam.stop()
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _cleanup_net() -> None:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=10)
    subprocess.run(["ip", "link", "del", f"{VETH}h"], capture_output=True, timeout=10)


def _port_open(host: str, port: int) -> bool:
    """True once something listens there (OSError until then)."""
    with socket.create_connection((host, port), timeout=0.5):
        return True


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ipycam in its own network namespace; yields its address."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's 'ip'")
    try:
        _ip("netns", "add", NS)
        _ip("link", "add", f"{VETH}h", "type", "veth", "peer", "name", f"{VETH}n")
        _ip("link", "set", f"{VETH}n", "netns", NS)
        _ip("addr", "add", f"{HOST_IP}/29", "dev", f"{VETH}h")
        _ip("link", "set", f"{VETH}h", "up")
        _ip("-n", NS, "addr", "add", f"{CAM_IP}/29", "dev", f"{VETH}n")
        _ip("-n", NS, "link", "set", f"{VETH}n", "up")
        _ip("-n", NS, "link", "set", "lo", "up")
    except (subprocess.CalledProcessError, OSError) as exc:
        _cleanup_net()
        pytest.skip(f"cannot create a network namespace here: {exc}")
    work = tmp_path_factory.mktemp("ipycam")  # its presets file lands here
    script = work / "camera.py"
    script.write_text(_CAMERA_SCRIPT)
    log = (work / "camera.log").open("w")
    proc = subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, str(script), CAM_IP,
                             CAM_USER, CAM_PASSWORD], cwd=work, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        # ONVIF answers first; ipycam starts its RTSP server after probing for go2rtc.
        for port, what in ((8080, "ONVIF"), (8554, "RTSP")):
            try:
                wait_until(lambda p=port: _port_open(CAM_IP, p), 30, f"ipycam's {what} port",
                           ignore=(OSError,), interval_s=0.2)
            except AssertionError as exc:
                pytest.fail(f"ipycam's {what} port did not open ({exc}): "
                            f"{(work / 'camera.log').read_text()[-2000:]}")
        yield CAM_IP
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        _cleanup_net()


@pytest.fixture(scope="module")
def world(camera: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("onvif-center")
    settings = load_settings(None, data_dir=str(data),
                             database={"url": f"sqlite+aiosqlite:///{data / 'cc.db'}"},
                             ingest={"enabled": True, "worker_processes": 0,
                                     "open_timeout_s": 5, "backoff_cap_s": 2},
                             auth={"second_factor_roles": []})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield World(client)


def _register_body(cam_id: str, **extra: Any) -> dict[str, Any]:
    body = {"host": CAM_IP, "port": 8080, "username": CAM_USER, "password": CAM_PASSWORD,
            "id": cam_id, "name": f"Cổng {cam_id}", "area_id": "DU"}
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def registered(world: World) -> str:
    r = world.client.post("/api/v1/onvif/register", headers=world.admin,
                          json=_register_body("onvif-gate"))
    assert r.status_code == 201, r.text
    return "onvif-gate"


def _ptz(world: World, cam: str, path: str, method: str = "POST", role: str = "admin",
         **json: Any) -> Any:
    url = f"/api/v1/cameras/{cam}/ptz{path}"
    kwargs = {"json": json} if method == "POST" else {}
    return world.client.request(method, url, headers=world.headers[role], **kwargs)


def _status(world: World, cam: str) -> dict[str, Any]:
    r = _ptz(world, cam, "/status", "GET")
    assert r.status_code == 200, r.text
    return r.json()


# -- discovery -----------------------------------------------------------------------------

def test_unicast_probe_of_a_range_finds_the_camera_with_its_name(world: World) -> None:
    r = world.client.post("/api/v1/onvif/discover", headers=world.admin, json={
        "multicast": False, "targets": [f"10.213.{_NET}.0/29"], "timeout_s": 1.0})
    assert r.status_code == 200, r.text
    devices = r.json()["devices"]
    assert [d["address"] for d in devices] == [CAM_IP]
    assert devices[0]["name"] == "Virtual Gate Cam"  # raw spaces in the scope, tolerated
    assert devices[0]["device_url"] == f"http://{CAM_IP}:8080/onvif/device_service"
    assert r.json()["probed"] == 6


def test_multicast_probe_through_the_veth_finds_the_camera(world: World) -> None:
    r = world.client.post("/api/v1/onvif/discover", headers=world.admin, json={
        "multicast": True, "interface": HOST_IP, "timeout_s": 1.0})
    assert r.status_code == 200, r.text
    assert CAM_IP in [d["address"] for d in r.json()["devices"]]


def test_discovery_marks_a_registered_camera(world: World, registered: str) -> None:
    r = world.client.post("/api/v1/onvif/discover", headers=world.admin, json={
        "multicast": False, "targets": [CAM_IP], "timeout_s": 1.0})
    device = r.json()["devices"][0]
    assert device["registered"] is True and device["camera_id"] == registered


def test_discovery_rejects_a_bad_range_and_non_admins(world: World) -> None:
    r = world.client.post("/api/v1/onvif/discover", headers=world.admin,
                          json={"multicast": False, "targets": ["10.0.0.0/8"]})
    assert r.status_code == 422 and "1024" in r.json()["detail"]
    r = world.client.post("/api/v1/onvif/discover", headers=world.headers["operator"],
                          json={"multicast": False, "targets": [CAM_IP]})
    assert r.status_code == 403


# -- inspection and registration -----------------------------------------------------------

def test_inspect_reports_device_profiles_streams_snapshot_and_ptz(world: World) -> None:
    r = world.client.post("/api/v1/onvif/inspect", headers=world.admin, json={
        "host": CAM_IP, "port": 8080, "username": CAM_USER, "password": CAM_PASSWORD})
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["device"]["manufacturer"] == "PythonCam"
    assert found["device"]["model"] == "VirtualCam-1"
    sizes = {p["token"]: (p["width"], p["height"], p["encoding"]) for p in found["profiles"]}
    assert sizes == {"Profile_Main": (640, 360, "H264"), "Profile_Sub": (320, 180, "H264")}
    assert found["main_profile"] == "Profile_Main" and found["sub_profile"] == "Profile_Sub"
    assert found["main_url"] == f"rtsp://{CAM_IP}:8554/video_main"
    assert found["sub_url"] == f"rtsp://{CAM_IP}:8554/video_sub"
    assert found["snapshot_url"] == f"http://{CAM_IP}:8080/snapshot.jpg"
    assert found["ptz"]["continuous"] and found["ptz"]["home"]
    assert abs(found["clock_offset_s"]) < 5
    assert CAM_PASSWORD not in r.text


def test_wrong_password_says_authentication_failed_and_stores_nothing(world: World) -> None:
    r = world.client.post("/api/v1/onvif/register", headers=world.admin,
                          json=_register_body("onvif-badpw", password="not-the-password"))
    assert r.status_code == 422, r.text
    assert "Authentication failed" in r.json()["detail"]
    assert "not-the-password" not in r.text
    assert world.client.get("/api/v1/cameras/onvif-badpw",
                            headers=world.admin).status_code == 404


def test_registered_camera_streams_through_ingest(world: World, registered: str) -> None:
    cam = world.client.get(f"/api/v1/cameras/{registered}", headers=world.admin).json()
    assert cam["main_url"] == f"rtsp://{CAM_USER}:***@{CAM_IP}:8554/video_main"
    assert cam["sub_url"] == f"rtsp://{CAM_USER}:***@{CAM_IP}:8554/video_sub"
    assert cam["onvif_url"] == f"http://{CAM_IP}:8080/onvif/device_service"
    assert cam["username"] == CAM_USER and cam["has_password"] is True
    stored = call(world.client, services_of(world.client).cameras.get,
                  system_principal("test"), registered)
    assert isinstance(stored, Camera) and CAM_PASSWORD not in (stored.password_enc or "")
    health = wait_until(lambda: world.client.get(f"/api/v1/cameras/{registered}/health",
                                                 headers=world.admin).json(), 25,
                        f"{registered} online", until=lambda h: h["state"] == "online",
                        interval_s=0.3)
    assert (health["width"], health["height"]) == (320, 180)  # the sub stream is analysed


# -- PTZ -------------------------------------------------------------------------------------

def test_continuous_move_turns_the_camera_and_is_audited(world: World, registered: str) -> None:
    assert _ptz(world, registered, "/home").status_code == 200
    before = _status(world, registered)
    r = _ptz(world, registered, "/move", role="operator", pan=0.8, tilt=0.0)
    assert r.status_code == 200, r.text
    time.sleep(0.6)
    assert _ptz(world, registered, "/stop", role="operator").status_code == 200
    after = _status(world, registered)
    assert after["pan"] > before["pan"] + 0.2
    time.sleep(0.3)
    assert _status(world, registered)["pan"] == pytest.approx(after["pan"], abs=0.02)  # stopped
    audit = world.client.get("/api/v1/audit", params={"action": "ptz.move"},
                             headers=world.admin).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(e["target_id"] == registered and e["actor"] == "operator.du" for e in entries)


def test_presets_are_saved_listed_and_recalled_and_home_centres(world: World,
                                                                 registered: str) -> None:
    assert _ptz(world, registered, "/absolute", pan=0.3, tilt=-0.2, zoom=0.1).status_code == 200
    r = _ptz(world, registered, "/presets", name="Cổng chính")
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    presets = _ptz(world, registered, "/presets", "GET").json()
    assert {"token": token, "name": "Cổng chính"}.items() <= next(
        p for p in presets if p["token"] == token).items()
    assert _ptz(world, registered, "/home").status_code == 200
    assert _status(world, registered) == {"pan": 0.0, "tilt": 0.0, "zoom": 0.0,
                                          "moving": None}
    assert _ptz(world, registered, f"/presets/{token}/goto").status_code == 200
    there = _status(world, registered)
    assert (there["pan"], there["tilt"], there["zoom"]) == pytest.approx((0.3, -0.2, 0.1))


def test_ptz_is_for_operators_and_admins_of_the_camera_area(world: World,
                                                            registered: str) -> None:
    assert _ptz(world, registered, "/move", role="officer", pan=0.1).status_code == 403
    assert _ptz(world, registered, "", "GET", role="operator").json()["available"] is True


def test_camera_without_onvif_answers_409_with_the_reason(world: World) -> None:
    r = world.client.post("/api/v1/cameras", headers=world.admin,
                          json=camera_body("plain-rtsp", enabled=False))
    assert r.status_code == 201, r.text
    r = _ptz(world, "plain-rtsp", "/move", pan=0.5)
    assert r.status_code == 409 and "not registered through ONVIF" in r.json()["detail"]
    info = _ptz(world, "plain-rtsp", "", "GET").json()
    assert info["available"] is False and info["reason"]


# -- bad devices -----------------------------------------------------------------------------

def test_unreachable_host_times_out_within_the_bound(world: World) -> None:
    started = time.monotonic()
    r = world.client.post("/api/v1/onvif/inspect", headers=world.admin,
                          json={"host": SILENT_IP, "port": 8080, "timeout_s": 3})
    assert time.monotonic() - started < 5
    assert r.status_code == 504, r.text
    assert SILENT_IP in r.json()["detail"]


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _WebPage(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<html><body><h1>Router admin</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_ENVELOPE = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
             ' xmlns:tt="http://www.onvif.org/ver10/schema"'
             ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body>{}</s:Body>'
             '</s:Envelope>')


class _BrokenSoap(BaseHTTPRequestHandler):
    """Answers the handshake properly, then sends a broken GetProfiles answer."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        port = self.server.server_address[1]
        if b"GetSystemDateAndTime" in request:
            now = time.gmtime()
            inner = ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime>"
                     f"<tt:Time><tt:Hour>{now.tm_hour}</tt:Hour><tt:Minute>{now.tm_min}"
                     f"</tt:Minute><tt:Second>{now.tm_sec}</tt:Second></tt:Time><tt:Date>"
                     f"<tt:Year>{now.tm_year}</tt:Year><tt:Month>{now.tm_mon}</tt:Month>"
                     f"<tt:Day>{now.tm_mday}</tt:Day></tt:Date></tt:UTCDateTime>"
                     "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")
            body = _ENVELOPE.format(inner).encode()
        elif b"GetCapabilities" in request:
            inner = ("<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>"
                     f"http://127.0.0.1:{port}/onvif/media</tt:XAddr></tt:Media>"
                     "</tds:Capabilities></tds:GetCapabilitiesResponse>")
            body = _ENVELOPE.format(inner).encode()
        elif b"GetDeviceInformation" in request:
            body = _ENVELOPE.format("<tds:GetDeviceInformationResponse><tds:Manufacturer>X"
                                    "</tds:Manufacturer></tds:GetDeviceInformationResponse>"
                                    ).encode()
        else:
            body = b'<?xml version="1.0"?><s:Envelope xmlns:s="urn:x"><s:Body>\x00<<<'
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_plain_web_server_is_not_an_onvif_device(world: World) -> None:
    server = _Server(_WebPage)
    try:
        r = world.client.post("/api/v1/onvif/inspect", headers=world.admin,
                              json={"host": "127.0.0.1", "port": server.port})
    finally:
        server.close()
    assert r.status_code == 422, r.text
    assert "not an ONVIF device" in r.json()["detail"]


def test_malformed_soap_answer_is_a_bad_gateway_not_a_crash(world: World) -> None:
    server = _Server(_BrokenSoap)
    try:
        r = world.client.post("/api/v1/onvif/inspect", headers=world.admin,
                              json={"host": "127.0.0.1", "port": server.port})
    finally:
        server.close()
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "malformed" in r.json()["detail"]


def test_camera_password_never_appears_in_answers(world: World, registered: str) -> None:
    for path in (f"/api/v1/cameras/{registered}", "/api/v1/cameras"):
        assert CAM_PASSWORD not in world.client.get(path, headers=world.admin).text


class _Relay(BaseHTTPRequestHandler):
    """A reverse proxy to the camera's ONVIF service, for devices that differ from it."""

    def log_message(self, *args: Any) -> None:
        pass

    def admit(self) -> bool:
        return True

    def rewrite(self, body: bytes) -> bytes:
        return body

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.admit():
            return
        upstream = http.client.HTTPConnection(CAM_IP, 8080, timeout=5)
        upstream.request("POST", self.path, request, {
            "Content-Type": self.headers.get("Content-Type", "application/soap+xml")})
        answer = upstream.getresponse()
        body = answer.read().replace(f"http://{CAM_IP}:8080".encode(),
                                     f"http://127.0.0.1:{self.server.server_address[1]}".encode())
        upstream.close()
        body = self.rewrite(body)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _DigestGate(_Relay):
    """Demands HTTP Digest before anything else, as many cameras do."""

    realm, nonce, authorized = "ipc", "5f1e0c7a9b", 0

    def admit(self) -> bool:
        header = self.headers.get("Authorization", "")
        f = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]*))', header)}

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # RFC 7616 MD5

        ha1 = md5(f"{CAM_USER}:{self.realm}:{CAM_PASSWORD}")
        ha2 = md5(f"POST:{f.get('uri', '')}")
        expected = md5(f"{ha1}:{f.get('nonce')}:{f.get('nc')}:{f.get('cnonce')}:"
                       f"{f.get('qop')}:{ha2}")
        if header.startswith("Digest ") and f.get("username") == CAM_USER \
                and f.get("response") == expected:
            type(self).authorized += 1
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Digest realm="{self.realm}", '
                         f'nonce="{self.nonce}", qop="auth", algorithm=MD5')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False


class _FixedCamera(_Relay):
    """The same camera without its PTZ: no PTZ service, no PTZ configuration."""

    def rewrite(self, body: bytes) -> bytes:
        body = re.sub(rb"<tt:PTZ>.*?</tt:PTZ>", b"", body, flags=re.S)
        return re.sub(rb"<tt:PTZConfiguration\b.*?</tt:PTZConfiguration>", b"", body,
                      flags=re.S)


def test_onvif_camera_without_ptz_answers_409_with_the_reason(world: World) -> None:
    server = _Server(_FixedCamera)
    try:
        r = world.client.post("/api/v1/onvif/register", headers=world.admin, json={
            **_register_body("onvif-fixed"), "host": "127.0.0.1", "port": server.port,
            "enabled": False})
    finally:
        server.close()
    assert r.status_code == 201, r.text
    assert r.json()["inspection"]["ptz"] is None
    r = _ptz(world, "onvif-fixed", "/move", pan=0.5)
    assert r.status_code == 409 and "has no PTZ" in r.json()["detail"]
    assert _ptz(world, "onvif-fixed", "/presets", "GET").status_code == 409


def test_device_that_asks_for_http_digest_is_inspected_with_it(world: World) -> None:
    server = _Server(_DigestGate)
    try:
        ok = world.client.post("/api/v1/onvif/inspect", headers=world.admin, json={
            "host": "127.0.0.1", "port": server.port, "username": CAM_USER,
            "password": CAM_PASSWORD})
        bad = world.client.post("/api/v1/onvif/inspect", headers=world.admin, json={
            "host": "127.0.0.1", "port": server.port, "username": CAM_USER,
            "password": "wrong-one"})
    finally:
        server.close()
    assert ok.status_code == 200, ok.text
    assert ok.json()["device"]["manufacturer"] == "PythonCam"
    assert _DigestGate.authorized >= 4  # time, capabilities, information, profiles...
    assert bad.status_code == 422 and "Authentication failed" in bad.json()["detail"]
