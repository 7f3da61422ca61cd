"""The issuer directory: which issuer serves which BIN prefixes, from issuer metadata.

Issuers publish version-1 metadata at ``{issuer}/.well-known/cardcert-issuer``
(docs/interfaces.md, section 1). ``python -m merchant add-issuer`` (or start-up in dev
mode, from ``MERCHANT_ISSUER_METADATA_URLS``) reads it from that URL or a JSON file,
checks it, and stores it in ``merchant_issuers``. Checkout creation looks the card's BIN
up in an in-memory snapshot of that table (longest prefix wins), reloaded every few
seconds so that workers see newly added issuers without a restart.

The issuer CA in the metadata is *not* a trust anchor: card certificates are trusted only
through the network roots (:class:`certs.chain.ChainVerifier`). When roots are known, the
CA is checked to be issued by one of them, so a misconfiguration shows up when the issuer
is added rather than as ``untrusted_root`` at every checkout.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from certs.chain import ChainVerifier
from certs.errors import CardcertError
from certs.origin import is_serialised_origin, origin_of_url
from certs.wire import load_json_object
from merchant.errors import IssuerMetadataInvalid
from merchant.models import IssuerRecord, table_of

__all__ = [
    "METADATA_PATH",
    "IssuerDirectory",
    "IssuerInfo",
    "fetch_issuer_metadata",
    "load_issuers",
    "metadata_url_for",
    "parse_issuer_metadata",
    "save_issuer",
]

METADATA_PATH = "/.well-known/cardcert-issuer"
_PREFIX = re.compile(r"[0-9]{1,8}")
_MAX_METADATA_BYTES = 64 * 1024
_ISSUERS = table_of(IssuerRecord)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerInfo:
    """One participating issuer, as the merchant uses it."""

    name: str
    origin: str
    ca_certificate: x509.Certificate
    bin_prefixes: tuple[str, ...]
    pay_url: str
    ocsp_url: str | None
    metadata: dict[str, Any]


def _url(value: object, field: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or origin_of_url(value) is None:
        raise IssuerMetadataInvalid(f"{field} must be an https (or local http) URL")
    return value


def parse_issuer_metadata(
    data: bytes | str | dict[str, Any], *, roots: Sequence[x509.Certificate] = ()
) -> IssuerInfo:
    """Check version-1 issuer metadata.

    Args:
        data: the metadata JSON (text, bytes or decoded object).
        roots: network roots; when given, the issuer CA must be issued by one of them.

    Raises:
        IssuerMetadataInvalid: ``issuer_metadata_invalid``.
    """
    obj = (
        data
        if isinstance(data, dict)
        else load_json_object(data, error=IssuerMetadataInvalid, what="issuer metadata")
    )
    if obj.get("version") != 1 or type(obj.get("version")) is not int:
        raise IssuerMetadataInvalid("unsupported issuer metadata version")
    name = obj.get("issuerName")
    if not isinstance(name, str) or not 0 < len(name) <= 100 or not name.isprintable():
        raise IssuerMetadataInvalid("issuerName must be printable text of at most 100 characters")
    origin = obj.get("issuerOrigin")
    if not is_serialised_origin(origin):
        raise IssuerMetadataInvalid("issuerOrigin must be a serialised origin")
    assert isinstance(origin, str)  # noqa: S101 - narrowed by is_serialised_origin
    pay_url = _url(obj.get("payUrl"), "payUrl")
    assert pay_url is not None  # noqa: S101 - not optional
    if origin_of_url(pay_url) != origin:
        raise IssuerMetadataInvalid("payUrl must be on the issuer origin")
    ocsp_url = _url(obj.get("ocspUrl"), "ocspUrl", optional=True)
    prefixes = obj.get("binPrefixes")
    if (
        not isinstance(prefixes, list)
        or not prefixes
        or not all(isinstance(p, str) and _PREFIX.fullmatch(p) for p in prefixes)
    ):
        raise IssuerMetadataInvalid("binPrefixes must list 1-8 digit prefixes")
    pem = obj.get("caCertificate")
    try:
        if not isinstance(pem, str):
            raise ValueError("not text")
        ca = x509.load_pem_x509_certificate(pem.encode("ascii"))
        _ = (ca.issuer, ca.subject)  # decoded lazily: a malformed name fails here
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise IssuerMetadataInvalid("caCertificate must be one PEM certificate") from exc
    if roots:
        try:
            ChainVerifier(roots).check_issuer_ca(ca.public_bytes(serialization.Encoding.DER))
        except CardcertError as exc:
            raise IssuerMetadataInvalid(
                f"the issuer CA does not validate under a configured network root ({exc.code})"
            ) from exc
    return IssuerInfo(
        name=name,
        origin=origin,
        ca_certificate=ca,
        bin_prefixes=tuple(dict.fromkeys(prefixes)),
        pay_url=pay_url,
        ocsp_url=ocsp_url,
        metadata=obj,
    )


def metadata_url_for(url: str) -> str:
    """An issuer origin becomes its well-known metadata URL; a full URL is kept."""
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return url.rstrip("/") + METADATA_PATH
    return url


async def fetch_issuer_metadata(
    session: aiohttp.ClientSession,
    url: str,
    *,
    roots: Sequence[x509.Certificate] = (),
    timeout: float = 5.0,
) -> IssuerInfo:
    """GET and check an issuer's metadata; the issuer origin must be the URL's origin.

    Raises:
        IssuerMetadataInvalid: ``issuer_metadata_invalid`` (also when unreachable).
    """
    url = metadata_url_for(url)
    if origin_of_url(url) is None:
        raise IssuerMetadataInvalid("the metadata URL must be https (or local http)")
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as response:
            if response.status != 200:
                raise IssuerMetadataInvalid(f"the metadata URL answered HTTP {response.status}")
            body = await response.content.read(_MAX_METADATA_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise IssuerMetadataInvalid("the metadata URL could not be fetched") from exc
    if len(body) > _MAX_METADATA_BYTES:
        raise IssuerMetadataInvalid("the issuer metadata is too large")
    info = parse_issuer_metadata(body, roots=roots)
    if info.origin != origin_of_url(url):
        raise IssuerMetadataInvalid("issuerOrigin is not the origin the metadata was fetched from")
    return info


def read_issuer_metadata_file(path: Path, *, roots: Sequence[x509.Certificate] = ()) -> IssuerInfo:
    """Read and check issuer metadata from a JSON file."""
    return parse_issuer_metadata(path.read_bytes(), roots=roots)


async def save_issuer(engine: AsyncEngine, info: IssuerInfo, *, source: str, now: datetime) -> None:
    """Insert or replace an issuer (by origin).

    Several workers starting together may save the same issuer at once. On PostgreSQL the
    writes of the directory take one transaction-level advisory lock, so they run one after
    the other: no insert race, and the BIN-clash check sees every committed issuer. On
    SQLite the database's single write lock orders them; the loser of an insert race there
    retries once, replacing the row the winner committed.

    Raises:
        IssuerMetadataInvalid: a BIN prefix is already claimed by another issuer.
    """
    try:
        await _replace_issuer(engine, info, source=source, now=now)
    except IntegrityError:
        await _replace_issuer(engine, info, source=source, now=now)


_DIRECTORY_LOCK = zlib.crc32(b"cardcert-merchant-issuer-directory")


async def _replace_issuer(
    engine: AsyncEngine, info: IssuerInfo, *, source: str, now: datetime
) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until this transaction ends; every directory write takes it first.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DIRECTORY_LOCK})
        rows = (
            await conn.execute(
                select(_ISSUERS.c.origin, _ISSUERS.c.bin_prefixes).where(
                    _ISSUERS.c.origin != info.origin
                )
            )
        ).all()
        for other_origin, other_prefixes in rows:
            clash = set(json.loads(other_prefixes)) & set(info.bin_prefixes)
            if clash:
                raise IssuerMetadataInvalid(
                    f"BIN prefix {sorted(clash)[0]} is already served by {other_origin}"
                )
        await conn.execute(delete(_ISSUERS).where(_ISSUERS.c.origin == info.origin))
        await conn.execute(
            _ISSUERS.insert().values(
                origin=info.origin,
                name=info.name,
                ca_certificate=info.metadata["caCertificate"],
                bin_prefixes=json.dumps(list(info.bin_prefixes)),
                pay_url=info.pay_url,
                ocsp_url=info.ocsp_url,
                metadata_json=json.dumps(info.metadata, sort_keys=True),
                source=source,
                updated_at=now,
            )
        )


async def load_issuers(engine: AsyncEngine) -> list[IssuerInfo]:
    """Every stored issuer (re-checked, without roots)."""
    async with engine.connect() as conn:
        documents = (await conn.execute(select(_ISSUERS.c.metadata_json))).scalars().all()
    return [parse_issuer_metadata(document) for document in documents]


class IssuerDirectory:
    """A per-process snapshot of ``merchant_issuers`` for BIN lookups, refreshed when old."""

    def __init__(self, engine: AsyncEngine, *, refresh_seconds: float = 5.0) -> None:
        self._engine = engine
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._by_prefix: dict[str, IssuerInfo] = {}
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        issuers = await load_issuers(self._engine)
        self._by_prefix = {prefix: info for info in issuers for prefix in info.bin_prefixes}
        self._loaded_at = time.monotonic()

    async def lookup(self, bin_digits: str) -> IssuerInfo | None:
        """The issuer with the longest BIN prefix of ``bin_digits``, or None."""
        if time.monotonic() - self._loaded_at > self._refresh:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self._refresh:
                    await self.reload()
        for length in range(min(len(bin_digits), 8), 0, -1):
            info = self._by_prefix.get(bin_digits[:length])
            if info is not None:
                return info
        return None
