"""Every route, every role: who may call what. A new route without a policy fails here."""

import pytest

from tests.conftest import World, api_operations

PUBLIC, ALL, ADMIN, REFRESH = "public", "all", "admin", "refresh-token"
STAFF = "staff"  # admins and operators
EXPORTERS = "exporters"  # admins and officers: who may hand footage out

POLICY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): REFRESH,
    ("POST", "/api/v1/auth/logout"): ALL,
    ("GET", "/api/v1/auth/me"): ALL,
    ("POST", "/api/v1/auth/password"): ALL,
    ("GET", "/api/v1/auth/sessions"): ALL,
    ("DELETE", "/api/v1/auth/sessions"): ALL,
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): ALL,
    # The second step of a sign-in needs a challenge from the first, not a session.
    ("POST", "/api/v1/auth/login/second-factor"): PUBLIC,
    ("GET", "/api/v1/auth/second-factor"): ALL,
    ("POST", "/api/v1/auth/second-factor/setup"): ALL,
    ("POST", "/api/v1/auth/second-factor/confirm"): ALL,
    ("POST", "/api/v1/auth/second-factor/recovery-codes"): ALL,
    ("POST", "/api/v1/auth/second-factor/disable"): ALL,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/users/{user_id}/sessions"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}/sessions"): ADMIN,
    ("POST", "/api/v1/users/{user_id}/unlock"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}/second-factor"): ADMIN,
    ("GET", "/api/v1/areas"): ALL,
    ("POST", "/api/v1/areas"): ADMIN,
    ("GET", "/api/v1/areas/{area_id}"): ALL,
    ("PATCH", "/api/v1/areas/{area_id}"): ADMIN,
    ("DELETE", "/api/v1/areas/{area_id}"): ADMIN,
    ("GET", "/api/v1/cameras"): ALL,
    ("POST", "/api/v1/cameras"): ADMIN,
    ("POST", "/api/v1/cameras/import"): ADMIN,
    ("GET", "/api/v1/cameras/export"): ADMIN,
    ("GET", "/api/v1/cameras/{camera_id}"): ALL,
    ("PATCH", "/api/v1/cameras/{camera_id}"): ADMIN,
    ("DELETE", "/api/v1/cameras/{camera_id}"): ADMIN,
    ("GET", "/api/v1/cameras/{camera_id}/health"): ALL,
    ("GET", "/api/v1/cameras/{camera_id}/rules"): ALL,
    ("POST", "/api/v1/cameras/{camera_id}/rules"): ADMIN,
    ("GET", "/api/v1/rules/{rule_id}"): ALL,
    ("PATCH", "/api/v1/rules/{rule_id}"): ADMIN,
    ("DELETE", "/api/v1/rules/{rule_id}"): ADMIN,
    ("GET", "/api/v1/cameras/{camera_id}/snapshot.jpg"): ALL,
    # Alerts: everyone handles their areas' alerts (the store scopes them, 404 outside).
    ("GET", "/api/v1/alerts"): ALL,
    ("GET", "/api/v1/alerts/summary"): ALL,
    ("GET", "/api/v1/alerts/{alert_id}"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/ack"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/start"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/false-alarm"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/assign"): ALL,
    ("POST", "/api/v1/alerts/{alert_id}/comments"): ALL,
    ("GET", "/api/v1/alerts/{alert_id}/snapshot"): ALL,
    ("GET", "/api/v1/alerts/{alert_id}/clip"): ALL,
    ("GET", "/api/v1/fleet/health"): ALL,
    ("GET", "/api/v1/webhooks"): ADMIN,
    ("POST", "/api/v1/webhooks"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/cluster/nodes"): ADMIN,
    # Multi-server mode (issue 15): draining a worker and pinning cameras are admins'.
    ("POST", "/api/v1/cluster/nodes/{node_id}/drain"): ADMIN,
    ("GET", "/api/v1/cluster/pins"): ADMIN,
    ("PUT", "/api/v1/cluster/pins/{camera_id}"): ADMIN,
    ("DELETE", "/api/v1/cluster/pins/{camera_id}"): ADMIN,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): ADMIN,
    ("GET", "/"): PUBLIC,
    # ONVIF (issue 7): admins discover and register; operators and admins steer.
    ("POST", "/api/v1/onvif/discover"): ADMIN,
    ("POST", "/api/v1/onvif/inspect"): ADMIN,
    ("POST", "/api/v1/onvif/register"): ADMIN,
    ("GET", "/api/v1/cameras/{camera_id}/ptz"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/move"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/stop"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/relative"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/absolute"): STAFF,
    ("GET", "/api/v1/cameras/{camera_id}/ptz/status"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/home"): STAFF,
    ("GET", "/api/v1/cameras/{camera_id}/ptz/presets"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/presets"): STAFF,
    ("POST", "/api/v1/cameras/{camera_id}/ptz/presets/{token}/goto"): STAFF,
    # The video wall (issue 6): operators' own saved views and the tiles' states.
    ("GET", "/api/v1/views"): STAFF,
    ("POST", "/api/v1/views"): STAFF,
    ("GET", "/api/v1/views/{view_id}"): STAFF,
    ("PATCH", "/api/v1/views/{view_id}"): STAFF,
    ("DELETE", "/api/v1/views/{view_id}"): STAFF,
    ("GET", "/api/v1/wall/states"): STAFF,
    # Test connection on the admin page (issue 6).
    ("POST", "/api/v1/cameras/test"): ADMIN,
    ("POST", "/api/v1/cameras/{camera_id}/test"): ADMIN,
    # Live video of a focused tile over WebRTC (issue 6).
    ("POST", "/api/v1/cameras/{camera_id}/live/webrtc"): STAFF,
    ("DELETE", "/api/v1/cameras/{camera_id}/live/webrtc/{session_id}"): STAFF,
    # Dashboard and alert console figures (issue 6): alert counts are area-scoped.
    ("GET", "/api/v1/stats/alerts"): ALL,
    ("GET", "/api/v1/stats/kinds"): ALL,
    ("GET", "/api/v1/stats/load"): STAFF,
    # Recording (issue 14): footage follows areas like live view; handing it out is for
    # officers and admins; the key that verifies exports is public.
    ("GET", "/api/v1/recordings/timeline"): ALL,
    ("GET", "/api/v1/recordings/{camera_id}/play"): ALL,
    ("GET", "/api/v1/recordings/status"): ALL,
    ("GET", "/api/v1/recordings/holds"): ADMIN,
    ("POST", "/api/v1/recordings/holds"): EXPORTERS,
    ("DELETE", "/api/v1/recordings/holds/{hold_id}"): ADMIN,
    ("GET", "/api/v1/exports/public-key"): PUBLIC,
    ("POST", "/api/v1/exports"): EXPORTERS,
    ("GET", "/api/v1/exports"): EXPORTERS,
    ("GET", "/api/v1/exports/{export_id}"): EXPORTERS,
    ("GET", "/api/v1/exports/{export_id}/download"): EXPORTERS,
    ("DELETE", "/api/v1/exports/{export_id}"): EXPORTERS,
}

SAMPLE_PATH = {"{user_id}": "999999", "{area_id}": "ZZ", "{camera_id}": "zz-999",
               "{rule_id}": "999999", "{alert_id}": "999999",
               "{webhook_id}": "999999", "{delivery_id}": "999999", "{token}": "p1",
               "{view_id}": "999999", "{session_id}": "no-such-session",
               "{hold_id}": "999999", "{export_id}": "0" * 32,
               "{node_id}": "no-such-node"}
ROLES = ("anonymous", "officer", "operator", "admin")


def routes(world: World) -> list[tuple[str, str]]:
    # "/" (the web page) is not in the OpenAPI document; it is public by design.
    return [*api_operations(world.client), ("GET", "/")]


def test_every_route_has_a_declared_policy(world: World) -> None:
    served = routes(world)
    assert len(served) >= 25
    undeclared = [r for r in served if r not in POLICY]
    assert undeclared == [], "add these routes to POLICY with their roles"
    assert [r for r in POLICY if r not in served] == []


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(world: World, role: str) -> None:
    c = world.client
    wrong = []
    # Signing out ends the session the later requests would be made with: last.
    for method, path in sorted(routes(world), key=lambda r: r == ("POST", "/api/v1/auth/logout")):
        url = path
        for key, value in SAMPLE_PATH.items():
            url = url.replace(key, value)
        kwargs = {"json": {}} if method in {"POST", "PATCH"} else {}
        status = c.request(method, url, headers=world.headers[role], **kwargs).status_code
        policy = POLICY[(method, path)]
        if policy == PUBLIC:
            ok = status not in (401, 403)
        elif policy == REFRESH:
            ok = status == 401  # nobody gets in without a refresh token
        elif policy == ALL or (policy == ADMIN and role == "admin") \
                or (policy == STAFF and role in ("admin", "operator")) \
                or (policy == EXPORTERS and role in ("admin", "officer")):
            ok = status not in (401, 403) if role != "anonymous" else status == 401
        else:
            ok = status == (401 if role == "anonymous" else 403)
        if not ok:
            wrong.append((method, path, status))
    assert wrong == []
