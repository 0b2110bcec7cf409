"""Shared fixtures: settings on a temporary data dir, SQLite or a fresh PostgreSQL database,
the app under a TestClient (lifespan included), and signed-in users of each role."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from camera_center.app import create_app
from camera_center.auth.roles import Role, system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.registry.schemas import AreaCreate, AreaKind
from camera_center.services import Services
from camera_center.settings import Settings, load_settings
from camera_sim.process import SimProcess

PG_ADMIN_DSN = os.environ.get("CC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "Correct-horse-42"


# With several xdist workers (make test runs with --dist loadgroup), these run in one of
# them, one after another: they use fixed network names (a namespace, veth pairs, a LAN
# address for WebRTC) or the console's shared server and browser. The marks go on before
# xdist's own hook reads them (tryfirst).
_ONE_WORKER = ("e2e", "test_onvif.py", "test_webrtc_api.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(part in _ONE_WORKER for part in item.path.parts):
            item.add_marker(pytest.mark.xdist_group("one-worker"))


# argon2id at its production cost takes ~150 ms a hash here, and most tests create and
# sign in three users: the same algorithm at its smallest cost keeps the suite minutes
# shorter. Hashes carry their parameters, so verifying is unaffected. Set in the
# environment, so servers the tests start in other processes hash cheaply too.
CHEAP_PASSWORD_HASHING = {
    "CAMERA_CENTER_AUTH__PASSWORD_HASH__TIME_COST": "1",
    "CAMERA_CENTER_AUTH__PASSWORD_HASH__MEMORY_KIB": "256",
    "CAMERA_CENTER_AUTH__PASSWORD_HASH__PARALLELISM": "1",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CAMERA_CENTER_"):
            monkeypatch.delenv(name)
    for name, value in CHEAP_PASSWORD_HASHING.items():
        monkeypatch.setenv(name, value)


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite by default; modules parametrize it with "postgres" to run on both."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] \
            + f"/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        # Ingest stays off unless a test asks for it (and gives it a local camera to read).
        # Admins sign in without a second factor unless a test asks for one (the
        # two-factor tests in tests/security/ switch it on).
        base: dict[str, Any] = {"data_dir": str(tmp_path / "data"),
                                "database": {"url": database_url},
                                "ingest": {"enabled": False},
                                "auth": {"second_factor_roles": []}}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return load_settings(None, **base)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c
    assert not services_of(c).stuck_on_close, "parts that did not stop in time"


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def call(client: TestClient, fn: Callable[..., Any], *args: Any) -> Any:
    """Run an async service call on the app's own event loop."""
    assert client.portal is not None
    return client.portal.call(fn, *args)


AREAS = (
    AreaCreate(id="TN", name="Tỉnh Thái Nguyên", kind=AreaKind.PROVINCE),
    AreaCreate(id="PLG", name="Huyện Phú Lương", kind=AreaKind.DISTRICT, parent_id="TN"),
    AreaCreate(id="DU", name="Thị trấn Đu", kind=AreaKind.TOWN, parent_id="PLG"),
    AreaCreate(id="YN", name="Xã Yên Ninh", kind=AreaKind.COMMUNE, parent_id="PLG"),
    AreaCreate(id="YN-CHO", name="Chợ Yên Ninh", kind=AreaKind.SITE, parent_id="YN"),
)
# One user per role: (username, role, areas)
USERS = (("admin", Role.ADMIN, []), ("operator.du", Role.OPERATOR, ["DU"]),
         ("officer.yn", Role.OFFICER, ["YN"]))


def seed_areas(client: TestClient) -> None:
    areas = services_of(client).areas
    who = system_principal("test")
    for data in AREAS:
        call(client, areas.create, data, who)


def add_user(client: TestClient, username: str, role: Role, areas: list[str] | None = None,
             password: str = PASSWORD) -> int:
    data = UserCreate(username=username, role=role, password=SecretStr(password),
                      area_ids=areas or [])
    return call(client, services_of(client).users.create, data, system_principal("test")).id


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class World:
    """A seeded center: areas, one user per role, bearer headers for each."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        seed_areas(client)
        self.ids, self.headers = {}, {"anonymous": {}}
        for username, role, areas in USERS:
            self.ids[role.value] = add_user(client, username, role, areas)
            self.headers[role.value] = login(client, username)

    @property
    def admin(self) -> dict[str, str]:
        return self.headers["admin"]


@pytest.fixture
def world(client: TestClient) -> World:
    return World(client)


def api_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (METHOD, path template) the app serves, from its OpenAPI document."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [(m.upper(), path) for path, ops in spec["paths"].items() for m in ops]


def camera_body(cam_id: str = "du-001", area: str = "DU", **extra: Any) -> dict[str, Any]:
    body = {"id": cam_id, "name": f"Camera {cam_id}", "area_id": area,
            "main_url": f"rtsp://127.0.0.10:554/{cam_id}/main",
            "sub_url": f"rtsp://127.0.0.10:554/{cam_id}/sub"}
    body.update(extra)
    return body


# -- the camera simulator (a real RTSP server) ----------------------------------------------

SIM_CACHE = Path(os.environ.get("CC_TEST_SIM_CACHE", "/tmp/camera-center-test-sim-cache"))


@pytest.fixture(scope="session")
def sim() -> Iterator[SimProcess]:
    """26 simulated cameras (cam001..cam026) for the whole test session.

    cam002 is H.265, cam003 needs credentials, cam015-16 street, cam017 intrusion,
    cam018 line crossing, cam019 tamper; cam025-026 are the recording tests' (they stop
    them); no scheduled outages.
    Each test uses its own cameras, since faults last a while.
    """
    with SimProcess(SIM_CACHE, cameras=26, outages=False) as process:
        yield process


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """yolo11n's architecture with random weights, saved as a .pt file like a real one.

    Random weights find nothing, so the class head's bias is set to say "person" with
    0.73 confidence everywhere: the boxes still come from the (random) network, so they
    differ per image, which is what routing needs to be checked.
    """
    import torch
    from ultralytics import YOLO

    from detectors.backend import coco_labels

    model = YOLO("yolo11n.yaml")
    model.model.names = dict(enumerate(coco_labels()))
    with torch.no_grad():
        for branch in model.model.model[-1].cv3:
            branch[-1].bias.fill_(-10.0)
            branch[-1].bias[0] = 1.0
    path = tmp_path_factory.mktemp("models") / "yolo11n-test.pt"
    model.save(str(path))
    return path


def calibrated_weights(yaml_name: str, path: Path, bias: float = -13.0) -> Path:
    """yolo11n (or another YAML) whose answers vary with the picture.

    Random weights find nothing (their activations fade to zero through the network), so
    the batch-norm statistics are taken from the sample photos, the way a trained
    network's are; the class bias is then set so that some tens of boxes per frame pass
    a 0.25 confidence."""
    import cv2
    import numpy as np
    import torch
    from ultralytics import YOLO

    from detectors.backend import coco_labels
    from detectors.export import sample_frames

    torch.manual_seed(0)
    model = YOLO(yaml_name)
    model.model.names = dict(enumerate(coco_labels()))
    net = model.model
    frames = np.stack([np.ascontiguousarray(
        cv2.resize(f, (320, 320))[:, :, ::-1].transpose(2, 0, 1)) for f in sample_frames()])
    x = torch.from_numpy(frames.astype(np.float32) / 255)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0  # keep the statistics of the last pass
    net.train()
    with torch.no_grad():
        net(x)
    net.eval()
    head = net.model[-1]
    branches = [*head.cv3, *(getattr(head, "one2one_cv3", None) or [])]
    outs: dict[int, torch.Tensor] = {}
    hooks = [b[-1].register_forward_hook(lambda _m, _i, o, k=k: outs.__setitem__(k, o))
             for k, b in enumerate(branches)]
    with torch.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for k, branch in enumerate(branches):
            raw = outs[k] - branch[-1].bias.view(1, -1, 1, 1)
            gain = 2.0 / raw.std().item()
            branch[-1].weight.mul_(gain)
            branch[-1].bias.copy_(bias - gain * raw.mean(dim=(0, 2, 3)))
    model.save(str(path))
    return path


@pytest.fixture(scope="session")
def varied_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Calibrated yolo11n (calibrated_weights), exported as the server runs it."""
    from detectors.export import export_model

    folder = tmp_path_factory.mktemp("varied")
    return export_model(calibrated_weights("yolo11n.yaml", folder / "yolo11n.pt"), 320,
                        check=False).onnx


@pytest.fixture(scope="session")
def model_onnx(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test model exported as the server runs it (camera-center models export)."""
    from detectors.export import export_model

    return export_model(model_file, 320, tmp_path_factory.mktemp("exported"),
                        check=False).onnx
