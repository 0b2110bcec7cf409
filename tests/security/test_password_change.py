"""Finding 9 of the outside review: a wrong current password on a password change is
counted and audited like a failed sign-in, so a stolen session cannot try passwords
without end."""

from __future__ import annotations

from tests.conftest import PASSWORD, World


def test_wrong_current_passwords_lock_the_change_and_are_audited(world: World) -> None:
    c = world.client
    me = world.headers["operator"]
    for n in range(5):
        r = c.post("/api/v1/auth/password", headers=me, json={
            "current_password": f"guess-number-{n}", "new_password": "Another-horse-77"})
        assert r.status_code == 401, r.text
    # Even the right password is refused now, for the lockout window.
    r = c.post("/api/v1/auth/password", headers=me, json={
        "current_password": PASSWORD, "new_password": "Another-horse-77"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed" in r.json()["detail"]
    audit = c.get("/api/v1/audit", headers=world.admin,
                  params={"action": "auth.password_check_failed"}).json()["items"]
    assert len(audit) == 5 and {e["actor"] for e in audit} == {"operator.du"}
    assert all(e["target_id"] == str(world.ids["operator"]) for e in audit)
