"""The pure verification core: a presentation in, a verdict out (docs/protocol.md, 9).

No I/O: the caller supplies the trust roots (a :class:`~certs.chain.ChainVerifier` built
once), the revocation status (stapled or fetched, read by
:func:`certs.revocation.read_ocsp_response`), whether the nonce is still unused (from its
database), the card data the shopper typed, and the clock. Checks run in the documented
order and the first failure raises its error; success returns a frozen result.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from certs.card_data import CardData
from certs.card_digest import check_card_data
from certs.chain import ChainVerifier, VerifiedChain
from certs.errors import (
    AmountMismatch,
    CertificateFingerprintMismatch,
    CertificateRevoked,
    CheckoutIdMismatch,
    ConfirmationNotAccepted,
    CurrencyMismatch,
    MerchantNameMismatch,
    NonceMismatch,
    NonceReplayed,
    OriginMismatch,
    SigningTimeOutOfWindow,
    StatusInvalid,
    StatusUnavailable,
)
from certs.keys import verify_raw_signature
from certs.presentation import Presentation
from certs.revocation import CertStatus, RevocationStatus
from certs.transaction import Confirmation, TransactionDescription

__all__ = ["VerificationPolicy", "VerifiedPresentation", "verify_presentation"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationPolicy:
    """A merchant's verification settings.

    Attributes:
        max_signing_age: how long after signing a presentation is accepted.
        max_clock_skew: how far in the future a signing time may be (device clocks drift).
        require_revocation_status: hard-fail (``True``) rejects with ``status_unavailable``
            when no status is known; soft-fail accepts and records that it was not checked.
        allow_frictionless: accept presentations signed without the confirmation page.
    """

    max_signing_age: timedelta = timedelta(minutes=10)
    max_clock_skew: timedelta = timedelta(minutes=2)
    require_revocation_status: bool = True
    allow_frictionless: bool = True


DEFAULT_POLICY = VerificationPolicy()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedPresentation:
    """A presentation that passed every check. ``checks`` lists them in the order run."""

    transaction: TransactionDescription
    chain: VerifiedChain
    revocation: RevocationStatus
    signature: bytes
    verified_at: datetime
    checks: tuple[str, ...] = field(default=())

    @property
    def revocation_checked(self) -> bool:
        return self.revocation.status is CertStatus.GOOD


def _check_revocation(
    status: RevocationStatus, chain: VerifiedChain, policy: VerificationPolicy
) -> None:
    if status.status is CertStatus.UNAVAILABLE:
        if policy.require_revocation_status:
            raise StatusUnavailable()
        return
    # The status must speak for this certificate of this issuer (RFC 6960 3.2 (1)).
    if status.serial_number != chain.leaf.serial_number or status.issuer_key_sha256 is None:
        raise StatusInvalid("the status is about another certificate")
    if not hmac.compare_digest(status.issuer_key_sha256, chain.issuer_key_sha256):
        raise StatusInvalid("the status is about another issuer")
    if status.status is CertStatus.REVOKED:
        raise CertificateRevoked()
    # RFC 6960 2.2 "unknown": the responder does not know the certificate.
    if status.status is not CertStatus.GOOD and policy.require_revocation_status:
        raise StatusUnavailable("the issuer does not know this certificate")


def _equal(actual: str, expected: str) -> bool:
    return hmac.compare_digest(actual.encode("utf-8"), expected.encode("utf-8"))


def verify_presentation(
    *,
    presentation: Presentation,
    expected_origin: str,
    expected_amount: str,
    expected_currency: str,
    expected_checkout_id: str,
    expected_nonce: str,
    expected_merchant_name: str | None = None,
    card_data: CardData,
    chain_verifier: ChainVerifier,
    revocation: RevocationStatus,
    nonce_unused: bool,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_POLICY,
) -> VerifiedPresentation:
    """Verify a presentation against what the merchant expects.

    Order (docs/protocol.md, 9): path, revocation, certificate binding, signature,
    transaction fields, signing time, nonce, card data.

    Raises:
        CardcertError: with the code of the first failed check: ``cert_*``,
            ``untrusted_root``, ``wrong_eku``, ``unsupported_key``,
            ``unknown_critical_extension``, ``cert_revoked``, ``status_invalid``,
            ``status_unavailable``, ``certificate_fingerprint_mismatch``,
            ``signature_malformed``, ``signature_invalid``, ``origin_mismatch``,
            ``merchant_name_mismatch``, ``amount_mismatch``, ``currency_mismatch``,
            ``checkout_id_mismatch``, ``nonce_mismatch``, ``confirmation_not_accepted``,
            ``signing_time_out_of_window``,
            ``nonce_replayed``, ``card_data_mismatch``, ``digest_algorithm_unsupported``.
    """
    transaction = presentation.transaction
    chain = chain_verifier.verify(presentation.certificate_chain, now=now)
    _check_revocation(revocation, chain, policy)
    # The signed text names the certificate, so a signature cannot be moved to another one.
    if not _equal(transaction.certificate_fingerprint, chain.fingerprint):
        raise CertificateFingerprintMismatch()
    verify_raw_signature(chain.public_key, presentation.signature, transaction.raw)

    if transaction.merchant_origin != expected_origin:
        raise OriginMismatch()
    if expected_merchant_name is not None and transaction.merchant_name != expected_merchant_name:
        raise MerchantNameMismatch()
    if transaction.currency != expected_currency:
        raise CurrencyMismatch()
    if transaction.amount != expected_amount:
        raise AmountMismatch()
    if transaction.checkout_id != expected_checkout_id:
        raise CheckoutIdMismatch()
    if not _equal(transaction.nonce, expected_nonce):
        raise NonceMismatch()
    if transaction.confirmation is Confirmation.FRICTIONLESS and not policy.allow_frictionless:
        raise ConfirmationNotAccepted()
    if not (now - policy.max_signing_age <= transaction.signed_at <= now + policy.max_clock_skew):
        raise SigningTimeOutOfWindow()
    if not nonce_unused:
        raise NonceReplayed()
    check_card_data(card_data, presentation.card_data_secret, chain.card_data_digest)
    return VerifiedPresentation(
        transaction=transaction,
        chain=chain,
        revocation=revocation,
        signature=presentation.signature,
        verified_at=now,
        checks=(
            "certificate_path",
            "revocation"
            if revocation.status is not CertStatus.UNAVAILABLE
            else "revocation_skipped",
            "certificate_binding",
            "signature",
            "transaction_fields",
            "signing_time",
            "nonce",
            "card_data",
        ),
    )
