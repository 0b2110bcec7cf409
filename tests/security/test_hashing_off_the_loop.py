"""A line of the outside review's "also" list: password hashing (argon2id, deliberately
slow) does not stall the server: other requests are answered while a sign-in hashes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.security.live_server import live_server


def test_requests_are_answered_while_a_sign_in_hashes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A cost that makes one hash last about a second here (the tests' cheap hashing is
    # set in the environment, which wins over settings).
    for name, value in (("TIME_COST", "20"), ("MEMORY_KIB", "131072"),
                        ("PARALLELISM", "1")):
        monkeypatch.setenv(f"CAMERA_CENTER_AUTH__PASSWORD_HASH__{name}", value)
    with live_server(tmp_path) as address:
        assert httpx.get(f"http://{address}/healthz").status_code == 200  # warm
        took: list[float] = []

        def sign_in() -> None:
            started = time.monotonic()
            r = httpx.post(f"http://{address}/api/v1/auth/login", timeout=60,
                           json={"username": "admin", "password": PASSWORD})
            assert r.status_code == 200
            took.append(time.monotonic() - started)

        worker = threading.Thread(target=sign_in)
        worker.start()
        waits = []
        while worker.is_alive():
            started = time.monotonic()
            assert httpx.get(f"http://{address}/healthz", timeout=60).status_code == 200
            waits.append(time.monotonic() - started)
        worker.join()
    assert len(waits) >= 3, "the sign-in was too quick to overlap anything"
    assert max(waits) < took[0] / 2, (max(waits), took[0])
