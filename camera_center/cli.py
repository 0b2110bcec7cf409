"""The ``camera-center`` command: serve, demo, migrate, users, camera import/export."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
import uvicorn
from pydantic import SecretStr, ValidationError

from camera_center.app import UVICORN_OPTIONS, NotMigrated, create_app, prepare_database
from camera_center.auth.roles import Role, system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.cluster import preflight
from camera_center.crypto import SecretsError, new_credentials_key, new_jwt_secret
from camera_center.demo import (
    DEMO_AREAS,
    DEMO_SUB_FPS,
    demo_cameras_csv,
    demo_settings,
    seed_demo_areas,
    seed_demo_cameras,
    simulator,
)
from camera_center.errors import Problem
from camera_center.logs import configure_logging
from camera_center.recording.evidence import verify_package
from camera_center.registry.csv_io import export_cameras, import_cameras
from camera_center.services import Services
from camera_center.settings import Settings, SettingsError, load_settings
from camera_center.storage import migrate as migrations
from camera_sim.app import run as run_sim
from camera_sim.fleet import build_fleet, ids_from_csv, numbered_ids
from camera_sim.scenes import FPS

app = typer.Typer(help="Camera control-center server.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
cameras_app = typer.Typer(help="Camera registry in bulk.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(cameras_app, name="cameras")
secrets_app = typer.Typer(help="The server's secrets.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
exports_app = typer.Typer(help="Evidence export packages.", no_args_is_help=True)
app.add_typer(exports_app, name="exports")
models_app = typer.Typer(help="Object detection models.", no_args_is_help=True)
app.add_typer(models_app, name="models")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Settings YAML file "
                                                "(default: $CAMERA_CENTER_CONFIG or "
                                                "config/camera-center.yaml)")]
T = TypeVar("T")


class ClusterRole(StrEnum):
    all = "all"
    api = "api"
    worker = "worker"



def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def _run(settings: Settings, job: Callable[[Services], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            services = Services.build(settings)
        except SecretsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            try:
                await prepare_database(services)
            except NotMigrated as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            return await job(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def _banner(settings: Settings, services_users: int) -> None:
    url = f"http://{settings.server.host}:{settings.server.port}"
    typer.echo(f"\n  camera-center is starting at {url}  (API docs: {url}/docs)")
    if services_users == 0 and settings.auth.bootstrap_admin is not None:
        typer.echo("  The first admin comes from auth.bootstrap_admin "
                   "(CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN).")
    elif services_users == 0:
        typer.echo("  No users yet. Create the first admin in another terminal:\n"
                   "      .venv/bin/camera-center user add --role admin admin\n"
                   "  or start with CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN='admin:<password>'.")
    typer.echo(f"  Camera health: {url}/api/v1/fleet/health (signed in)\n")


def _serve(settings: Settings) -> None:
    uvicorn.run(create_app(settings, freeze_after_start=True), host=settings.server.host,
                port=settings.server.port,
                **UVICORN_OPTIONS)


@app.command()
def serve(config: ConfigOpt = None, role: Annotated[
        ClusterRole | None, typer.Option(help="all: one server (the default); api: console, "
                                         "REST and streams; worker: reads the cameras it "
                                         "owns. api and worker need PostgreSQL and NATS "
                                         "(cluster.role)")] = None) -> None:
    """Run the server."""
    settings = _settings(config)
    if role is not None:
        settings = settings.model_copy(update={
            "cluster": settings.cluster.model_copy(update={"role": role.value})})
    trouble = asyncio.run(preflight.problems(settings))
    if trouble:
        for line in trouble:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2)
    users = _run(settings, lambda s: s.users.count())
    if settings.cluster.role != "worker":
        _banner(settings, users)
    _serve(settings)


@app.command()
def demo(config: ConfigOpt = None,
         cameras: Annotated[bool, typer.Option(help="Run the simulated camera fleet")] = True,
         sub_fps: Annotated[int, typer.Option(min=1, max=30, help=(
             "The simulated sub streams' frames per second"))] = DEMO_SUB_FPS,
         ) -> None:
    """The server with the Phú Lương demo: area tree, 400 simulated cameras, live streams."""
    settings = _settings(config)
    areas_csv = DEMO_AREAS.read_text(encoding="utf-8-sig")
    cameras_csv = demo_cameras_csv()

    async def seed(services: Services) -> int:
        created = await seed_demo_areas(services, areas_csv)
        registered = await seed_demo_cameras(services, cameras_csv) if cameras else 0
        typer.echo(f"  demo: {created} areas and {registered} cameras registered")
        return await services.users.count()

    users = _run(settings, seed)
    if not cameras:
        _banner(settings, users)
        _serve(settings)
        return
    settings = demo_settings(settings)
    typer.echo("  starting the camera simulator (the first start encodes its scenes: ~30 s)")
    with simulator(settings.data_dir, sub_fps=sub_fps):
        _banner(settings, users)
        _serve(settings)


@app.command("demo-seed")
def demo_seed(
    cameras: Annotated[int, typer.Option(min=1, help="The demo fleet's first N cameras")
                       ] = 400,
    rtsp_base: Annotated[str, typer.Option(help=(
        "Where the simulator's streams are (rtsp://sim:8554/ in docker-compose)"))
                         ] = "rtsp://127.0.0.1:8554/",
    config: ConfigOpt = None,
) -> None:
    """Register the demo's area tree and its first N simulated cameras, with their rules,
    in an empty registry (nothing once cameras are registered); no server starts."""
    settings = _settings(config)
    areas_csv = DEMO_AREAS.read_text(encoding="utf-8-sig")
    cameras_csv = demo_cameras_csv(cameras, rtsp_base)

    async def seed(services: Services) -> None:
        created = await seed_demo_areas(services, areas_csv)
        registered = await seed_demo_cameras(services, cameras_csv)
        typer.echo(f"demo-seed: {created} areas and {registered} cameras registered"
                   + ("" if registered else " (cameras were registered already)"))

    _run(settings, seed)


@app.command()
def sim(
    cameras: Annotated[int, typer.Option(help="How many cameras (cam001...)")] = 400,
    ids_from: Annotated[Path | None, typer.Option(
        "--ids-from", help="Take camera ids from this CSV's id column instead")] = None,
    rtsp_port: Annotated[int, typer.Option(help="RTSP port")] = 8554,
    control_port: Annotated[int, typer.Option(help="HTTP control port")] = 8555,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 in a container, "
                                      "for the servers in the others)")] = "127.0.0.1",
    sub_fps: Annotated[int, typer.Option(min=1, max=30, help="Frames per second of the sub "
                                         f"streams (main: {FPS}; keyframes 1 s apart)")] = FPS,
    config: ConfigOpt = None,
) -> None:
    """Serve simulated cameras over RTSP (rtsp://127.0.0.1:PORT/<id>/main and /sub)."""
    settings = _settings(config)
    ids = ids_from_csv(ids_from) if ids_from else numbered_ids(cameras)
    run_sim(build_fleet(ids), settings.data_dir / "sim-cache", host=host, rtsp_port=rtsp_port,
            control_port=control_port, sub_fps=sub_fps)


@app.command("sim-fault")
def sim_fault(
    camera_id: str,
    kind: Annotated[str, typer.Argument(
        help="stop | stall | garbage | resolution | refuse | slow_start | clear")],
    seconds: Annotated[float, typer.Option(help="How long (stop, stall, refuse, slow_start)")
                       ] = 10.0,
    frames: Annotated[int, typer.Option(help="How many frames (garbage)")] = 30,
    control: Annotated[str, typer.Option(help="Simulator control URL")
                       ] = "http://127.0.0.1:8555",
) -> None:
    """Inject a fault into one simulated camera (the simulator must be running)."""
    try:
        if kind == "clear":
            r = httpx.delete(f"{control}/cameras/{camera_id}/faults", timeout=5)
        else:
            r = httpx.post(f"{control}/cameras/{camera_id}/faults", timeout=5,
                           json={"kind": kind, "seconds": seconds, "frames": frames})
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach the simulator at {control}: {exc}", err=True)
        raise typer.Exit(1) from None
    if r.status_code >= 400:
        detail = r.json().get("detail") if r.headers.get("content-type", "").startswith(
            "application/json") else r.text
        typer.echo(f"error: {detail}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{kind} -> {camera_id}: ok")


@app.command()
def migrate(config: ConfigOpt = None,
            revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Bring the database schema up to date."""
    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade_sync(settings.database_url, revision)
    typer.echo(f"database at revision {migrations.head_revision()}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        typer.echo("error: the passwords differ", err=True)
        raise typer.Exit(1)
    return first


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, operator or officer")],
    areas: Annotated[list[str] | None, typer.Option("--area", help="Area id (repeat)")] = None,
    full_name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a user (the first admin is made this way: there is no default password)."""
    settings = _settings(config)
    try:
        data = UserCreate(username=username, role=role, full_name=full_name,
                          area_ids=areas or [],
                          password=SecretStr(_read_password(password_stdin)))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        typer.echo(f"error: invalid {fields}", err=True)
        raise typer.Exit(1) from None
    user = _run(settings, lambda s: s.users.create(data, system_principal()))
    typer.echo(f"created {user.role} '{user.username}' (id {user.id})")


@user_app.command("list")
def user_list(config: ConfigOpt = None) -> None:
    """List users."""
    settings = _settings(config)
    for u in _run(settings, lambda s: s.users.list()):
        state = "disabled" if u.disabled else "active"
        typer.echo(f"{u.id}\t{u.username}\t{u.role}\t{state}\t{','.join(u.area_ids)}")


@user_app.command("passwd")
def user_passwd(username: str,
                password_stdin: Annotated[bool, typer.Option(help="Read from stdin")] = False,
                config: ConfigOpt = None) -> None:
    """Set a user's password (ends their open sessions)."""
    settings = _settings(config)
    password = _read_password(password_stdin)

    async def job(services: Services) -> None:
        user = await services.users.by_username(username)
        if user is None:
            raise Problem(f"no user '{username}'")
        await services.users.set_password(user.id, password, system_principal())

    _run(settings, job)
    typer.echo(f"password of '{username}' changed")


@cameras_app.command("import")
def cameras_import(path: Path,
                   dry_run: Annotated[bool, typer.Option(help="Check only")] = False,
                   config: ConfigOpt = None) -> None:
    """Create or update cameras from a CSV file."""
    settings = _settings(config)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    report = _run(settings, lambda s: import_cameras(s.cameras, raw, system_principal(),
                                                     dry_run=dry_run))
    for r in report.results:
        if r.errors:
            typer.echo(f"line {r.row} ({r.id or '?'}): " + "; ".join(r.errors), err=True)
    typer.echo(f"{'checked' if dry_run else 'imported'} {report.rows} rows: {report.created} "
               f"created, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.errors} errors")
    if report.errors:
        raise typer.Exit(1)


@cameras_app.command("export")
def cameras_export(config: ConfigOpt = None) -> None:
    """Write every camera as CSV to stdout (without passwords)."""
    settings = _settings(config)
    sys.stdout.write(_run(settings, lambda s: export_cameras(s.cameras, system_principal())))


@secrets_app.command("generate")
def secrets_generate() -> None:
    """Print a fresh credentials key and token key as an env file (docker run --env-file).

    Keep the file as safe as the database backup: the credentials key decrypts the
    stored camera passwords, and a lost key means entering them all again.
    """
    typer.echo(f"CAMERA_CENTER_CREDENTIALS_KEY={new_credentials_key()}")
    typer.echo(f"CAMERA_CENTER_JWT_SECRET={new_jwt_secret()}")


@models_app.command("export")
def models_export(
    weights: Annotated[Path, typer.Argument(help="YOLO weights (.pt), e.g. yolo11n.pt")],
    imgsz: Annotated[int, typer.Option(min=32, max=1920, help="Input size the server will "
                                       "use (detector.imgsz)")] = 320,
    out: Annotated[Path | None, typer.Option(help="Folder for the files (default: beside "
                                             "the weights)")] = None,
    check: Annotated[bool, typer.Option(help="Run every installed runtime on sample "
                                        "photos against ultralytics")] = True,
) -> None:
    """Write the ONNX and OpenVINO files the server runs (no PyTorch at run time), then
    check them. Needs the export extra: pip install 'camera-center[export]'."""
    if imgsz % 32:
        typer.echo("error: --imgsz must be a multiple of 32", err=True)
        raise typer.Exit(2)
    if weights.suffix != ".pt" or not weights.is_file():
        typer.echo(f"error: {weights} is not a YOLO weights file (.pt)", err=True)
        raise typer.Exit(2)
    try:
        from detectors.export import export_model

        done = export_model(weights, imgsz, out, check=check)
    except ImportError as exc:
        typer.echo(f"error: {exc.name} is not installed: pip install "
                   "'camera-center[export]'", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"ONNX:     {done.onnx}")
    typer.echo(f"OpenVINO: {done.openvino or 'not written (openvino is not installed)'}")
    failed = False
    for runtime, agreed in done.checks.items():
        failed |= not agreed.ok
        typer.echo(f"check {runtime} {'ok' if agreed.ok else 'BAD'}: "
                   f"{agreed.matched}/{agreed.reference} detections as ultralytics finds "
                   f"them, {len(agreed.extra)} extra, scores within "
                   f"{agreed.max_score_diff:.4f}; {done.ms_per_image[runtime]:.1f} ms/image")
    if failed:
        typer.echo("error: an exported file does not find what the weights find", err=True)
        raise typer.Exit(1)
    typer.echo(f"Set detector.model: {done.onnx} (detector.imgsz: {imgsz})")


@exports_app.command("verify")
def exports_verify(
    package: Annotated[Path, typer.Argument(help="The export's ZIP file")],
    public_key: Annotated[Path | None, typer.Option(
        help="The server's public key (PEM, from GET /api/v1/exports/public-key); without "
             "it the key inside the package is used: compare its fingerprint")] = None,
) -> None:
    """Check an export: the manifest's signature, then every file's size and SHA-256.
    Needs no server and no account; exits 1 when anything fails, naming it."""
    pem = None
    if public_key is not None:
        try:
            pem = public_key.read_text()
        except OSError as exc:
            typer.echo(f"error: cannot read {public_key}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    verdict = verify_package(package, pem)
    for name in verdict.checked:
        typer.echo(f"ok       {name}")
    for problem in verdict.problems:
        typer.echo(f"FAILED   {problem}")
    if verdict.signer:
        source = "the given key" if pem else "the key in the package: compare it with the " \
            "server's (GET /api/v1/exports/public-key)"
        typer.echo(f"signed by {verdict.signer} ({source})")
    if not verdict.ok:
        typer.echo("verification FAILED", err=True)
        raise typer.Exit(1)
    manifest = verdict.manifest or {}
    typer.echo(f"verified: case {manifest.get('case_number')}, {len(verdict.checked) - 1} "
               f"file(s), exported by {manifest.get('exported_by')} "
               f"at {manifest.get('created_at')}")


def main() -> None:
    # Everything the server writes (database, secrets, snapshots, clips, recordings,
    # exports) holds images of people or credentials: readable by its owner only. The
    # reader processes inherit the mask.
    os.umask(0o077)
    app()
