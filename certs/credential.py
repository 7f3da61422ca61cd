"""A cardholder credential as a device holds it, for tests, tools and load generation.

The browser keeps a non-extractable P-256 key, a 32-byte card-data secret and the
certificate chain in IndexedDB. :class:`CardholderCredential` is the same thing in Python,
producing byte-identical transaction descriptions and presentations, so merchants can
integrate and load testers can generate traffic without a browser.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.card_data import CardData
from certs.card_digest import SECRET_LENGTH, card_data_digest
from certs.dev_pki import DevPki, read_private_key, write_private_key
from certs.keys import der_fingerprint, sign_raw
from certs.origin import origin_of_url
from certs.presentation import Presentation
from certs.profile import DEFAULT_CARD_CERT_VALIDITY, CardCertificateRequest, mint_card_certificate
from certs.transaction import Confirmation, TransactionDescription
from certs.wire import b64url_decode, b64url_encode

__all__ = ["CardholderCredential", "new_credential_id", "transaction_fields"]

_KEY_FILE = "credential.key"
_SECRET_FILE = "card-data-secret.b64url"  # noqa: S105 - a file name
_CHAIN_FILE = "chain.pem"


def transaction_fields(request: Mapping[str, Any]) -> dict[str, str]:
    """The signed fields of a merchant's transaction request (docs/interfaces.md 3), as
    keyword arguments of :meth:`CardholderCredential.present`. As the Service Worker does
    (service_worker/static/request.js), the merchant origin is derived from ``returnUrl``,
    never taken from the merchant's claim (docs/protocol.md 7); a return URL that has no
    origin gives an empty one, which verification then refuses."""
    return {
        "merchant_origin": origin_of_url(request["returnUrl"]) or "",
        "merchant_name": request["merchantName"],
        "amount": request["amount"],
        "currency": request["currency"],
        "checkout_id": request["checkoutId"],
        "nonce": request["nonce"],
    }


def new_credential_id() -> str:
    """A pseudonymous credential id: 128 random bits, base64url (the certificate subject)."""
    return "cred_" + b64url_encode(secrets.token_bytes(16))


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CardholderCredential:
    """Private key, card-data secret and certificate chain of one enrolled card."""

    private_key: ec.EllipticCurvePrivateKey
    card_data_secret: bytes
    certificate_chain: tuple[bytes, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_chain[0])

    @property
    def fingerprint(self) -> str:
        return der_fingerprint(self.certificate_chain[0])

    @classmethod
    def issue(
        cls,
        pki: DevPki,
        card: CardData,
        *,
        now: datetime,
        crl_url: str,
        ocsp_url: str,
        validity: timedelta = DEFAULT_CARD_CERT_VALIDITY,
        credential_id: str | None = None,
    ) -> CardholderCredential:
        """Make a key and secret as the browser would, and mint a certificate for them."""
        key = ec.generate_private_key(ec.SECP256R1())
        secret = secrets.token_bytes(SECRET_LENGTH)
        certificate = mint_card_certificate(
            CardCertificateRequest(
                public_key=key.public_key(),
                credential_id=credential_id or new_credential_id(),
                card_expiry=card.expiry,
                card_data_digest=card_data_digest(card, secret),
            ),
            issuer_key=pki.issuer_key,
            issuer_ca=pki.issuer_ca,
            crl_url=crl_url,
            ocsp_url=ocsp_url,
            now=now,
            validity=validity,
        )
        return cls(
            private_key=key,
            card_data_secret=secret,
            certificate_chain=(
                certificate.public_bytes(serialization.Encoding.DER),
                pki.issuer_ca.public_bytes(serialization.Encoding.DER),
            ),
        )

    def sign_transaction(
        self,
        *,
        merchant_origin: str,
        merchant_name: str,
        amount: str,
        currency: str,
        checkout_id: str,
        nonce: str,
        signed_at: datetime,
        confirmation: Confirmation = Confirmation.EXPLICIT,
    ) -> tuple[TransactionDescription, bytes]:
        """Build the canonical transaction description and sign it as WebCrypto would."""
        transaction = TransactionDescription.build(
            merchant_origin=merchant_origin,
            merchant_name=merchant_name,
            amount=amount,
            currency=currency,
            checkout_id=checkout_id,
            nonce=nonce,
            signed_at=signed_at,
            certificate_fingerprint=self.fingerprint,
            confirmation=confirmation,
        )
        return transaction, sign_raw(self.private_key, transaction.raw)

    def present(
        self,
        *,
        merchant_origin: str,
        merchant_name: str,
        amount: str,
        currency: str,
        checkout_id: str,
        nonce: str,
        signed_at: datetime,
        status: bytes | None = None,
        confirmation: Confirmation = Confirmation.EXPLICIT,
    ) -> Presentation:
        """A complete presentation, as the Service Worker auto-POSTs it."""
        transaction, signature = self.sign_transaction(
            merchant_origin=merchant_origin,
            merchant_name=merchant_name,
            amount=amount,
            currency=currency,
            checkout_id=checkout_id,
            nonce=nonce,
            signed_at=signed_at,
            confirmation=confirmation,
        )
        return Presentation(
            transaction=transaction,
            signature=signature,
            certificate_chain=self.certificate_chain,
            status=status,
            card_data_secret=self.card_data_secret,
        )

    def save(self, directory: Path) -> None:
        """Write key (0600), secret (0600) and chain (PEM) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_key(directory / _KEY_FILE, self.private_key)
        descriptor = os.open(directory / _SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(b64url_encode(self.card_data_secret) + "\n")
        (directory / _CHAIN_FILE).write_bytes(
            b"".join(
                x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
                for der in self.certificate_chain
            )
        )

    @classmethod
    def load(cls, directory: Path) -> CardholderCredential:
        chain = x509.load_pem_x509_certificates((directory / _CHAIN_FILE).read_bytes())
        return cls(
            private_key=read_private_key(directory / _KEY_FILE),
            card_data_secret=b64url_decode(
                (directory / _SECRET_FILE).read_text().strip(), error=ValueError, what="secret"
            ),
            certificate_chain=tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
        )

    def __repr__(self) -> str:
        return f"CardholderCredential(fingerprint={self.fingerprint!r})"
