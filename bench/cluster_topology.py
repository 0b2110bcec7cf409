"""The compose file's topology as processes on this machine: PostgreSQL (a fresh database
on the local server), NATS (its own nats-server on a free port), the camera simulator,
API servers and workers, each ``camera-center serve --role ...`` in its own process.

For ``make cluster`` (``python -m bench.cluster_topology``: runs until Ctrl-C), the
cluster tests and ``bench/cluster.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import Fernet
from websockets.sync.client import connect as ws_connect

from bench.server import BOOTSTRAP_PASSWORD, finish_first_sign_in
from bench.tcp_proxy import CuttableProxy
from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME, build_fleet, numbered_ids
from camera_sim.process import SimProcess, free_port

PG_ADMIN_DSN = os.environ.get("CC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
ADMIN_PASSWORD = "Cluster-admin-2026"
AREA = "DU"


async def _pg(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def pg(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_pg(dsn, sql, *args))


class Nats:
    """A nats-server of our own (JetStream on), so a test may stop and restart it."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.store = root / "nats"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> Nats:
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", str(self.store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@dataclass
class Server:
    name: str
    role: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class LocalCluster:
    def __init__(self, root: Path, *, cameras: int = 60, workers: int = 3,
                 lease_s: float = 6.0, sim_cache: Path | None = None,
                 extra_env: dict[str, str] | None = None, single: bool = False,
                 api_port: int | None = None, reader_processes: int | None = 0) -> None:
        """*single*: one server of role all on the same PostgreSQL (the baseline the
        benchmark compares the cluster with) instead of an API server and workers."""
        self.single = single
        self.api_port = api_port
        # 0: readers in the server process, so a signal to it (kill -9, SIGSTOP) is the
        # whole server's (the tests); None: one reader process per core, as deployed.
        self.reader_processes = reader_processes
        self.root = root
        self.cameras = cameras
        self.worker_count = workers
        self.lease_s = lease_s
        self.sim_cache = sim_cache or Path(os.environ.get("CC_TEST_SIM_CACHE")
                                           or root / "sim-cache")
        self.extra_env = extra_env or {}
        self.database = f"cc_cluster_{uuid.uuid4().hex[:10]}"
        base = PG_ADMIN_DSN.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.database}"
        self.secret = secrets.token_urlsafe(32)
        self.jwt = secrets.token_urlsafe(48)
        self.credentials_key = Fernet.generate_key().decode()
        self.nats = Nats(root)
        # The servers reach PostgreSQL through a proxy a test can cut (a restart, as
        # they see it); the tests' own reads go straight to it.
        self.db_proxy, self.server_dsn = CuttableProxy.for_database(self.dsn)
        self.sim = SimProcess(self.sim_cache, cameras=cameras, outages=False)
        self.servers: dict[str, Server] = {}
        self.api: Server | None = None
        self.http: httpx.Client | None = None

    # -- processes -------------------------------------------------------------------

    def env(self, server: Server) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMERA_CENTER_")}
        env.update({
            "PYTHONUNBUFFERED": "1",
            "CAMERA_CENTER_DATABASE__URL": self.server_dsn.replace(
                "postgresql://", "postgresql+asyncpg://"),
            "CAMERA_CENTER_DATA_DIR": str(server.data_dir),
            "CAMERA_CENTER_JWT_SECRET": self.jwt,
            "CAMERA_CENTER_CREDENTIALS_KEY": self.credentials_key,
            "CAMERA_CENTER_CLUSTER__ROLE": server.role,
            "CAMERA_CENTER_CLUSTER__NODE_ID": server.name,
            "CAMERA_CENTER_CLUSTER__NATS_URL": self.nats.url,
            "CAMERA_CENTER_CLUSTER__SECRET": self.secret,
            "CAMERA_CENTER_CLUSTER__INTERNAL_ADDRESS": server.url,
            "CAMERA_CENTER_CLUSTER__LEASE_S": str(self.lease_s),
            "CAMERA_CENTER_CLUSTER__HEARTBEAT_S": "1",
            "CAMERA_CENTER_SERVER__HOST": "127.0.0.1",
            "CAMERA_CENTER_SERVER__PORT": str(server.port),
            "CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN": f"admin:{BOOTSTRAP_PASSWORD}",
            # A local cluster to try out and test: no second factor to enrol first.
            "CAMERA_CENTER_AUTH__SECOND_FACTOR_ROLES": "[]",
            "CAMERA_CENTER_INGEST__OFFLINE_GRACE_S": "2",
            "CAMERA_CENTER_DETECTOR__MODEL": str(self.root / "no-model.onnx"),  # motion
            "CAMERA_CENTER_RECORDING__SEGMENT_S": "10",
            "CAMERA_CENTER_AUTH__PASSWORD_HASH__TIME_COST": "1",
            "CAMERA_CENTER_AUTH__PASSWORD_HASH__MEMORY_KIB": "256",
            "CAMERA_CENTER_AUTH__PASSWORD_HASH__PARALLELISM": "1",
        })
        if self.reader_processes is not None:
            env["CAMERA_CENTER_INGEST__WORKER_PROCESSES"] = str(self.reader_processes)
        env.update(self.extra_env)
        return env

    def _cli(self, server: Server, *args: str) -> subprocess.Popen[bytes]:
        server.data_dir.mkdir(parents=True, exist_ok=True)
        out = server.log.open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "camera_center", *args], env=self.env(server),
            stdout=out, stderr=subprocess.STDOUT)

    def start_server(self, name: str, role: str, wait: bool = True,
                     port: int | None = None) -> Server:
        server = self.servers.get(name) or Server(name, role, port or free_port(),
                                                  self.root / name)
        self.servers[name] = server
        server.proc = self._cli(server, "serve", "--role", role)
        if wait:
            self.wait_healthy(server)
        return server

    def wait_healthy(self, server: Server, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not server.alive:
                raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{server.name} did not start: {server.log.read_text()[-3000:]}")

    def signal(self, name: str, sig: int) -> None:
        server = self.servers[name]
        assert server.proc is not None
        server.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            server.proc.wait(timeout=10)

    def stop_server(self, name: str) -> None:
        server = self.servers[name]
        if server.proc is None or server.proc.poll() is not None:
            return
        server.proc.send_signal(signal.SIGCONT)
        server.proc.terminate()
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)

    # -- the whole topology ---------------------------------------------------------

    def start(self) -> LocalCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        pg(PG_ADMIN_DSN, f'CREATE DATABASE "{self.database}"')
        self.db_proxy.start()
        self.nats.start()
        self.sim.start()
        setup = Server("setup", "all", free_port(), self.root / "setup")
        migrate = self._cli(setup, "migrate")
        if migrate.wait(timeout=120) != 0:
            raise RuntimeError(f"migrate failed: {setup.log.read_text()[-3000:]}")
        self.api = self.start_server("server-1" if self.single else "api-1",
                                     "all" if self.single else "api", port=self.api_port)
        self.http = httpx.Client(base_url=self.api.url, timeout=30)
        finish_first_sign_in(self.http, ADMIN_PASSWORD)
        r = self.http.post("/api/v1/auth/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self._register()
        workers = 0 if self.single else self.worker_count
        for i in range(1, workers + 1):
            self.start_server(f"worker-{i}", "worker", wait=False)
        for i in range(1, workers + 1):
            self.wait_healthy(self.servers[f"worker-{i}"])
        return self

    def _register(self) -> None:
        assert self.http is not None
        r = self.http.post("/api/v1/areas", json={"id": AREA, "name": "Thị trấn Đu",
                                                  "kind": "town"})
        assert r.status_code in (201, 409), r.text
        for cam in build_fleet(numbered_ids(self.cameras), outages=False):
            login = {"username": SIM_USERNAME, "password": SIM_PASSWORD} \
                if cam.needs_auth else {}
            r = self.http.post("/api/v1/cameras", json={
                "id": cam.id, "name": f"Sim {cam.id}", "area_id": AREA, **login,
                "main_url": self.sim.url(cam.id, "main"),
                "sub_url": self.sim.url(cam.id, "sub")})
            assert r.status_code == 201, r.text

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        for name in list(self.servers):
            self.stop_server(name)
        self.sim.stop()
        self.nats.stop()
        self.db_proxy.stop()
        with contextlib.suppress(Exception):
            pg(PG_ADMIN_DSN, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def __enter__(self) -> LocalCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the servers say -------------------------------------------------------

    def readers(self) -> dict[str, dict[str, Any]]:
        """Worker name -> its ``/internal/v1/cameras`` (cameras read and leases held), of
        every worker that answers now."""
        out = {}
        for name, server in self.servers.items():
            if server.role != "worker" or not server.alive:
                continue
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{server.url}/internal/v1/cameras", timeout=4,
                              headers={"X-Cluster-Secret": self.secret})
                if r.status_code == 200:
                    out[name] = r.json()
        return out

    def owners(self) -> dict[str, str]:
        """Camera -> node of every live lease, from PostgreSQL."""
        rows = pg(self.dsn, "SELECT camera_id, node_id FROM camera_leases "
                            "WHERE expires_at > now()")
        return {r["camera_id"]: r["node_id"] for r in rows}

    def open_segments(self, node: str, started_before: float) -> list[int]:
        """Segments *node* left open (being written) that began before a time."""
        return [r["id"] for r in pg(self.dsn, "SELECT id FROM recording_segments WHERE "
                                    "node_id = $1 AND NOT closed AND start_ts < $2",
                                    node, started_before)]

    def largest_hole(self, camera_id: str, start: float, end: float) -> float:
        """The longest stretch of [start, end] (unix times) that no indexed segment of
        the camera covers, in seconds."""
        rows = pg(self.dsn, "SELECT start_ts, end_ts FROM recording_segments WHERE "
                            "camera_id = $1 AND end_ts > $2 AND start_ts < $3 "
                            "ORDER BY start_ts", camera_id, start, end)
        worst, covered = 0.0, start
        for r in rows:
            worst = max(worst, r["start_ts"] - covered)
            covered = max(covered, r["end_ts"])
        return round(max(worst, end - covered), 1)

    def online_by_worker(self) -> dict[str, set[str]]:
        return {name: {c for c, state in r["cameras"].items() if state == "online"}
                for name, r in self.readers().items()}


class AlertSocket:
    """An API server's live alert WebSocket, read in a thread: every event, and when the
    first ``alert.created`` of each camera came (monotonic, and the wall clock in
    ``delivered_after``: seconds from the alert's write, its ``updated_at``)."""

    def __init__(self, c: LocalCluster) -> None:
        assert c.api is not None and c.http is not None
        token = c.http.headers["Authorization"].removeprefix("Bearer ")
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(ws_connect(
            c.api.url.replace("http", "ws") + "/api/v1/alerts/ws",
            additional_headers={"Authorization": f"Bearer {token}"}))
        self.events: list[dict[str, Any]] = []
        self.first_created: dict[str, float] = {}
        self.delivered_after: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:  # the socket closed
                return
            data = json.loads(message)
            for item in data if isinstance(data, list) else [data]:
                if "alert" not in item:
                    continue
                self.events.append(item)
                if item["event"] == "alert.created":
                    cam, now = item["alert"]["camera_id"], time.monotonic()
                    if cam not in self.first_created:
                        written = datetime.fromisoformat(item["alert"]["updated_at"])
                        self.delivered_after[cam] = time.time() - written.timestamp()
                        self.first_created[cam] = now

    def created(self, camera_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "alert.created"
                and e["alert"]["camera_id"] == camera_id]

    def close(self) -> None:
        self._stop.set()
        self._stack.close()
        self._thread.join(5)

    def __enter__(self) -> AlertSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=60)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--root", type=Path, default=Path("data/cluster"))
    args = parser.parse_args()
    with LocalCluster(args.root, cameras=args.cameras, workers=args.workers,
                      api_port=args.api_port) as cluster:
        assert cluster.api is not None
        print(f"\n  cluster up: console {cluster.api.url} (admin / {ADMIN_PASSWORD}); "
              f"workers {', '.join(s.url for s in cluster.servers.values() if s.role == 'worker')}"
              f"; NATS {cluster.nats.url}; database {cluster.database}. Ctrl-C stops it.\n")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(5)
                online = cluster.online_by_worker()
                print("  online per worker: " + ", ".join(
                    f"{w} {len(c)}" for w, c in sorted(online.items())), flush=True)


if __name__ == "__main__":
    main()
