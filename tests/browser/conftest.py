"""Browser tests: Debian's Chromium, driven by Playwright, against the built site
served on 127.0.0.1.

Needs `/usr/bin/chromium` (Debian: `apt-get install -y chromium`); Playwright's own
browser download is never used. Every test here is marked `browser` and runs in the
second step of the README's test command. Screenshots and other artifacts go to
`$GROUNDUP_ARTIFACTS` (default: `test-artifacts/` in the repository).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("GROUNDUP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("GROUNDUP_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def server_port(site_port: int) -> int:
    """The port the test server listens on: the one the real site was built for."""
    return site_port


@pytest.fixture(scope="session")
def built_site(
    real_site_build: tuple[Path, subprocess.CompletedProcess[str]],
) -> Path:
    """The real site, built once per session for the address it will be served at
    (`real_site_build`, shared with the notebook and reading tests)."""
    out, result = real_site_build
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def site_url(built_site: Path, server_port: int) -> Iterator[str]:
    """The built site, served over HTTP on 127.0.0.1 at the address it was built for."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", server_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium "
            f"(apt-get install -y chromium), or GROUNDUP_CHROMIUM=/path/to/chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What a page did: console errors, uncaught exceptions, requests to other origins,
    and responses with an error status (which name the URL a console error omits)."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    bytes_received: dict[str, int] = field(default_factory=dict)
    failed_responses: list[str] = field(default_factory=list)

    def clean(self) -> bool:
        return not (
            self.console_errors
            or self.page_errors
            or self.foreign_requests
            or self.failed_responses
        )


def watch(page: Page, site_url: str) -> Watch:
    """Record what `page` does from now on (see `Watch`)."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site_url))
    w = Watch(origin)
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.page_errors.append(str(e)))

    def on_request(request: Request) -> None:
        url = request.url
        if not url.startswith((origin, "data:", "blob:", "about:")):
            w.foreign_requests.append(url)

    page.on("request", on_request)
    page.on(
        "response",
        lambda r: w.failed_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return w


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (empty localStorage) per test, light scheme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, site_url: str) -> Iterator[Page]:
    """A page in a fresh profile; `page.watch` records errors and foreign requests."""
    pg = context.new_page()
    # an attribute of our own on Playwright's Page, which the tests read back as `page.watch`
    pg.watch = watch(pg, site_url)  # type: ignore[attr-defined]
    yield pg
    pg.close()
