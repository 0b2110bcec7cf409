"""Session cookies carry the Secure flag whenever the server listens beyond loopback
(``auth.cookie_secure: auto``, the default), so that they never cross a network in clear."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.auth.roles import Role
from tests.conftest import PASSWORD, add_user


@pytest.mark.parametrize(("host", "setting", "secure"), [
    ("0.0.0.0", "auto", True), ("192.168.10.5", "auto", True), ("cc.police.example", "auto", True),
    ("127.0.0.1", "auto", False), ("::1", "auto", False), ("localhost", "auto", False),
    ("0.0.0.0", False, False), ("127.0.0.1", True, True)])
def test_cookies_are_secure_beyond_loopback(make_settings, host: str, setting: object,
                                            secure: bool) -> None:
    settings = make_settings(server={"host": host}, auth={"cookie_secure": setting})
    with TestClient(create_app(settings)) as c:
        add_user(c, "officer.yn", Role.OFFICER)
        r = c.post("/api/v1/auth/login",
                   json={"username": "officer.yn", "password": PASSWORD, "cookie": True})
        assert r.status_code == 200, r.text
        cookies = r.headers.get_list("set-cookie")
        assert len(cookies) == 3
        assert all(("; secure" in c.lower()) is secure for c in cookies), cookies
