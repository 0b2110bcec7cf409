"""Camera passwords never appear in responses, logs, errors, exports or the database file."""

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from camera_center.logs import configure_logging, get_logger
from tests.conftest import World, api_operations

SECRETS = ("Zebra-Quartz-7781", "Mango%Tiger@991", "Lotus-Csv-Import-55", "Orchid-Patch-303",
           "Webhook-Signing-Secret-8812")
URL_SECRET = "Hook-Url-Pass-6060"  # in a webhook URL: masked in responses and logs


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", "logfmt", stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "camera-center"]:
        root.removeHandler(handler)
    structlog.reset_defaults()


def test_passwords_never_leave_the_server(
    world: World, log_stream: io.StringIO, tmp_path: Path
) -> None:
    c, admin = world.client, world.admin
    bodies: list[str] = []

    def keep(r):
        bodies.append(r.text)
        bodies.append(str(r.headers))
        return r

    keep(
        c.post(
            "/api/v1/cameras",
            headers=admin,
            json={
                "id": "du-001",
                "name": "Chợ Đu",
                "area_id": "DU",
                "username": "admin",
                "password": SECRETS[0],
                "main_url": "rtsp://127.0.0.1/live",
                "onvif_url": "http://127.0.0.1/onvif/device_service",
            },
        )
    )
    keep(
        c.post(
            "/api/v1/cameras",
            headers=admin,
            json={
                "id": "yn-001",
                "name": "UBND Yên Ninh",
                "area_id": "YN",
                "main_url": "rtsp://root:Mango%25Tiger%40991@127.0.0.2:554/s0",
            },
        )
    )
    csv_text = (
        "id,name,area_id,main_url,username,password\n"
        f"du-002,Ngã ba Đu,DU,rtsp://127.0.0.3/m,admin,{SECRETS[2]}\n"
        f"du-003,Bad row,XX,rtsp://u:{SECRETS[2]}@127.0.0.4/m,,\n"
    )
    for dry in ("true", "false"):
        keep(
            c.post(
                "/api/v1/cameras/import",
                headers=admin,
                params={"dry_run": dry},
                files={"file": ("c.csv", csv_text.encode(), "text/csv")},
            )
        )
    keep(c.patch("/api/v1/cameras/du-001", headers=admin, json={"password": SECRETS[3]}))
    # Refused changes must not echo what was sent either.
    keep(
        c.patch(
            "/api/v1/cameras/du-001",
            headers=admin,
            json={"main_url": f"http://admin:{SECRETS[3]}@127.0.0.1/x"},
        )
    )
    keep(
        c.patch(
            "/api/v1/cameras/du-001",
            headers=admin,
            json={"main_url": f"rtsp://admin:{SECRETS[3]}@127.0.0.1:70000/x"},
        )
    )
    keep(
        c.post(
            "/api/v1/cameras",
            headers=admin,
            json={
                "id": "du-001",
                "name": "dup",
                "area_id": "DU",
                "main_url": f"rtsp://admin:{SECRETS[3]}@127.0.0.1/live",
            },
        )
    )
    hook = keep(c.post("/api/v1/webhooks", headers=admin, json={
        "name": "Trực ban", "url": f"https://hook:{URL_SECRET}@127.0.0.1:9/x",
        "secret": SECRETS[4]})).json()
    keep(c.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin,
                 json={"secret": SECRETS[4], "url": f"https://u:{URL_SECRET}@bad host/"}))
    get_logger("ingest.test").warning(
        "connect failed",
        url=f"rtsp://admin:{SECRETS[0]}@127.0.0.1/live",
        error=f"401 on rtsp://admin:{SECRETS[0]}@127.0.0.1/",
    )
    logging.getLogger("third.party").error("open rtsp://x:%s@127.0.0.9/", SECRETS[1])

    # Every readable route, as every role.
    gets = [path for method, path in api_operations(c) if method == "GET"]
    assert "/api/v1/cameras/{camera_id}" in gets
    for path in gets:
        for role in ("admin", "operator", "officer"):
            url = (
                path.replace("{camera_id}", "du-001")
                .replace("{area_id}", "DU")
                .replace("{user_id}", str(world.ids["admin"]))
                .replace("{webhook_id}", str(hook["id"]))
            )
            keep(c.get(url, headers=world.headers[role]))
    keep(c.get("/openapi.json"))

    text = "\n".join(bodies)
    logs = log_stream.getvalue()
    assert "rtsp://admin:***@127.0.0.1/live" in text  # the masked form is what people see
    assert "connect failed" in logs and "***" in logs
    assert URL_SECRET not in text and URL_SECRET not in logs
    for secret in SECRETS:
        assert secret not in text, f"{secret} in a response"
        assert secret not in logs, f"{secret} in the logs"
        assert secret.replace("%", "%25").replace("@", "%40") not in text + logs
    db_bytes = (tmp_path / "test.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("test.db-*")
    )
    for secret in SECRETS:
        assert secret.encode() not in db_bytes, f"{secret} stored in clear"
