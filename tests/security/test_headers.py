"""Finding 11 of the outside review: security headers on every answer, and an API docs
page that loads nothing from another site. (That every console page passes the policy
is checked by every browser test: a refused resource fails the test that met it.)"""

from __future__ import annotations

import re

import pytest

from tests.conftest import World

PATHS = ["/", "/wall", "/docs", "/openapi.json", "/static/js/common.js",
         "/api/v1/auth/me", "/api/v1/cameras/no-such", "/healthz"]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(world: World, path: str) -> None:
    r = world.client.get(path, follow_redirects=False)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_the_docs_and_pages_load_nothing_from_elsewhere_and_run_no_inline_script(
        world: World) -> None:
    for page in ("/", "/docs"):
        html = world.client.get(page).text
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", html), page
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page}"
    assert world.client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    from camera_center.console.pages import STATIC
    for html in STATIC.glob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script: {html.name}"
        assert not re.search(r"\son[a-z]+=\"", text), f"inline handler: {html.name}"
