"""Every ``web.AppKey`` of the issuer application, in one place (aiohttp's typed app state).

``SETTINGS``, ``CLOCK``, ``METRICS``, the caches and the limiter are set by
:func:`issuer.app.create_app`; ``RESOURCES`` (engine, keys) by its ``cleanup_ctx``.
"""

from __future__ import annotations

from aiohttp import web

from issuer.clock import Clock
from issuer.metrics import IssuerMetrics
from issuer.resources import IssuerResources
from issuer.settings import IssuerSettings
from issuer.status_cache import CachedCrl, StatusCache
from servicekit.rate_limit import RateLimiter

__all__ = [
    "CLOCK",
    "CRL_CACHE",
    "METRICS",
    "REQUEST_LIMITER",
    "RESOURCES",
    "SETTINGS",
    "STATUS_CACHE",
]

SETTINGS = web.AppKey("issuer_settings", IssuerSettings)
CLOCK: web.AppKey[Clock] = web.AppKey("issuer_clock")
METRICS = web.AppKey("issuer_metrics", IssuerMetrics)
RESOURCES = web.AppKey("issuer_resources", IssuerResources)
STATUS_CACHE = web.AppKey("issuer_status_cache", StatusCache)
CRL_CACHE = web.AppKey("issuer_crl_cache", CachedCrl)
REQUEST_LIMITER = web.AppKey("issuer_request_limiter", RateLimiter)
