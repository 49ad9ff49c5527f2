"""The web console in a real browser: Debian's chromium, headless, driven by Playwright.

Playwright is only the driver here: it never downloads a browser (`playwright install` is
never run); the chromium that `scripts/test.sh` installs with apt is launched directly, with
the flags this sandbox needs (no sandbox, no GPU, no network chatter of its own). Each test
gets its own browser (it starts in well under a second) and a fresh profile, so no token or
page state leaks between tests.

Every page a test visits can be saved as a screenshot under `$PULLGATE_TEST_ARTIFACTS`
(default `build/test-artifacts/ui/`), for people to look at. Each page is also watched for
uncaught script errors, Content-Security-Policy violations and requests to anywhere but
pullgate (which are refused): any of them fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from tests.integration.admin.conftest import World, make_world

__all__ = ["ARTIFACTS", "NARROW", "WIDE", "Console", "OpenConsole", "make_world"]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("PULLGATE_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts" / "ui")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@dataclass
class Console:
    """One browser tab on pullgate's console."""

    page: Page
    base: str
    problems: list[str] = field(default_factory=list)

    async def open(self, route: str = "/overview") -> None:
        target = f"{self.base}/ui/#{route}"
        if self.page.url == target:  # the same address again: a fresh load, as a person's reload
            await self.page.reload()
        else:
            await self.page.goto(target)
        await expect(self.page.locator("main .loading")).to_have_count(0)

    async def login(self, token: str) -> None:
        await self.page.goto(f"{self.base}/ui/")
        await self.page.get_by_label("API token").fill(token)
        await self.page.get_by_role("button", name="Log in").click()
        await expect(self.page.locator("#who-name")).to_be_visible()
        await expect(self.page.locator("main .loading")).to_have_count(0)

    async def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def no_horizontal_scroll(self) -> None:
        overflow = await self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


OpenConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # launch() gives every browser a fresh temporary profile and removes it on close.
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def open_console(browser: Browser) -> AsyncIterator[OpenConsole]:
    consoles: list[Console] = []

    async def open_(world: World, viewport: dict[str, int] = WIDE) -> Console:
        context = await browser.new_context(viewport=viewport, service_workers="block")
        context.set_default_timeout(15_000)
        console = Console(await context.new_page(), world.pullgate.url)
        page = console.page

        async def elsewhere(route: Route) -> None:  # the console must need nothing but pullgate
            console.problems.append(f"request to {route.request.url}")
            await route.abort()

        await context.route(lambda url: not url.startswith(console.base + "/"), elsewhere)
        page.on("pageerror", lambda error: console.problems.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: (
                console.problems.append(f"console: {message.text}")
                if re.search(r"Content Security Policy|Uncaught", message.text)
                else None
            ),
        )
        consoles.append(console)
        return console

    yield open_
    problems = [problem for console in consoles for problem in console.problems]
    assert problems == [], "the console broke its CSP, threw, or reached beyond pullgate"
