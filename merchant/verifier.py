"""The merchant's verifier: the pure core plus the two stateful checks (nonce, status).

This is the library entry point for merchants and PSPs who embed verification in their own
service rather than running ``python -m merchant serve``::

    chains = MemoizingChainVerifier(roots)                   # once, at start-up
    status = StatusResolver(session=..., max_age=..., ...)    # once, at start-up
    verifier = Verifier(chain_verifier=chains, status=status, policy=VerificationPolicy())
    ...
    outcome = await verifier.verify(
        expected=ExpectedTransaction(...),   # from your checkout record
        presentation=form["presentation"],   # as the browser posted it
        card_data=CardData.parse(...),        # as the shopper typed it
        ledger=your_ledger,                  # CheckoutLedger over your database
        now=datetime.now(UTC),
    )

Per request it does: parse the presentation once; validate the path once (the
:class:`MemoizingChainVerifier` hands the same result to the core); find the revocation
status (stapled, cached or live); run :func:`certs.verification.verify_presentation`;
then settle the nonce through the ledger. The ledger is asked first whether the nonce is
unused (a read), and only a verdict that *should* consume the nonce writes: atomically,
"consume if unused and unexpired". So garbage cannot burn a checkout's nonce, and of many
concurrent valid submissions exactly one is ``authenticated``.

Which failures consume the nonce (and end the checkout as ``failed``)? Only those that
the cardholder's key is behind: the signature verified with a validly chained key over a
transaction naming *this* checkout id and nonce (e.g. ``card_data_mismatch``,
``amount_mismatch``, ``origin_mismatch``, ``signing_time_out_of_window``), or a revoked
certificate whose presentation otherwise verifies. Failures anyone could produce without
that key (malformed input, a bad signature, another checkout's nonce, an untrusted chain)
are answered and recorded as evidence but leave the checkout pending.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from cryptography import x509

from certs.card_data import CardData
from certs.chain import ChainVerifier, VerifiedChain
from certs.errors import (
    CardcertError,
    CertificateRevoked,
    MalformedPresentation,
    NonceReplayed,
    RevocationError,
    StatusUnavailable,
)
from certs.presentation import Presentation
from certs.revocation import CertStatus, RevocationStatus
from certs.verification import VerificationPolicy, VerifiedPresentation, verify_presentation
from certs.wire import b64url_encode
from merchant.evidence import EvidenceContext, build_evidence
from merchant.status import ResolvedStatus, StatusResolver
from merchant.verdict import Verdict, VerdictResult, liability_shift

__all__ = [
    "ATTRIBUTABLE_CODES",
    "CheckoutLedger",
    "Evaluation",
    "ExpectedTransaction",
    "MemoizingChainVerifier",
    "Outcome",
    "Verifier",
    "new_evidence_id",
]

# Codes the core raises only after the signature has verified (certs.verification order).
ATTRIBUTABLE_CODES = frozenset(
    {
        "origin_mismatch",
        "merchant_name_mismatch",
        "currency_mismatch",
        "amount_mismatch",
        "checkout_id_mismatch",
        "nonce_mismatch",
        "confirmation_not_accepted",
        "signing_time_out_of_window",
        "nonce_replayed",
        "card_data_mismatch",
        "digest_algorithm_unsupported",
        "presentation_malformed",
    }
)


def _parse_presentation(presentation: object) -> Presentation:
    if isinstance(presentation, Presentation):
        return presentation
    if isinstance(presentation, bytes | str | dict):
        return Presentation.parse(presentation)
    raise MalformedPresentation("the presentation is missing or not a JSON object")


def new_evidence_id() -> str:
    return "ev_" + b64url_encode(secrets.token_bytes(16))


class MemoizingChainVerifier(ChainVerifier):
    """A :class:`ChainVerifier` that remembers its most recent results.

    The merchant validates the path before it fetches a status (the OCSP URL must come from
    a validated certificate); the core then validates the same path again. This subclass
    returns the remembered result when called again with the very same chain object and
    the same ``now``, so a request validates its path once. Entries are keyed by the
    chain object's identity and hold a reference to it, so no other chain can share that
    identity while the entry lives; a handful of entries cover the requests interleaved
    at ``await`` points (a live OCSP fetch) between the two calls.
    """

    _MEMO_SIZE = 256

    def __init__(self, roots: Sequence[x509.Certificate]) -> None:
        super().__init__(roots)
        self._memo: OrderedDict[tuple[int, datetime], tuple[Sequence[bytes], VerifiedChain]] = (
            OrderedDict()
        )

    def verify(self, chain: Sequence[bytes], *, now: datetime) -> VerifiedChain:
        key = (id(chain), now)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is chain:
            return hit[1]
        result = super().verify(chain, now=now)
        self._memo[key] = (chain, result)
        while len(self._memo) > self._MEMO_SIZE:
            self._memo.popitem(last=False)
        return result


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedTransaction:
    """What the merchant expects to find signed, taken from its checkout record."""

    checkout_id: str
    nonce: str
    origin: str
    merchant_name: str | None
    amount: str
    currency: str

    def to_json(self) -> dict[str, Any]:
        return {
            "checkoutId": self.checkout_id,
            "nonce": self.nonce,
            "origin": self.origin,
            "merchantName": self.merchant_name,
            "amount": self.amount,
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """Everything one verification attempt found out (the input of the evidence record)."""

    verdict: Verdict
    expected: ExpectedTransaction
    now: datetime
    policy: VerificationPolicy
    presentation: Presentation | None
    chain: VerifiedChain | None
    resolved: ResolvedStatus | None
    verified: VerifiedPresentation | None
    nonce_unused: bool
    attributable: bool
    card_data_checked: bool

    @property
    def consumes_nonce(self) -> bool:
        """Authenticated, or failed with the cardholder's key behind the failure."""
        return self.verdict.result is VerdictResult.AUTHENTICATED or (
            self.verdict.result is VerdictResult.FAILED and self.attributable
        )

    @property
    def revocation(self) -> RevocationStatus:
        return RevocationStatus.unavailable() if self.resolved is None else self.resolved.status

    def as_replayed(self) -> Evaluation:
        """This attempt lost the race to consume the nonce: ``nonce_replayed``."""
        return replace(
            self,
            verdict=replace(
                self.verdict,
                result=VerdictResult.FAILED,
                code=NonceReplayed.code,
                liability_shift=False,
            ),
            verified=None,
            nonce_unused=False,
            attributable=False,
            card_data_checked=False,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A settled verification: the evaluation and the evidence that records it."""

    evaluation: Evaluation
    evidence_id: str
    evidence: str
    settled: bool

    @property
    def verdict(self) -> Verdict:
        return self.evaluation.verdict


class CheckoutLedger(Protocol):
    """The checkout state a :class:`Verifier` reads and writes (your database)."""

    async def nonce_unused(self, expected: ExpectedTransaction, now: datetime) -> bool:
        """Whether the checkout's nonce is unused and unexpired at ``now`` (a read)."""

    async def settle(self, evaluation: Evaluation, evidence_id: str, evidence: str) -> bool:
        """Atomically consume the nonce (if unused and unexpired), store the verdict and the
        evidence; return False (and change nothing) if the nonce was already gone."""

    async def record(self, evaluation: Evaluation, evidence_id: str, evidence: str) -> None:
        """Store the evidence of a verdict that does not consume the nonce."""


EvidenceBuilder = Callable[[Evaluation, str], str]


class Verifier:
    """Verifies presentations for checkouts. Build one at start-up, call it per request."""

    def __init__(
        self,
        *,
        chain_verifier: ChainVerifier,
        status: StatusResolver,
        policy: VerificationPolicy,
        evidence_builder: EvidenceBuilder | None = None,
    ) -> None:
        self._chains = chain_verifier
        self._status = status
        self._policy = policy
        self._soft_policy = replace(policy, require_revocation_status=False)
        if evidence_builder is None:
            context = EvidenceContext(max_status_age=status.max_age)

            def evidence_builder(evaluation: Evaluation, evidence_id: str) -> str:
                return build_evidence(evaluation, evidence_id=evidence_id, context=context)

        self._build_evidence = evidence_builder

    @property
    def policy(self) -> VerificationPolicy:
        return self._policy

    @property
    def chain_verifier(self) -> ChainVerifier:
        return self._chains

    def _verdict(
        self,
        result: VerdictResult,
        code: str | None,
        *,
        presentation: Presentation | None,
        resolved: ResolvedStatus | None,
    ) -> Verdict:
        revocation = RevocationStatus.unavailable() if resolved is None else resolved.status
        confirmation = None if presentation is None else presentation.transaction.confirmation
        return Verdict(
            result=result,
            code=code,
            liability_shift=liability_shift(
                result=result,
                revocation=revocation,
                confirmation=confirmation,
                policy=self._policy,
            ),
            confirmation=confirmation,
            revocation_checked=revocation.status in (CertStatus.GOOD, CertStatus.REVOKED),
            revocation_source=revocation.source,
        )

    @staticmethod
    def _is_attributable(
        error: CardcertError, presentation: Presentation, expected: ExpectedTransaction
    ) -> bool:
        transaction = presentation.transaction
        return (
            error.code in ATTRIBUTABLE_CODES
            and transaction.checkout_id == expected.checkout_id
            and hmac.compare_digest(transaction.nonce.encode(), expected.nonce.encode())
        )

    def _core(
        self,
        *,
        presentation: Presentation,
        expected: ExpectedTransaction,
        card_data: CardData,
        revocation: RevocationStatus,
        nonce_unused: bool,
        now: datetime,
        policy: VerificationPolicy,
    ) -> VerifiedPresentation:
        return verify_presentation(
            presentation=presentation,
            expected_origin=expected.origin,
            expected_amount=expected.amount,
            expected_currency=expected.currency,
            expected_checkout_id=expected.checkout_id,
            expected_nonce=expected.nonce,
            expected_merchant_name=expected.merchant_name,
            card_data=card_data,
            chain_verifier=self._chains,
            revocation=revocation,
            nonce_unused=nonce_unused,
            now=now,
            policy=policy,
        )

    async def evaluate(
        self,
        *,
        expected: ExpectedTransaction,
        presentation: object,
        card_data: CardData,
        nonce_unused: bool,
        now: datetime,
    ) -> Evaluation:
        """Run every check (no database): parse, path, status, core. Never raises a
        :class:`CardcertError`; failures become ``failed``/``unavailable`` verdicts."""
        parsed: Presentation | None = None
        chain: VerifiedChain | None = None
        resolved: ResolvedStatus | None = None

        def finish(
            result: VerdictResult,
            code: str | None,
            *,
            verified: VerifiedPresentation | None = None,
            attributable: bool = False,
            card_checked: bool = False,
        ) -> Evaluation:
            return Evaluation(
                verdict=self._verdict(result, code, presentation=parsed, resolved=resolved),
                expected=expected,
                now=now,
                policy=self._policy,
                presentation=parsed,
                chain=chain,
                resolved=resolved,
                verified=verified,
                nonce_unused=nonce_unused,
                attributable=attributable,
                card_data_checked=card_checked,
            )

        try:
            parsed = _parse_presentation(presentation)
            chain = self._chains.verify(parsed.certificate_chain, now=now)
        except CardcertError as error:
            return finish(VerdictResult.FAILED, error.code)
        resolved = await self._status.resolve(parsed.status, chain, now)
        try:
            verified = self._core(
                presentation=parsed,
                expected=expected,
                card_data=card_data,
                revocation=resolved.status,
                nonce_unused=nonce_unused,
                now=now,
                policy=self._policy,
            )
        except RevocationError as error:
            # What would the rest of the checks say? Decides the code and who is behind it.
            try:
                self._core(
                    presentation=parsed,
                    expected=expected,
                    card_data=card_data,
                    revocation=RevocationStatus.unavailable(),
                    nonce_unused=nonce_unused,
                    now=now,
                    policy=self._soft_policy,
                )
                rest: CardcertError | None = None
            except CardcertError as other:
                rest = other
            if isinstance(error, StatusUnavailable):
                if rest is None:
                    return finish(
                        VerdictResult.UNAVAILABLE, error.code, attributable=True, card_checked=True
                    )
                return finish(
                    VerdictResult.FAILED,
                    rest.code,
                    attributable=self._is_attributable(rest, parsed, expected),
                    card_checked=rest.code == "card_data_mismatch",
                )
            attributable = rest is None or self._is_attributable(rest, parsed, expected)
            return finish(
                VerdictResult.FAILED,
                error.code,
                attributable=attributable and isinstance(error, CertificateRevoked),
            )
        except CardcertError as error:
            return finish(
                VerdictResult.FAILED,
                error.code,
                attributable=self._is_attributable(error, parsed, expected),
                card_checked=error.code == "card_data_mismatch",
            )
        return finish(VerdictResult.AUTHENTICATED, None, verified=verified, card_checked=True)

    async def verify(
        self,
        *,
        expected: ExpectedTransaction,
        presentation: object,
        card_data: CardData,
        ledger: CheckoutLedger,
        now: datetime,
    ) -> Outcome:
        """Peek the nonce, evaluate, then settle (consume) or record through ``ledger``."""
        nonce_unused = await ledger.nonce_unused(expected, now)
        evaluation = await self.evaluate(
            expected=expected,
            presentation=presentation,
            card_data=card_data,
            nonce_unused=nonce_unused,
            now=now,
        )
        evidence_id = new_evidence_id()
        evidence = self._build_evidence(evaluation, evidence_id)
        if not evaluation.consumes_nonce:
            await ledger.record(evaluation, evidence_id, evidence)
            return Outcome(
                evaluation=evaluation, evidence_id=evidence_id, evidence=evidence, settled=False
            )
        if await ledger.settle(evaluation, evidence_id, evidence):
            return Outcome(
                evaluation=evaluation, evidence_id=evidence_id, evidence=evidence, settled=True
            )
        # Another submission consumed the nonce first (or it expired meanwhile).
        replayed = evaluation.as_replayed()
        evidence_id = new_evidence_id()
        evidence = self._build_evidence(replayed, evidence_id)
        await ledger.record(replayed, evidence_id, evidence)
        return Outcome(
            evaluation=replayed, evidence_id=evidence_id, evidence=evidence, settled=False
        )
