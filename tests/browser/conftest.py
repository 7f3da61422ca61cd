"""Fixtures for the browser suite: one Chromium for the package, a fresh context per test.

Everything here runs on the session event loop (the browser and the in-process servers
are shared, and torn down when the package's tests are done); each test module declares
``pytestmark = pytest.mark.asyncio(loop_scope="session")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright

from servicekit.local_service import free_loopback_port
from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS, chromium_available
from tests.browser.servers import RequestLog, serve
from tests.browser.stub_issuer import StubIssuer
from tests.browser.stub_merchant import StubMerchant


@pytest_asyncio.fixture(loop_scope="session", scope="package")
async def browser() -> AsyncIterator[Browser]:
    if not chromium_available():
        pytest.fail("Debian chromium is missing: run `make test`, which installs it")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no Service Worker, empty IndexedDB)."""
    ctx = await browser.new_context()
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


@dataclass
class StubWorld:
    issuer: StubIssuer
    issuer_log: RequestLog
    merchant: StubMerchant
    merchant_log: RequestLog
    issuer_origin: str
    shop_origin: str


@pytest_asyncio.fixture(loop_scope="session", scope="package")
async def stub_world() -> AsyncIterator[StubWorld]:
    """The stub issuer and stub merchant, on issuer.localhost / shop.localhost."""
    issuer_port, shop_port = free_loopback_port(), free_loopback_port()
    issuer_origin = f"http://issuer.localhost:{issuer_port}"
    shop_origin = f"http://shop.localhost:{shop_port}"
    issuer = StubIssuer(origin=issuer_origin)
    merchant = StubMerchant()
    world = StubWorld(issuer, RequestLog(), merchant, RequestLog(), issuer_origin, shop_origin)
    async with (
        serve(issuer.app(), issuer_port, world.issuer_log),
        serve(merchant.app(), shop_port, world.merchant_log),
    ):
        yield world
