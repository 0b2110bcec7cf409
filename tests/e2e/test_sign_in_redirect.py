"""Finding 3 of the outside review: after sign-in the console follows ``next=`` only to
paths of its own site. A browser reads "/\\host" and "/<TAB>/host" as another site."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Console

ELSEWHERE = ["/\\example.org/phish", "/\t/example.org/phish", "//example.org/phish",
             "/\\/example.org", "https://example.org/", "/%5Cexample.org"]


@pytest.mark.parametrize("next_value", ELSEWHERE)
def test_next_never_leads_to_another_site(console: Console, page: Page,
                                          next_value: str) -> None:
    page.goto(f"{console.url}/?next={quote(next_value, safe='')}")
    console.sign_in(page, "officer.yn", here=True)
    page.wait_for_load_state()
    assert page.url.startswith(console.url + "/"), page.url


def test_next_on_this_site_is_followed_with_its_query(console: Console, page: Page) -> None:
    page.goto(f"{console.url}/?next={quote('/alerts?status=open#top', safe='')}")
    console.sign_in(page, "officer.yn", here=True)
    page.wait_for_url(console.url + "/alerts?status=open#top")
