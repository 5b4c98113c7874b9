"""The built site loads in Chromium without errors and without leaving its origin."""

from __future__ import annotations


def test_home_page_loads_cleanly(page, site_url):
    page.goto(site_url)
    page.wait_for_load_state("networkidle")
    assert "Ground Up" in page.title()
    assert page.watch.clean(), page.watch
