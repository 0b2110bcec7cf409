"""A line of the outside review's "also" list: common, patterned and username-based
passwords are refused (zxcvbn's estimate, not a home-made list), with the reason."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, World

WEAK = ["Password123!", "admin12345", "qwertyuiop1", "canbo.moi2026", "1234567890ab"]


@pytest.mark.parametrize("weak", WEAK)
def test_a_guessable_password_is_refused_with_the_reason(world: World, weak: str) -> None:
    r = world.client.post("/api/v1/users", headers=world.admin, json={
        "username": "canbo.moi", "role": "officer", "password": weak, "area_ids": ["DU"]})
    assert r.status_code == 422, (weak, r.text)
    assert "too easy to guess" in r.json()["detail"]
    assert weak not in r.text
    if weak.startswith("canbo"):
        return  # guessable for that user only
    r = world.client.post("/api/v1/auth/password", headers=world.headers["operator"],
                          json={"current_password": PASSWORD, "new_password": weak})
    assert r.status_code == 422 and "too easy to guess" in r.json()["detail"]


def test_a_passphrase_is_accepted(world: World) -> None:
    r = world.client.post("/api/v1/users", headers=world.admin, json={
        "username": "canbo.moi", "role": "officer", "password": "chợ đu sáng thứ bảy",
        "area_ids": ["DU"]})
    assert r.status_code == 201, r.text
