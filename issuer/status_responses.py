"""Revocation status as served: OCSP responses (live and stapled) and the CRL.

Every request reads the certificate's current state from the database, so a revocation
committed by any worker shows at once; :class:`~issuer.status_cache.StatusCache` only
saves re-signing an answer for an unchanged state (module docstring there). Requests with
a nonce are always signed afresh (the nonce is part of the signed response).
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from sqlalchemy import Select, bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from issuer.crl import RevokedEntry, build_crl
from issuer.migrations import COUNTER_CRL_NUMBER, COUNTER_REVOCATIONS
from issuer.minting import serial_hex
from issuer.models import CertificateRecord, CertificateStatus, CounterRecord, CrlRecord
from issuer.ocsp_responder import CertificateState
from issuer.resources import IssuerResources
from issuer.revocation_reasons import RevocationReason
from issuer.status_cache import CachedCrl, StatusCache

__all__ = [
    "current_crl",
    "signed_status",
    "state_of",
    "state_of_fingerprint",
    "state_of_serial",
]

_UNKNOWN = CertificateState(status=ocsp.OCSPCertStatus.UNKNOWN)


def _state(status: str, revoked_at: datetime | None, reason: str | None) -> CertificateState:
    if status == CertificateStatus.GOOD:
        return CertificateState(status=ocsp.OCSPCertStatus.GOOD)
    return CertificateState(
        status=ocsp.OCSPCertStatus.REVOKED,
        revoked_at=revoked_at,
        reason=RevocationReason.parse(reason).flag,
    )


def state_of(record: CertificateRecord) -> CertificateState:
    """The OCSP view of a certificate row: superseded and revoked both answer ``revoked``."""
    return _state(record.status, record.revoked_at, record.revocation_reason)


# The hot path (every OCSP request and staple refresh) reads four columns with a Core
# statement, built once, on a plain connection: no ORM session, no certificate DER. On
# SQLite it runs inline on the event loop's thread (IssuerResources.inline).
_STATE_COLUMNS = (
    col(CertificateRecord.serial),
    col(CertificateRecord.status),
    col(CertificateRecord.revoked_at),
    col(CertificateRecord.revocation_reason),
)
_StateQuery = Select[str, str, datetime | None, str | None]
_BY_SERIAL: _StateQuery = sa_select(*_STATE_COLUMNS).where(
    col(CertificateRecord.serial) == bindparam("p_serial")
)
_BY_FINGERPRINT: _StateQuery = sa_select(*_STATE_COLUMNS).where(
    col(CertificateRecord.fingerprint) == bindparam("p_fingerprint")
)


async def _lookup(
    res: IssuerResources, statement: _StateQuery, parameters: dict[str, str]
) -> tuple[int, CertificateState] | None:
    async with res.sql.read() as conn:
        row = (await conn.execute(statement, parameters)).first()
    if row is None:
        return None
    serial, status, revoked_at, reason = row
    return int(serial, 16), _state(status, revoked_at, reason)


async def state_of_serial(res: IssuerResources, serial_number: int) -> CertificateState:
    """The state of a serial number this CA may have issued (``unknown`` if it did not)."""
    if not 0 < serial_number < 1 << 160:
        return _UNKNOWN
    found = await _lookup(res, _BY_SERIAL, {"p_serial": serial_hex(serial_number)})
    return _UNKNOWN if found is None else found[1]


async def state_of_fingerprint(
    res: IssuerResources, fingerprint: str
) -> tuple[int, CertificateState] | None:
    """Serial number and state of the certificate with this fingerprint, if this CA made it."""
    return await _lookup(res, _BY_FINGERPRINT, {"p_fingerprint": fingerprint})


def signed_status(
    res: IssuerResources,
    cache: StatusCache,
    *,
    serial_number: int,
    state: CertificateState,
    now: datetime,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """A signed OCSP response for ``state``, reused from ``cache`` when still fresh."""
    algorithm = algorithm or hashes.SHA256()
    key = (serial_number, algorithm.name, state.cache_key)
    if nonce is None:
        cached = cache.get(key)
        if cached is not None:
            res.metrics.status_cache.inc("hit")
            return cached
    der = res.responder.respond(
        serial_number=serial_number, state=state, now=now, algorithm=algorithm, nonce=nonce
    )
    res.metrics.status_cache.inc("signed")
    if nonce is None:
        cache.put(key, der)
    return der


async def current_crl(res: IssuerResources, cached: CachedCrl, *, now: datetime) -> bytes:
    """The newest CRL if it reflects every revocation and is recent; else a new one."""
    settings = res.settings
    async with res.session() as session:
        revision = await _counter(session, COUNTER_REVOCATIONS)
        latest = (
            await session.exec(
                select(CrlRecord.number, CrlRecord.revision, CrlRecord.this_update)
                .order_by(col(CrlRecord.number).desc())
                .limit(1)
            )
        ).first()
        if latest is not None:
            number, latest_revision, this_update = latest
            if (
                latest_revision == revision
                and (now - this_update).total_seconds() < settings.crl_refresh
                and this_update <= now
            ):
                if cached.number != number:
                    der = (
                        await session.exec(
                            select(CrlRecord.der).where(col(CrlRecord.number) == number)
                        )
                    ).one()
                    cached.number, cached.der = number, der
                return cached.der
    async with res.session() as session, session.begin():
        number = await _next_crl_number(session)
        # Read the revision before the entries: a revocation committed in between makes
        # the CRL newer than its label (re-signed next time), never older.
        revision = await _counter(session, COUNTER_REVOCATIONS)
        rows = (
            await session.exec(
                select(
                    CertificateRecord.serial,
                    CertificateRecord.revoked_at,
                    CertificateRecord.revocation_reason,
                ).where(
                    col(CertificateRecord.status) != CertificateStatus.GOOD,
                    col(CertificateRecord.not_after) > now,
                )
            )
        ).all()
        entries = [
            RevokedEntry(
                serial_number=int(serial, 16),
                revoked_at=revoked_at or now,
                reason=RevocationReason.parse(reason).flag,
            )
            for serial, revoked_at, reason in rows
        ]
        der = build_crl(res.pki, entries, number=number, now=now, validity=settings.crl_validity)
        session.add(
            CrlRecord(
                number=number,
                revision=revision,
                this_update=now,
                next_update=now + settings.crl_validity,
                der=der,
            )
        )
    res.metrics.crls_signed.inc()
    cached.number, cached.der = number, der
    return der


async def _counter(session: AsyncSession, name: str) -> int:
    value = (
        await session.exec(select(CounterRecord.value).where(col(CounterRecord.name) == name))
    ).one()
    return int(value)


async def _next_crl_number(session: AsyncSession) -> int:
    result = await session.exec(
        update(CounterRecord)
        .where(col(CounterRecord.name) == COUNTER_CRL_NUMBER)
        .values(value=col(CounterRecord.value) + 1)
        .returning(col(CounterRecord.value))
    )
    return int(result.scalar_one())
