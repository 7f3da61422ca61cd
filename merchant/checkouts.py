"""Checkouts: creation (API and demo shop share it), verification, cancellation, status.

The HTTP handlers (:mod:`merchant.api`, :mod:`merchant.shop`) parse requests and render
responses; everything between, including the single code path that creates a checkout for
both the JSON API and the demo shop, is here.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from certs.canonical_json import canonical_json
from certs.card_data import CardData, CardExpiry
from certs.errors import CardcertError
from certs.money import is_canonical_amount, is_currency
from certs.origin import origin_of_url
from certs.wire import b64url_encode
from merchant.card_vault import CardVault
from merchant.errors import (
    AmountInvalid,
    CardDataUnavailable,
    CardHintInvalid,
    CurrencyInvalid,
    IdempotencyKeyReused,
    IssuerNotParticipating,
    ReturnUrlNotAllowed,
)
from merchant.issuer_directory import IssuerDirectory
from merchant.metrics import MerchantMetrics
from merchant.models import CheckoutState
from merchant.settings import Settings
from merchant.store import (
    CheckoutView,
    EvidenceRow,
    IdempotencyConflict,
    MerchantView,
    Store,
    VerdictUpdate,
)
from merchant.verdict import VerdictResult
from merchant.verifier import Evaluation, ExpectedTransaction, Outcome, Verifier
from servicekit.errors import BadRequest

__all__ = [
    "CheckoutRequest",
    "CheckoutService",
    "parse_card_data",
    "parse_checkout_request",
]

_BIN = re.compile(r"[0-9]{6,8}")
_LAST4 = re.compile(r"[0-9]{4}")
_DISPLAYS = ("redirect", "popup")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Handed to the core only when the nonce is already known to be used or expired: the core
# then stops at the nonce check, before card data, so these values are never looked at.
_NEVER_CHECKED = CardData(pan="", expiry=CardExpiry(year=2000, month=1), security_code="")


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CheckoutRequest:
    """A validated checkout request (the ``POST /v1/checkouts`` body, or the shop form)."""

    amount: str
    currency: str
    order_reference: str | None
    return_url: str
    origin: str
    card_bin: str
    card_last4: str
    card_data: CardData | None
    display: str

    def __repr__(self) -> str:
        return f"CheckoutRequest(amount={self.amount!r}, currency={self.currency!r})"


def parse_card_data(value: object) -> CardData:
    """``{"pan", "expiry", "securityCode", "name"}`` as typed.

    Raises:
        BadRequest: ``request_malformed`` (shape).
        CardDataError: ``pan_invalid``, ``expiry_invalid``, ``security_code_invalid``,
            ``name_invalid``.
    """
    if not isinstance(value, dict) or not {"pan", "expiry", "securityCode"} <= set(value):
        raise BadRequest("cardData must hold pan, expiry and securityCode")
    name = value.get("name")
    return CardData.parse(
        pan=value["pan"],
        expiry=value["expiry"],
        security_code=value["securityCode"],
        name=name if isinstance(name, str) else None,
    )


def parse_checkout_request(body: dict[str, Any], merchant: MerchantView) -> CheckoutRequest:
    """Validate a checkout request for ``merchant``.

    Raises:
        CurrencyInvalid, AmountInvalid, ReturnUrlNotAllowed, CardHintInvalid, BadRequest,
        CardDataError.
    """
    currency = body.get("currency")
    if not is_currency(currency):
        raise CurrencyInvalid()
    assert isinstance(currency, str)  # noqa: S101 - narrowed by is_currency
    amount = body.get("amount")
    if not is_canonical_amount(amount, currency):
        raise AmountInvalid()
    assert isinstance(amount, str)  # noqa: S101 - narrowed by is_canonical_amount
    reference = body.get("orderReference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 128):
        raise BadRequest("orderReference must be a string of at most 128 characters")
    return_url = body.get("returnUrl")
    origin = origin_of_url(return_url) if isinstance(return_url, str) else None
    if origin is None or origin not in merchant.allowed_origins:
        raise ReturnUrlNotAllowed()
    assert isinstance(return_url, str)  # noqa: S101 - origin_of_url accepted it
    card_data = parse_card_data(body["cardData"]) if body.get("cardData") is not None else None
    hint = body.get("card")
    if hint is None and card_data is not None:
        hint = {"bin": card_data.bin, "last4": card_data.last4}
    if (
        not isinstance(hint, dict)
        or not isinstance(hint.get("bin"), str)
        or not _BIN.fullmatch(hint["bin"])
        or not isinstance(hint.get("last4"), str)
        or not _LAST4.fullmatch(hint["last4"])
    ):
        raise CardHintInvalid()
    if card_data is not None and (
        not card_data.pan.startswith(hint["bin"]) or card_data.last4 != hint["last4"]
    ):
        raise CardHintInvalid()
    display = body.get("display", "redirect")
    if display not in _DISPLAYS:
        raise BadRequest("display must be redirect or popup")
    return CheckoutRequest(
        amount=amount,
        currency=currency,
        order_reference=reference,
        return_url=return_url,
        origin=origin,
        card_bin=hint["bin"],
        card_last4=hint["last4"],
        card_data=card_data,
        display=display,
    )


def _time(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


class _StoreLedger:
    """The :class:`merchant.verifier.CheckoutLedger` of one loaded checkout row."""

    def __init__(self, store: Store, checkout: CheckoutView) -> None:
        self._store = store
        self._checkout = checkout

    async def nonce_unused(self, expected: ExpectedTransaction, now: datetime) -> bool:
        return self._checkout.nonce_unused(now)  # the row was just read: the peek

    def _evidence(self, evaluation: Evaluation, evidence_id: str, evidence: str) -> EvidenceRow:
        return EvidenceRow(
            id=evidence_id,
            checkout_id=self._checkout.id,
            merchant_id=self._checkout.merchant_id,
            result=str(evaluation.verdict.result),
            code=evaluation.verdict.code,
            document=evidence,
        )

    @staticmethod
    def _update(evaluation: Evaluation, state: str) -> VerdictUpdate:
        verdict = evaluation.verdict
        return VerdictUpdate(
            state=state,
            result=str(verdict.result),
            code=verdict.code,
            liability_shift=verdict.liability_shift,
            confirmation=None if verdict.confirmation is None else str(verdict.confirmation),
            revocation_source=str(verdict.revocation_source),
            revocation_checked=verdict.revocation_checked,
        )

    async def settle(self, evaluation: Evaluation, evidence_id: str, evidence: str) -> bool:
        state = (
            CheckoutState.AUTHENTICATED
            if evaluation.verdict.result is VerdictResult.AUTHENTICATED
            else CheckoutState.FAILED
        )
        return await self._store.settle(
            checkout_id=self._checkout.id,
            verdict=self._update(evaluation, state.value),
            evidence=self._evidence(evaluation, evidence_id, evidence),
            now=evaluation.now,
        )

    async def record(self, evaluation: Evaluation, evidence_id: str, evidence: str) -> None:
        unavailable = (
            evaluation.verdict.result is VerdictResult.UNAVAILABLE and evaluation.attributable
        )
        await self._store.record(
            checkout_id=self._checkout.id,
            evidence=self._evidence(evaluation, evidence_id, evidence),
            now=evaluation.now,
            verdict=self._update(evaluation, CheckoutState.UNAVAILABLE.value)
            if unavailable
            else None,
        )


class CheckoutService:
    """Creates, verifies, cancels and describes checkouts. One per process."""

    def __init__(
        self,
        *,
        store: Store,
        directory: IssuerDirectory,
        vault: CardVault,
        verifier: Verifier,
        settings: Settings,
        metrics: MerchantMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.directory = directory
        self.vault = vault
        self.verifier = verifier
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    # --- creation --------------------------------------------------------------------

    def request_fingerprint(self, body: dict[str, Any]) -> str:
        """A keyed hash of the request body's canonical JSON (it may hold card data)."""
        try:
            canonical = canonical_json(body)
        except Exception as exc:  # rfc8785 rejects e.g. integers beyond 2**53
            raise BadRequest("the request body cannot be canonicalised") from exc
        return self.vault.keyed_hash(canonical)

    async def create_from_body(
        self, merchant: MerchantView, body: dict[str, Any], *, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any], bool]:
        """``POST /v1/checkouts``: ``(status, body, replayed)``.

        An earlier answer for the same key is looked up *before* the body is validated, so
        a reused key with a different body is always ``idempotency_key_reused``.
        """
        request_hash = None
        if idempotency_key is not None:
            if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
                raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters")
            request_hash = self.request_fingerprint(body)
            existing = await self.store.idempotency_record(merchant.id, idempotency_key)
            if existing is not None:
                return (*self._replay(existing, request_hash), True)
        try:
            request = parse_checkout_request(body, merchant)
        except CardcertError as error:
            self.metrics.checkout_rejections.inc(error.code)
            raise
        return await self.create(
            merchant, request, idempotency_key=idempotency_key, request_hash=request_hash
        )

    async def create(
        self,
        merchant: MerchantView,
        request: CheckoutRequest,
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[int, dict[str, Any], bool]:
        """Create a checkout; with an idempotency key, replay or refuse a repeated request.

        Returns:
            ``(HTTP status, response body, replayed)``.

        Raises:
            IssuerNotParticipating: ``issuer_not_participating``.
            IdempotencyKeyReused: ``idempotency_key_reused``.
        """
        issuer = await self.directory.lookup(request.card_bin)
        if issuer is None:
            self.metrics.checkout_rejections.inc(IssuerNotParticipating.code)
            raise IssuerNotParticipating()
        now = self.clock()
        checkout_id = "co_" + b64url_encode(secrets.token_bytes(16))
        nonce = b64url_encode(secrets.token_bytes(32))  # 256 bits, single use
        expires_at = now + self.settings.nonce_ttl
        transaction_request = {
            "version": 1,
            "merchantName": merchant.name,
            "amount": request.amount,
            "currency": request.currency,
            "checkoutId": checkout_id,
            "nonce": nonce,
            "returnUrl": request.return_url,
            "cardHint": {"bin": request.card_bin, "last4": request.card_last4},
            "display": request.display,
        }
        encoded = b64url_encode(
            json.dumps(transaction_request, separators=(",", ":"), ensure_ascii=False).encode()
        )
        separator = "&" if "?" in issuer.pay_url else "?"
        response = {
            "checkoutId": checkout_id,
            "state": CheckoutState.PENDING.value,
            "nonce": nonce,
            "expiresAt": _time(expires_at),
            "transactionRequest": transaction_request,
            "payUrl": issuer.pay_url,
            "redirectUrl": f"{issuer.pay_url}{separator}request={encoded}",
            "issuer": {"name": issuer.name, "origin": issuer.origin},
        }
        values = {
            "id": checkout_id,
            "merchant_id": merchant.id,
            "merchant_name": merchant.name,
            "order_reference": request.order_reference,
            "amount": request.amount,
            "currency": request.currency,
            "return_url": request.return_url,
            "origin": request.origin,
            "nonce": nonce,
            "card_bin": request.card_bin,
            "card_last4": request.card_last4,
            "issuer_origin": issuer.origin,
            "display": request.display,
            "state": CheckoutState.PENDING.value,
            "created_at": now,
            "expires_at": expires_at,
            "card_data": None
            if request.card_data is None
            else self.vault.seal(request.card_data, checkout_id=checkout_id),
            "attempts": 0,
        }
        idempotency = (
            None
            if idempotency_key is None or request_hash is None
            else (idempotency_key, request_hash, 201, json.dumps(response))
        )
        try:
            await self.store.insert_checkout(values, idempotency=idempotency, now=now)
        except IdempotencyConflict as existing:
            return (*self._replay(existing, request_hash), True)
        self.metrics.checkouts.inc(issuer.origin)
        return 201, response, False

    @staticmethod
    def _replay(
        existing: IdempotencyConflict, request_hash: str | None
    ) -> tuple[int, dict[str, Any]]:
        if request_hash is None or existing.request_hash != request_hash:
            raise IdempotencyKeyReused()
        body: dict[str, Any] = json.loads(existing.response)
        return existing.status, body

    # --- verification ----------------------------------------------------------------

    async def verify(
        self,
        checkout: CheckoutView,
        presentation: object,
        card_data: CardData | None,
    ) -> Outcome:
        """Verify a presentation for a loaded checkout (API and browser return share this).

        Raises:
            CardDataUnavailable: ``card_data_unavailable``: none sent, none stored.
        """
        started = time.perf_counter()
        now = self.clock()
        if card_data is None:
            if checkout.card_data is not None and checkout.nonce_unused(now):
                card_data = self.vault.open(checkout.card_data, checkout_id=checkout.id)
            elif checkout.nonce_unused(now):
                raise CardDataUnavailable()
            else:
                card_data = _NEVER_CHECKED
        expected = ExpectedTransaction(
            checkout_id=checkout.id,
            nonce=checkout.nonce,
            origin=checkout.origin,
            merchant_name=checkout.merchant_name,
            amount=checkout.amount,
            currency=checkout.currency,
        )
        outcome = await self.verifier.verify(
            expected=expected,
            presentation=presentation,
            card_data=card_data,
            ledger=_StoreLedger(self.store, checkout),
            now=now,
        )
        if checkout.current_state(now) == CheckoutState.EXPIRED and checkout.state != "expired":
            await self.expire_one(checkout, now)
        verdict = outcome.verdict
        self.metrics.verifications.inc(str(verdict.result), verdict.code or "")
        self.metrics.verification_seconds.observe(
            time.perf_counter() - started, str(verdict.result)
        )
        resolved = outcome.evaluation.resolved
        if resolved is not None:
            self.metrics.revocation.inc(str(resolved.staple), str(resolved.live))
        return outcome

    async def expire_one(self, checkout: CheckoutView, now: datetime) -> None:
        if await self.store.expire(now, checkout.id):
            self.metrics.expired.inc()

    async def sweep(self) -> int:
        """Expire due checkouts and forget day-old idempotency records."""
        now = self.clock()
        expired = await self.store.expire(now)
        if expired:
            self.metrics.expired.inc(amount=expired)
        await self.store.forget_idempotency(now - timedelta(hours=24))
        return expired

    async def cancel(self, checkout: CheckoutView) -> bool:
        return await self.store.cancel(checkout.id, self.clock())

    # --- descriptions ----------------------------------------------------------------

    def describe(self, checkout: CheckoutView) -> dict[str, Any]:
        """``GET /v1/checkouts/{id}``: state, and the verdict once one is reached."""
        now = self.clock()
        verdict = None
        if checkout.verdict_result is not None:
            verdict = {
                "result": checkout.verdict_result,
                "code": checkout.verdict_code,
                "liabilityShift": bool(checkout.liability_shift),
                "evidenceId": checkout.evidence_id,
                "confirmation": checkout.confirmation,
                "revocationChecked": bool(checkout.revocation_checked),
                "revocationSource": checkout.revocation_source,
            }
        return {
            "checkoutId": checkout.id,
            "state": checkout.current_state(now),
            "amount": checkout.amount,
            "currency": checkout.currency,
            "orderReference": checkout.order_reference,
            "createdAt": _time(checkout.created_at),
            "expiresAt": _time(checkout.expires_at),
            "verifiedAt": _time(checkout.verified_at),
            "verdict": verdict,
        }

    async def describe_outcome(self, checkout: CheckoutView, outcome: Outcome) -> dict[str, Any]:
        """The answer to one verification attempt: the attempt's verdict and the state."""
        evaluation = outcome.evaluation
        if (
            not outcome.settled
            and evaluation.verdict.code == "nonce_replayed"
            and checkout.state in ("pending", "unavailable")
        ):
            # Lost a race to a concurrent submission: report the state it left behind.
            checkout = await self.store.checkout(checkout.id) or checkout
        verdict = evaluation.verdict
        if outcome.settled:
            state = (
                CheckoutState.AUTHENTICATED.value
                if verdict.result is VerdictResult.AUTHENTICATED
                else CheckoutState.FAILED.value
            )
        elif verdict.result is VerdictResult.UNAVAILABLE and evaluation.attributable:
            state = CheckoutState.UNAVAILABLE.value
        else:
            state = checkout.current_state(evaluation.now)
        return {
            "checkoutId": checkout.id,
            "state": state,
            "verdict": verdict.to_json(outcome.evidence_id),
        }
