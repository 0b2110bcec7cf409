"""Finding 8 of the outside review: a guesser cannot lock the owner out of their own
account. The guessing address is refused; the owner, elsewhere, is only slowed down;
an admin can lift the lockout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.security.live_server import live_server, seed, sign_in

GUESSER, OWNER = "203.0.113.5", "198.51.100.7"


@pytest.fixture
def center(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    # The test's requests come through "a proxy" at 127.0.0.1 that names the client.
    with live_server(tmp_path, server={"trusted_proxies": ["127.0.0.1/32"]}) as address:
        yield address, seed(address)


def login(address: str, password: str, source: str) -> httpx.Response:
    return httpx.post(f"http://{address}/api/v1/auth/login",
                      json={"username": "operator.du", "password": password},
                      headers={"X-Forwarded-For": source}, timeout=30)


def test_a_guesser_is_refused_and_the_owner_is_only_slowed(center) -> None:
    address, ids = center
    for n in range(5):
        assert login(address, f"guess-{n}-wrong", GUESSER).status_code == 401
    refused = login(address, PASSWORD, GUESSER)
    assert refused.status_code == 429 and "from your address" in refused.json()["detail"]

    started = time.monotonic()
    owner = login(address, PASSWORD, OWNER)
    assert owner.status_code == 200, owner.text
    assert time.monotonic() - started >= 0.45, "slowed down, not refused"

    # An admin lifts the lockout: the guessing address may try again.
    admin = {"Authorization": f"Bearer {sign_in(address, 'admin')}"}
    r = httpx.post(f"http://{address}/api/v1/users/{ids['operator.du']}/unlock",
                   headers=admin)
    assert r.status_code == 204
    assert login(address, PASSWORD, GUESSER).status_code == 200
    audit = httpx.get(f"http://{address}/api/v1/audit", headers=admin,
                      params={"action": "user.unlock"}).json()["items"]
    assert audit[0]["actor"] == "admin"
