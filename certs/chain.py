"""Path validation for the fixed card-certificate profile (RFC 5280 section 6.1).

A card certificate path is always ``network root -> issuer CA -> card certificate``. The
generic validators either demand a SubjectAlternativeName and a web-PKI EKU
(``cryptography``'s ``PolicyBuilder``) or cost about twice as much; this module checks
exactly the profile of docs/protocol.md section 5, in RFC 5280 order, and caches the
(root -> issuer CA) step per process because issuer CAs are few and long-lived. Build one
:class:`ChainVerifier` at start-up and call :meth:`ChainVerifier.verify` per request.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

from certs.digest_extension import CardDataDigestExtension, decode_digest_extension
from certs.errors import (
    CertificateError,
    CertificateExpired,
    CertificateMalformed,
    CertificateNotYetValid,
    CertificateProfileViolation,
    CertificateSignatureInvalid,
    ExtendedKeyUsageInvalid,
    NoTrustAnchors,
    UnknownCriticalExtension,
    UnsupportedKey,
    UntrustedRoot,
)
from certs.keys import require_p256
from certs.oids import CARDHOLDER_AUTHENTICATION_EKU
from certs.revocation import issuer_key_hash
from certs.wire import b64url_encode

__all__ = ["ChainVerifier", "VerifiedChain", "load_certificate"]

_ECDSA_SHA256 = x509.ObjectIdentifier(SignatureAlgorithmOID.ECDSA_WITH_SHA256.dotted_string)
_ECDSA = ec.ECDSA(hashes.SHA256())
# RFC 5280 6.1.5 / 4.2: critical extensions a verifier processes for each kind of certificate.
_CA_CRITICAL = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE})
_LEAF_CRITICAL = frozenset(
    {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE}
)
_MAX_CHAIN = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    """Where a certificate's signed parts lie in its DER (X.509 section 7, RFC 5280 4.1)."""

    tbs: bytes  # tbsCertificate exactly as signed (no re-encoding)
    issuer: bytes  # the issuer Name, DER
    subject: bytes  # the subject Name, DER
    signature_algorithms_agree: bool


def _element(der: bytes, start: int) -> tuple[int, int]:
    """(contents offset, end offset) of the DER element at ``start`` (X.690 8.1: a one-octet
    identifier here, then a definite length, short form or long form)."""
    first = der[start + 1]
    if first < 0x80:
        return start + 2, start + 2 + first
    contents = start + 2 + (first & 0x7F)
    return contents, contents + int.from_bytes(der[start + 2 : contents], "big")


def _layout(der: bytes) -> _Layout:
    # Only for DER that cryptography accepted, which it parses strictly as
    # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } with
    # TBSCertificate ::= SEQUENCE { [0] version (v3: present), serialNumber, signature,
    # issuer, validity, subject, ... } and nothing after it: the offsets are those fields'.
    body, _ = _element(der, 0)
    tbs_contents, tbs_end = _element(der, body)
    _, outer_end = _element(der, tbs_end)
    spans = []
    position = tbs_contents
    for _ in range(6):  # version, serialNumber, signature, issuer, validity, subject
        _, end = _element(der, position)
        spans.append((position, end))
        position = end
    inner, issuer, subject = spans[2], spans[3], spans[5]
    return _Layout(
        tbs=der[body:tbs_end],
        issuer=der[issuer[0] : issuer[1]],
        subject=der[subject[0] : subject[1]],
        # RFC 5280 4.1.1.2: signatureAlgorithm "MUST contain the same algorithm identifier
        # as the signature field in the sequence tbsCertificate"; cryptography reads only
        # the outer one. DER is canonical, so equal identifiers have equal encodings.
        signature_algorithms_agree=der[inner[0] : inner[1]] == der[tbs_end:outer_end],
    )


def _load(der: bytes, *, decode_issuer: bool = True) -> tuple[x509.Certificate, _Layout]:
    try:
        certificate = x509.load_der_x509_certificate(der)
        if certificate.version is not x509.Version.v3:
            raise CertificateMalformed("the certificate is not X.509 v3")
        layout = _layout(der)
        if not layout.signature_algorithms_agree:
            raise CertificateMalformed("the two signature algorithm fields differ")
        # Touch the extensions so a duplicate or undecodable one fails here (RFC 5280 4.2:
        # "A certificate MUST NOT include more than one instance of a particular extension").
        _ = certificate.extensions
        # Names are decoded lazily; decode them here so a bad one is cert_malformed. A card
        # certificate's issuer is decoded only when it differs from its CA's subject, see
        # ChainVerifier._checked_leaf.
        _ = certificate.subject
        if decode_issuer:
            _ = certificate.issuer
    except (
        ValueError,
        # cryptography decodes a name attribute with a value type its OID may not have
        # (a BIT STRING outside x500UniqueIdentifier) by raising TypeError.
        TypeError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise CertificateMalformed() from exc
    return certificate, layout


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse one DER certificate and read its extensions and names once.

    Raises:
        CertificateMalformed: ``cert_malformed`` (bad DER, not v3, duplicate extension,
            undecodable name, two signature algorithm fields that differ).
    """
    return _load(der)[0]


def _decode_issuer_name(certificate: x509.Certificate) -> None:
    # What _load(decode_issuer=True) would have found: a bad name is cert_malformed.
    try:
        _ = certificate.issuer
    except (ValueError, TypeError) as exc:
        raise CertificateMalformed() from exc


def _p256_key(certificate: x509.Certificate) -> ec.EllipticCurvePublicKey:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKey("the certificate's public key cannot be loaded") from exc
    return require_p256(key)


def _check_signature(
    certificate: x509.Certificate, tbs: bytes, issuer_key: ec.EllipticCurvePublicKey, what: str
) -> None:
    # RFC 5280 6.1.3 (a)(1); the profile allows ecdsa-with-SHA256 only (RFC 5758 3.2).
    if certificate.signature_algorithm_oid != _ECDSA_SHA256:
        raise CertificateProfileViolation(f"the {what} is not signed with ecdsa-with-SHA256")
    try:
        issuer_key.verify(certificate.signature, tbs, _ECDSA)
    except InvalidSignature as exc:
        raise CertificateSignatureInvalid(f"the {what} signature does not verify") from exc


def _check_critical(certificate: x509.Certificate, known: frozenset[x509.ObjectIdentifier]) -> None:
    # RFC 5280 6.1.5 (via 4.2): reject any critical extension that is not processed.
    for extension in certificate.extensions:
        if extension.critical and extension.oid not in known:
            raise UnknownCriticalExtension()


def _check_serial(certificate: x509.Certificate, what: str) -> None:
    # RFC 5280 4.1.2.2: a positive integer of at most 20 octets.
    serial = certificate.serial_number
    if serial <= 0 or serial.bit_length() > 159:
        raise CertificateProfileViolation(f"the {what} serial number is not positive")


def _extension(
    certificate: x509.Certificate, oid: x509.ObjectIdentifier, what: str
) -> x509.Extension[x509.ExtensionType]:
    try:
        return certificate.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound as exc:
        raise CertificateProfileViolation(f"the {what} lacks {oid._name}") from exc


def _key_identifier(certificate: x509.Certificate) -> bytes | None:
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ski.value.digest


def _authority_key_identifier(certificate: x509.Certificate) -> bytes | None:
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return aki.value.key_identifier


def _check_ca(certificate: x509.Certificate, what: str, max_path_length: int) -> None:
    # RFC 5280 6.1.4 (k): basicConstraints present with cA TRUE; (l)/(m) pathLen; (n) keyCertSign.
    basic = _extension(certificate, ExtensionOID.BASIC_CONSTRAINTS, what)
    value = basic.value
    if not isinstance(value, x509.BasicConstraints) or not value.ca or not basic.critical:
        raise CertificateProfileViolation(f"the {what} is not a CA certificate")
    if value.path_length is not None and value.path_length < max_path_length:
        raise CertificateProfileViolation(f"the {what} path length constraint is violated")
    usage = _extension(certificate, ExtensionOID.KEY_USAGE, what).value
    if not isinstance(usage, x509.KeyUsage) or not usage.key_cert_sign:
        raise CertificateProfileViolation(f"the {what} may not sign certificates")
    _check_critical(certificate, _CA_CRITICAL)


@dataclass(frozen=True, slots=True, kw_only=True)
class _TrustedIssuer:
    """An issuer CA validated against a root (signature, profile); dates checked per call."""

    certificate: x509.Certificate
    der_sha256: bytes
    subject_der: bytes
    public_key: ec.EllipticCurvePublicKey
    root: x509.Certificate
    root_der: bytes
    key_identifier: bytes | None
    key_sha256: bytes
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class _CheckedLeaf:
    """A card certificate whose signature and profile were checked; dates checked per call."""

    certificate: x509.Certificate
    issuer_der_sha256: bytes
    public_key: ec.EllipticCurvePublicKey
    fingerprint: str
    card_data_digest: CardDataDigestExtension
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedChain:
    """A card certificate path that validated at ``checked_at``."""

    leaf: x509.Certificate
    leaf_der: bytes
    issuer_ca: x509.Certificate
    issuer_ca_der: bytes
    root: x509.Certificate
    public_key: ec.EllipticCurvePublicKey
    fingerprint: str
    card_data_digest: CardDataDigestExtension
    issuer_key_sha256: bytes
    checked_at: datetime

    @property
    def credential_id(self) -> str:
        """The pseudonymous credential id (the subject commonName)."""
        return str(self.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _check_dates(not_before: datetime, not_after: datetime, now: datetime, what: str) -> None:
    # RFC 5280 6.1.3 (a)(2): the current time is within the validity period.
    if now < not_before:
        raise CertificateNotYetValid(f"the {what} is not yet valid")
    if now > not_after:
        raise CertificateExpired(f"the {what} has expired")


class ChainVerifier:
    """Validates card certificate paths against a fixed set of network roots.

    Build it once (roots are checked here), then call :meth:`verify` per request. Two
    per-process caches keep work that cannot change off the hot path, keyed by the SHA-256
    of the exact DER bytes (as a browser's certificate verifier caches results):

    * the (root -> issuer CA) step, per issuer CA;
    * the (issuer CA -> card certificate) signature and profile check, per card
      certificate, bounded (``leaf_cache_size``, least recently used evicted). A returning
      cardholder's certificate is then not re-parsed or re-verified.

    Validity dates of all three certificates are checked against every call's ``now``;
    revocation is checked by the caller for every call.
    """

    def __init__(self, roots: Iterable[x509.Certificate], *, leaf_cache_size: int = 10_000) -> None:
        """Raises ``NoTrustAnchors`` (``no_trust_anchors``) when ``roots`` is empty."""
        self._roots = tuple(roots)
        if not self._roots:
            raise NoTrustAnchors()
        for root in self._roots:
            _p256_key(root)
        self._issuers: dict[bytes, _TrustedIssuer] = {}
        self._leaves: OrderedDict[bytes, _CheckedLeaf] = OrderedDict()
        self._leaf_cache_size = leaf_cache_size
        self._lock = threading.Lock()

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    def check_issuer_ca(self, der: bytes) -> None:
        """Validate an issuer CA certificate against the roots, as a path would (signature,
        CA profile, root constraints; dates are checked per path). For configuration time,
        e.g. adding an issuer to a directory: a bad CA then fails at once, with its code,
        instead of every checkout through it failing later.

        Raises:
            CertificateError: the code of the first failing check.
        """
        self._trusted_issuer(der)

    def _trusted_issuer(self, der: bytes) -> _TrustedIssuer:
        key = hashlib.sha256(der).digest()
        cached = self._issuers.get(key)
        if cached is not None:
            return cached
        certificate, layout = _load(der)
        candidates = [root for root in self._roots if root.subject == certificate.issuer]
        if not candidates:
            raise UntrustedRoot()
        aki = _authority_key_identifier(certificate)
        last_error: CertificateError = UntrustedRoot()
        for root in candidates:
            if aki is not None and _key_identifier(root) not in (None, aki):
                continue
            try:
                _check_signature(certificate, layout.tbs, _p256_key(root), "issuer CA")
            except CertificateSignatureInvalid as exc:
                last_error = exc
                continue
            # RFC 5280 6.1.4 (k)-(n) for the trust anchor as well (as OpenSSL does): the
            # network root must be a CA that allows one CA below it (docs/protocol.md 5.1).
            _check_ca(root, "network root", max_path_length=1)
            _check_serial(certificate, "issuer CA")
            _check_ca(certificate, "issuer CA", max_path_length=0)
            trusted = _TrustedIssuer(
                certificate=certificate,
                der_sha256=key,
                subject_der=layout.subject,
                public_key=_p256_key(certificate),
                root=root,
                root_der=root.public_bytes(serialization.Encoding.DER),
                key_identifier=_key_identifier(certificate),
                key_sha256=issuer_key_hash(certificate),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
            )
            with self._lock:
                self._issuers[key] = trusted
            return trusted
        raise last_error

    def _checked_leaf(self, der: bytes, issuer: _TrustedIssuer) -> _CheckedLeaf:
        key = hashlib.sha256(der).digest()
        with self._lock:
            cached = self._leaves.get(key)
            if cached is not None and cached.issuer_der_sha256 == issuer.der_sha256:
                self._leaves.move_to_end(key)
                return cached
        leaf, layout = _load(der, decode_issuer=False)
        # RFC 5280 6.1.3 (a)(4): name chaining, and AKI/SKI agreement (4.2.1.1). A CA encodes
        # its subject "in the same way" in the issuer field of all it issues (4.1.2.6), so
        # the names are compared as DER; the CA's subject decoded, so the leaf's issuer does.
        if layout.issuer != issuer.subject_der:
            _decode_issuer_name(leaf)
            raise UntrustedRoot("the card certificate was not issued by the issuer CA")
        aki = _authority_key_identifier(leaf)
        if aki is None:
            # RFC 5280 4.2.1.1: conforming CAs MUST include it (openssl -x509_strict agrees).
            raise CertificateProfileViolation("the card certificate has no authorityKeyIdentifier")
        if issuer.key_identifier is not None and aki != issuer.key_identifier:
            raise UntrustedRoot("the card certificate names another issuer key")
        _check_signature(leaf, layout.tbs, issuer.public_key, "card certificate")
        _check_serial(leaf, "card certificate")
        public_key = _p256_key(leaf)
        _check_leaf_extensions(leaf)
        common_names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(common_names) != 1 or not isinstance(common_names[0].value, str):
            raise CertificateProfileViolation("the card certificate subject is not a credential id")
        checked = _CheckedLeaf(
            certificate=leaf,
            issuer_der_sha256=issuer.der_sha256,
            public_key=public_key,
            fingerprint=b64url_encode(key),
            card_data_digest=decode_digest_extension(leaf),
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
        )
        with self._lock:
            self._leaves[key] = checked
            while len(self._leaves) > self._leaf_cache_size:
                self._leaves.popitem(last=False)
        return checked

    def verify(self, chain: Sequence[bytes], *, now: datetime) -> VerifiedChain:
        """Validate ``[card certificate DER, issuer CA DER(, root DER)]`` at ``now``.

        Raises:
            CertificateMalformed: ``cert_malformed``.
            UntrustedRoot: ``untrusted_root``.
            CertificateSignatureInvalid: ``cert_signature_invalid``.
            CertificateExpired: ``cert_expired``.
            CertificateNotYetValid: ``cert_not_yet_valid``.
            ExtendedKeyUsageInvalid: ``wrong_eku``.
            UnsupportedKey: ``unsupported_key``.
            UnknownCriticalExtension: ``unknown_critical_extension``.
            CertificateProfileViolation: ``cert_profile_violation``.
            DigestAlgorithmUnsupported: ``digest_algorithm_unsupported``.
        """
        if not 2 <= len(chain) <= _MAX_CHAIN:
            raise CertificateMalformed("the chain must hold the card certificate and issuer CA")
        issuer = self._trusted_issuer(chain[1])
        if len(chain) == _MAX_CHAIN and chain[2] != issuer.root_der:
            raise UntrustedRoot("the third certificate is not the trust anchor")
        _check_dates(
            issuer.root.not_valid_before_utc, issuer.root.not_valid_after_utc, now, "network root"
        )
        _check_dates(issuer.not_before, issuer.not_after, now, "issuer CA")
        leaf = self._checked_leaf(chain[0], issuer)
        _check_dates(leaf.not_before, leaf.not_after, now, "card certificate")
        return VerifiedChain(
            leaf=leaf.certificate,
            leaf_der=chain[0],
            issuer_ca=issuer.certificate,
            issuer_ca_der=chain[1],
            root=issuer.root,
            public_key=leaf.public_key,
            fingerprint=leaf.fingerprint,
            card_data_digest=leaf.card_data_digest,
            issuer_key_sha256=issuer.key_sha256,
            checked_at=now,
        )


def _check_leaf_extensions(leaf: x509.Certificate) -> None:
    _check_critical(leaf, _LEAF_CRITICAL)
    # RFC 5280 4.2.1.9: an end-entity certificate must not assert cA.
    basic = _extension(leaf, ExtensionOID.BASIC_CONSTRAINTS, "card certificate").value
    if not isinstance(basic, x509.BasicConstraints) or basic.ca:
        raise CertificateProfileViolation("a card certificate must not be a CA")
    # RFC 5280 4.2.1.3: digitalSignature only; the profile marks keyUsage critical.
    usage_ext = _extension(leaf, ExtensionOID.KEY_USAGE, "card certificate")
    usage = usage_ext.value
    if (
        not isinstance(usage, x509.KeyUsage)
        or not usage_ext.critical
        or not usage.digital_signature
        or usage.key_cert_sign
        or usage.crl_sign
    ):
        raise CertificateProfileViolation("the card certificate key usage is not digitalSignature")
    # RFC 5280 4.2.1.12: the key may only be used for the purposes listed.
    try:
        eku = leaf.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except x509.ExtensionNotFound as exc:
        raise ExtendedKeyUsageInvalid() from exc
    if not isinstance(eku, x509.ExtendedKeyUsage) or CARDHOLDER_AUTHENTICATION_EKU not in eku:
        raise ExtendedKeyUsageInvalid()
