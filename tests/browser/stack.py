"""The real issuer and merchant services, in process, for the end-to-end browser tests.

The issuer (``issuer.create_app``) and the merchant with its demo shop
(``merchant.create_app``) run on 127.0.0.1 and are reached by Chromium as
``http://issuer.localhost:PORT`` and ``http://shop.localhost:PORT``. The merchant reaches
the issuer at the same names (its HTTP client resolves ``*.localhost`` to loopback,
servicekit.localhost_resolver); the tests' own back-office calls use 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from servicekit.local_service import free_loopback_port
from tests.browser.servers import RequestLog, serve

__all__ = ["Stack", "running_stack"]


@dataclass
class Stack:
    issuer_origin: str
    shop_origin: str
    issuer_log: RequestLog
    merchant_log: RequestLog
    issuer_api_key: str
    merchant_api_key: str
    issuer_url: str  # http://127.0.0.1:PORT, for back-office calls from the tests
    merchant_url: str

    async def register_card(
        self, pan: str, expiry: str = "12/30", security_code: str = "123"
    ) -> dict[str, Any]:
        """Back office: register a card; returns ``{"cardId", "activationCode", ...}``."""
        return await self._issuer(
            "POST", "/v1/cards", {"pan": pan, "expiry": expiry, "securityCode": security_code}
        )

    async def revoke_credential(self, credential_id: str) -> dict[str, Any]:
        return await self._issuer(
            "POST", f"/v1/credentials/{credential_id}/revoke", {"reason": "keyCompromise"}
        )

    async def checkout(self, checkout_id: str) -> dict[str, Any]:
        """Merchant API: the checkout's state and verdict."""
        return await self._merchant("GET", f"/v1/checkouts/{checkout_id}", None)

    async def merchant_verify(self, checkout_id: str, presentation: Any) -> dict[str, Any]:
        return await self._merchant(
            "POST", f"/v1/checkouts/{checkout_id}/verify", {"presentation": presentation}
        )

    async def create_checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._merchant("POST", "/v1/checkouts", body)

    async def _issuer(self, method: str, path: str, body: Any) -> dict[str, Any]:
        return await _call(self.issuer_url + path, self.issuer_api_key, method, body)

    async def _merchant(self, method: str, path: str, body: Any) -> dict[str, Any]:
        return await _call(self.merchant_url + path, self.merchant_api_key, method, body)


async def _call(url: str, key: str, method: str, body: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url, json=body, headers={"Authorization": f"Bearer {key}"}
        ) as response,
    ):
        document: dict[str, Any] = await response.json()
        if response.status >= 400:
            raise AssertionError(f"{method} {url}: {response.status} {document}")
        return document


@asynccontextmanager
async def running_stack(
    directory: Path, *, issuer_changes: Mapping[str, Any] | None = None
) -> AsyncIterator[Stack]:
    """Start the issuer, then the merchant (which trusts the issuer's dev root).

    ``issuer_changes`` are extra :class:`issuer.settings.IssuerSettings` fields (e.g.
    ``frictionless_limits``)."""
    from issuer.api_keys import create_api_key
    from issuer.app import create_app as create_issuer_app
    from issuer.app_keys import RESOURCES
    from issuer.settings import IssuerSettings
    from merchant.app import DEMO_KEY_FILE
    from merchant.app import create_app as create_merchant_app
    from merchant.settings import Settings as MerchantSettings

    issuer_port, shop_port = free_loopback_port(), free_loopback_port()
    issuer_origin = f"http://issuer.localhost:{issuer_port}"
    shop_origin = f"http://shop.localhost:{shop_port}"
    issuer_settings = IssuerSettings(
        data_dir=directory / "issuer",
        public_origin=issuer_origin,
        port=issuer_port,
        **(issuer_changes or {}),
    )
    issuer_log, merchant_log = RequestLog(), RequestLog()
    issuer_app = create_issuer_app(issuer_settings)
    async with serve(issuer_app, issuer_port, issuer_log):
        issuer_key = await create_api_key(
            issuer_app[RESOURCES], name="browser-tests", now=datetime.now(UTC)
        )
        merchant_settings = MerchantSettings(
            data_dir=directory / "merchant",
            trust_roots=(directory / "issuer" / "root-ca.pem",),
            dev=True,
            public_origin=shop_origin,
            issuer_metadata_urls=(f"{issuer_origin}/.well-known/cardcert-issuer",),
        )
        merchant_app = create_merchant_app(merchant_settings)
        async with serve(merchant_app, shop_port, merchant_log):
            merchant_key = (directory / "merchant" / DEMO_KEY_FILE).read_text().strip()
            yield Stack(
                issuer_origin=issuer_origin,
                shop_origin=shop_origin,
                issuer_log=issuer_log,
                merchant_log=merchant_log,
                issuer_api_key=issuer_key,
                merchant_api_key=merchant_key,
                issuer_url=f"http://127.0.0.1:{issuer_port}",
                merchant_url=f"http://127.0.0.1:{shop_port}",
            )
