"""Installs as the README promises: the container recipe, and a clean ``pip install .``.

The container recipe is read from README.md and the Dockerfile themselves (no Docker
here), and run as the image runs it: ``camera-center serve`` with the image's
environment, the README's variables and its env file, ``/data`` a fresh folder.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from camera_sim.process import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Recipe-admin-2026"


def _readme_docker_commands() -> list[list[str]]:
    """Every ``docker run`` command in the README's shell blocks, as argument lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("docker run"):
                commands.append(shlex.split(line))
    return commands


def _dockerfile_runtime() -> tuple[dict[str, str], list[str]]:
    """The final stage's environment and its ENTRYPOINT + CMD."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stage = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", stage, flags=re.M)
    cmd = re.search(r"^CMD (\[.*\])$", stage, flags=re.M)
    assert entry and cmd, "the Dockerfile's runtime stage names its ENTRYPOINT and CMD"
    return env, [*eval(entry.group(1)), *eval(cmd.group(1))]  # JSON-form lists


def _options(command: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(env files, -e variables, the arguments after the image name) of a docker run."""
    env_files, variables, rest = [], {}, []
    args = iter(command[2:])
    for arg in args:
        if arg in ("--env-file",):
            env_files.append(next(args))
        elif arg in ("-e", "--env"):
            name, _, value = next(args).partition("=")
            variables[name] = value
        elif arg in ("-p", "-v", "--name", "--volume", "--publish"):
            next(args)
        elif arg.startswith("-"):
            continue
        else:
            rest = list(args)  # arg is the image; what follows replaces the CMD
            break
    return env_files, variables, rest


@contextmanager
def _server(argv: list[str], env: dict[str, str], log: Path,
            cwd: Path = ROOT) -> Iterator[str]:
    port = free_port()
    env = {**env, "CAMERA_CENTER_SERVER__HOST": "127.0.0.1",
           "CAMERA_CENTER_SERVER__PORT": str(port)}
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the server exited:\n" + log.read_text(errors="replace")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 90, "the server to answer /healthz")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _sign_in(url: str) -> str:
    r = httpx.post(f"{url}/api/v1/auth/login", timeout=30,
                   json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert httpx.get(f"{url}/api/v1/auth/me", timeout=10,
                     headers={"Authorization": f"Bearer {token}"}).json()["role"] == "admin"
    return str(token)


NEW_PASSWORD = "Chosen-by-the-chief-77"


def _first_admin_sign_in(url: str) -> tuple[str, list[str]]:
    """What the first admin does on a new server with the defaults: sign in with the
    bootstrap password, change it (nothing else is allowed), sign in again, enrol a TOTP
    key (nothing else is allowed until then, the role needs one). Returns an access token
    of the finished session and the recovery codes."""
    def call(method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{url}/api/v1{path}", headers=headers, timeout=30, **kw)

    first = call("POST", "/auth/login", json={"username": "admin", "password": PASSWORD})
    assert first.json()["restriction"] == "password_change", first.text
    refused = call("GET", "/users", first.json()["access_token"])
    assert refused.status_code == 403 and "password" in refused.json()["detail"]
    assert call("POST", "/auth/password", first.json()["access_token"], json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204

    second = call("POST", "/auth/login", json={"username": "admin", "password": NEW_PASSWORD})
    token = second.json()["access_token"]
    assert second.json()["restriction"] == "second_factor_enrollment", second.text
    assert call("GET", "/users", token).status_code == 403
    key = call("POST", "/auth/second-factor/setup", token).json()
    assert key["qr_code"].startswith("data:image/svg+xml")
    codes = call("POST", "/auth/second-factor/confirm", token,
                 json={"code": pyotp.TOTP(key["secret"]).now()}).json()["recovery_codes"]
    assert len(codes) == 10
    assert call("GET", "/users", token).status_code == 200
    return str(token), codes


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CAMERA_CENTER_")}


def test_the_readme_container_recipe_serves_and_signs_in(tmp_path: Path) -> None:
    image_env, entry = _dockerfile_runtime()
    assert entry[0] == "camera-center"
    commands = _readme_docker_commands()
    assert commands, "README.md shows how to run the container"
    data = tmp_path / "data"
    data.mkdir()
    cli = [str(Path(sys.executable).with_name("camera-center"))]
    env = {**_base_env(), **{k: v.replace("/data", str(data)) for k, v in image_env.items()}}

    # Steps that write a file (the secrets) run first, as the README orders them; a file
    # they write is kept by name for a later --env-file.
    files: dict[str, dict[str, str]] = {}
    serve: list[str] | None = None
    for command in commands:
        env_files, variables, rest = _options(command)
        if rest:
            args, _, target = (" ".join(rest)).partition(">")
            out = subprocess.run([*cli, *shlex.split(args)], env=env, capture_output=True,
                                 text=True, timeout=60, check=True).stdout
            if target.strip():
                files[target.strip()] = dict(
                    line.split("=", 1) for line in out.splitlines() if "=" in line)
            continue
        serve = command
        run_env = dict(env)
        for name in env_files:
            assert name in files, f"README uses --env-file {name} but shows no step writing it"
            run_env.update(files[name])
        for name, value in variables.items():
            run_env[name] = (value or os.environ.get(name, "")).replace("<password>", PASSWORD)
    assert serve is not None, "README shows the docker run that serves"
    assert {"CAMERA_CENTER_CREDENTIALS_KEY", "CAMERA_CENTER_JWT_SECRET"} <= run_env.keys()
    assert "CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN" in run_env

    log = tmp_path / "server.log"
    argv = [*cli, *entry[1:]]
    with _server(argv, run_env, log) as url:
        token, codes = _first_admin_sign_in(url)
    # Restarted with the same secrets, the earlier session's token is still good; a new
    # sign-in asks for the second factor, and a recovery code does instead of the phone.
    with _server(argv, run_env, log) as url:
        r = httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        step = httpx.post(f"{url}/api/v1/auth/login",
                          json={"username": "admin", "password": NEW_PASSWORD}).json()
        assert step["second_factor_required"] is True and "access_token" not in step
        r = httpx.post(f"{url}/api/v1/auth/login/second-factor",
                       json={"challenge": step["challenge"], "recovery_code": codes[0]})
        assert r.status_code == 200 and r.json()["restriction"] is None, r.text

    assert not (data / "secrets.json").exists(), "secrets came from the environment"
    written = log.read_text(errors="replace")
    for name in ("CAMERA_CENTER_CREDENTIALS_KEY", "CAMERA_CENTER_JWT_SECRET"):
        assert run_env[name] not in written, f"{name}'s value is in the server's output"
    assert PASSWORD not in written and NEW_PASSWORD not in written


def test_every_download_in_the_dockerfile_is_pinned_by_checksum() -> None:
    """A file fetched at build time (the detector's weights) is checked, so that a
    replaced release asset fails the build instead of running in a police center."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    remote = [line for line in text.splitlines()
              if line.startswith("ADD") and "://" in line]
    assert remote, "the Dockerfile downloads the model weights"
    for line in remote:
        assert re.search(r"--checksum=sha256:[0-9a-f]{64}\b", line), line


def test_a_malformed_credentials_key_stops_the_start_with_the_key_named(tmp_path: Path) -> None:
    env = {**_base_env(), "CAMERA_CENTER_DATA_DIR": str(tmp_path / "data"),
           "CAMERA_CENTER_CREDENTIALS_KEY": "not-a-key-at-all-but-a-secret"}
    r = subprocess.run([sys.executable, "-m", "camera_center", "serve"], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2
    assert "credentials_key" in r.stderr and "Fernet key" in r.stderr
    assert "not-a-key-at-all-but-a-secret" not in r.stderr + r.stdout


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    from camera_center.crypto import load_or_create_secrets, new_credentials_key
    from camera_center.settings import load_settings

    key_file, jwt_file = tmp_path / "key", tmp_path / "jwt"
    key_file.write_text(new_credentials_key() + "\n")
    jwt_file.write_text("j" * 40 + "\n")
    settings = load_settings(None, data_dir=str(tmp_path / "d"), credentials_key_file=key_file,
                             jwt_secret_file=str(jwt_file))
    secrets = load_or_create_secrets(settings)
    assert secrets.credentials_key.decode() == key_file.read_text().strip()
    assert secrets.jwt_secret == "j" * 40
    assert not (tmp_path / "d" / "secrets.json").exists()
    assert "jjjj" not in repr(settings) and "jjjj" not in repr(secrets)


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", str(ROOT / "constraints.txt"), *args], check=True, timeout=1500)


@pytest.mark.slow  # a clean venv, then PyTorch into it: minutes
@pytest.mark.timeout(1800)
def test_a_clean_pip_install_starts_the_server(tmp_path: Path, model_onnx: Path) -> None:
    """``pip install .`` alone (and then ``.[detect]``) gives a server that starts: every
    runtime import is declared in pyproject.toml, and detection needs no PyTorch."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _pip(python, str(ROOT))
    env = {**_base_env(), "CAMERA_CENTER_DATA_DIR": str(tmp_path / "data"),
           "CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN": f"admin:{PASSWORD}",
           "CAMERA_CENTER_DETECTOR__MODEL": str(model_onnx), "PYTHONPATH": ""}
    argv = [str(env_dir / "bin" / "camera-center"), "serve"]
    # Started outside the checkout, so nothing is imported from the source tree.
    with _server(argv, env, tmp_path / "plain.log", cwd=tmp_path) as url:
        _sign_in(url)
    plain = (tmp_path / "plain.log").read_text(errors="replace")
    assert "object detection off" in plain and "camera-center[detect]" in plain, plain[-2000:]

    _pip(python, f"{ROOT}[detect]")
    no_torch = subprocess.run([str(python), "-c", "import torch"], capture_output=True,
                              timeout=60)
    assert no_torch.returncode != 0, "the detect extra installs no PyTorch"
    with _server(argv, env, tmp_path / "detect.log", cwd=tmp_path) as url:
        _sign_in(url)
    detect = (tmp_path / "detect.log").read_text(errors="replace")
    # logfmt writes a true flag as its bare name: objects on, with the model loaded.
    assert re.search(r'event="object detector ready".* runtime=(openvino|onnxruntime)',
                     detect), detect[-2000:]
    assert re.search(r'event="analysis started".* objects model=', detect), detect[-2000:]
