"""Every ``web.AppKey`` of the merchant application, in one place (aiohttp's typed app state)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from merchant.checkouts import CheckoutService
from merchant.metrics import MerchantMetrics
from merchant.settings import Settings
from merchant.status import StatusResolver
from merchant.store import MerchantView, Store
from merchant.verifier import MemoizingChainVerifier, Verifier
from servicekit.rate_limit import RateLimiter

__all__ = [
    "CHAIN_VERIFIER",
    "CHECKOUTS",
    "CHECKOUT_LIMITER",
    "CLOCK",
    "DEMO_MERCHANT",
    "ENGINE",
    "HTTP_CLIENT",
    "METRICS",
    "RETURN_LIMITER",
    "SETTINGS",
    "STATUS_RESOLVER",
    "STORE",
    "VERIFIER",
]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
METRICS = web.AppKey("metrics", MerchantMetrics)
ENGINE = web.AppKey("engine", AsyncEngine)
STORE = web.AppKey("store", Store)
HTTP_CLIENT = web.AppKey("http_client", aiohttp.ClientSession)
CHAIN_VERIFIER = web.AppKey("chain_verifier", MemoizingChainVerifier)
STATUS_RESOLVER = web.AppKey("status_resolver", StatusResolver)
VERIFIER = web.AppKey("verifier", Verifier)
CHECKOUTS = web.AppKey("checkouts", CheckoutService)
DEMO_MERCHANT = web.AppKey("demo_merchant", MerchantView)
RETURN_LIMITER = web.AppKey("return_limiter", RateLimiter)
# Checkout creation, keyed "merchant:<id>" (its API key) and "client:<address>".
CHECKOUT_LIMITER = web.AppKey("checkout_limiter", RateLimiter)
