"""The merchant aiohttp application: ``create_app(settings)``.

Start-up (``cleanup_ctx``, each cleaned up if and only if it started):

1. database: engine, migrations, :class:`~merchant.store.Store`;
2. trust and verification: the network roots into ONE
   :class:`~merchant.verifier.MemoizingChainVerifier` (a ``certs.chain.ChainVerifier``),
   one :class:`aiohttp.ClientSession` for live OCSP and metadata, the
   :class:`~merchant.status.StatusResolver` with its caches, the card-data vault, the
   issuer directory, the :class:`~merchant.verifier.Verifier` and the checkout service;
3. dev mode: the demo merchant account, issuer metadata from configured URLs;
4. the expiry sweep task.

Nothing is built per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509

from certs.wire import b64url_encode
from merchant.api import routes as api_routes
from merchant.app_keys import (
    CHAIN_VERIFIER,
    CHECKOUT_LIMITER,
    CHECKOUTS,
    CLOCK,
    DEMO_MERCHANT,
    ENGINE,
    HTTP_CLIENT,
    METRICS,
    RETURN_LIMITER,
    SETTINGS,
    STATUS_RESOLVER,
    STORE,
    VERIFIER,
)
from merchant.card_vault import CardVault, load_card_data_key
from merchant.checkouts import CheckoutService
from merchant.errors import IssuerMetadataInvalid
from merchant.issuer_directory import IssuerDirectory, fetch_issuer_metadata, save_issuer
from merchant.metrics import MerchantMetrics
from merchant.migrations import migrate_database
from merchant.settings import ConfigurationError, Settings
from merchant.shop import return_routes
from merchant.shop import routes as shop_routes
from merchant.status import StatusResolver
from merchant.store import MerchantView, Store
from merchant.verifier import MemoizingChainVerifier, Verifier
from merchant.version import __version__
from servicekit.api_keys import generate_api_key, hash_api_key
from servicekit.database import make_connections, make_engine
from servicekit.localhost_resolver import client_connector
from servicekit.middleware import make_error_middleware, make_metrics_middleware, security_headers
from servicekit.rate_limit import RateLimiter

__all__ = ["create_app", "ensure_demo_merchant", "load_trust_roots", "prepare"]

log = logging.getLogger("cardcert.merchant")
STATIC_DIR = Path(__file__).parent / "static"
DEMO_KEY_FILE = "demo-merchant-api-key"
_MAX_BODY = 256 * 1024


def load_trust_roots(settings: Settings) -> list[x509.Certificate]:
    """Every certificate in the configured PEM files.

    Raises:
        ConfigurationError: no roots configured, or a file does not hold PEM certificates.
    """
    roots: list[x509.Certificate] = []
    for path in settings.trust_roots:
        try:
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read trust roots from {path}") from exc
    if not roots:
        raise ConfigurationError(
            "no trust roots: set MERCHANT_TRUST_ROOTS to the network root PEM file(s)"
        )
    return roots


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def ensure_demo_merchant(
    store: Store, settings: Settings, now: datetime
) -> tuple[MerchantView, str | None]:
    """The demo shop's merchant account, created on first start (idempotent).

    Returns the account and, when it was just created, its API key (also written to
    ``<data dir>/demo-merchant-api-key``, mode 0600, for trying the API in development).
    """
    existing = await store.merchant_by_name(settings.demo_merchant_name)
    if existing is not None:
        if settings.public_origin not in existing.allowed_origins:
            origins = (*existing.allowed_origins, settings.public_origin)
            await store.update_allowed_origins(existing.id, origins)
            existing = MerchantView(id=existing.id, name=existing.name, allowed_origins=origins)
        return existing, None
    merchant_id = "mer_" + b64url_encode(secrets.token_bytes(12))
    key = generate_api_key("mk")
    await store.create_merchant(
        merchant_id=merchant_id,
        name=settings.demo_merchant_name,
        allowed_origins=(settings.public_origin,),
        key_hash=hash_api_key(key),
        now=now,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.data_dir / DEMO_KEY_FILE
    with contextlib.suppress(OSError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    view = MerchantView(
        id=merchant_id, name=settings.demo_merchant_name, allowed_origins=(settings.public_origin,)
    )
    return view, key


async def prepare(settings: Settings) -> None:
    """Run once in the parent before workers start: migrate, key file, demo account."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    load_trust_roots(settings)
    load_card_data_key(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        await migrate_database(engine)
        if settings.dev:
            await ensure_demo_merchant(Store(engine), settings, _utcnow())
    finally:
        await engine.dispose()


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> web.Application:
    """Build the merchant application (no I/O until it starts).

    Args:
        settings: the configuration (:meth:`Settings.from_env`).
        clock: the time source (tests pin it); defaults to the system clock in UTC.
    """
    metrics = MerchantMetrics()
    app = web.Application(
        middlewares=[
            make_metrics_middleware(metrics.registry),
            security_headers,
            make_error_middleware("merchant"),
        ],
        client_max_size=_MAX_BODY,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or _utcnow
    app[METRICS] = metrics
    app[RETURN_LIMITER] = RateLimiter(rate=120, per=60, burst=60)
    app[CHECKOUT_LIMITER] = RateLimiter(
        rate=settings.checkout_rate_per_minute, per=60, burst=settings.checkout_burst
    )
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_verification)
    app.cleanup_ctx.append(_development)
    app.cleanup_ctx.append(_sweeper)
    app.add_routes(api_routes)
    app.add_routes(return_routes)
    if settings.shop:
        app.add_routes(shop_routes)
        app.router.add_static("/static/", STATIC_DIR, name="static")
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    connections = make_connections(settings.resolved_database_url)
    try:
        await migrate_database(connections.engine)
        app[ENGINE] = connections.engine
        app[STORE] = Store(connections.engine, connections.autocommit, inline=connections.inline)
        yield
    finally:
        await connections.dispose()


async def _verification(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    chains = MemoizingChainVerifier(load_trust_roots(settings))
    vault = CardVault(load_card_data_key(settings))
    async with aiohttp.ClientSession(
        connector=client_connector(),
        headers={"User-Agent": f"cardcert-merchant/{__version__}"},
        timeout=aiohttp.ClientTimeout(total=settings.ocsp_timeout),
        raise_for_status=False,
    ) as session:
        resolver = StatusResolver(
            session=session,
            max_age=settings.max_status_age,
            timeout=settings.ocsp_timeout,
            cache_ttl=settings.ocsp_cache_ttl,
        )
        verifier = Verifier(chain_verifier=chains, status=resolver, policy=settings.policy)
        app[HTTP_CLIENT] = session
        app[CHAIN_VERIFIER] = chains
        app[STATUS_RESOLVER] = resolver
        app[VERIFIER] = verifier
        app[CHECKOUTS] = CheckoutService(
            store=app[STORE],
            directory=IssuerDirectory(app[ENGINE]),
            vault=vault,
            verifier=verifier,
            settings=settings,
            metrics=app[METRICS],
            clock=app[CLOCK],
        )
        yield


async def _development(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.shop or settings.dev:
        merchant, _ = await ensure_demo_merchant(app[STORE], settings, app[CLOCK]())
        app[DEMO_MERCHANT] = merchant
    for url in settings.issuer_metadata_urls:
        try:
            info = await fetch_issuer_metadata(
                app[HTTP_CLIENT], url, roots=app[CHAIN_VERIFIER].roots
            )
            await save_issuer(app[ENGINE], info, source=url, now=app[CLOCK]())
            log.info("loaded issuer metadata of %s", info.origin)
        except IssuerMetadataInvalid as error:
            log.warning("issuer metadata from %s not loaded: %s", url, error.message)
    yield


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    service = app[CHECKOUTS]
    interval = app[SETTINGS].sweep_interval

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await service.sweep()
            except Exception:  # keep sweeping; the next round retries
                log.exception("expiry sweep failed")

    task = asyncio.create_task(sweep_forever(), name="merchant-expiry-sweep")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
