"""Evidence records: what was verified, with what, when, and the verdict; re-verifiable offline.

Every verdict the merchant reaches is stored as one JSON document (``GET /v1/evidence/{id}``
exports it byte for byte). It keeps everything needed to re-check the cryptographic claims
later, with nothing running and no database:

- the certificate chain, the exact signed transaction bytes and the raw signature;
- the revocation response that was used (stapled or fetched), byte for byte;
- what the merchant expected (origin, merchant name, amount, currency, checkout id, nonce);
- the verification time and the policy (signing window, status age, hard/soft mode);
- the checks run, the verdict and its code, the software name and version;
- an integrity digest: SHA-256 over the RFC 8785 canonical form of the rest. It detects
  corruption and careless edits; it is not a signature (anyone can recompute it), so the
  evidential weight rests on the cardholder's signature, the issuer's chain and the
  issuer's OCSP signature, which :func:`verify_evidence` re-checks.

It never holds the card-data secret, a PAN or a security code. Consequently two checks
cannot be redone offline and the report says so: the card-data digest (the secret is
deliberately discarded, so typed card data cannot be recomputed against the certificate)
and the single use of the nonce (a database fact at the time).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509

from certs.canonical_json import canonical_json
from certs.chain import ChainVerifier, VerifiedChain
from certs.errors import CardcertError
from certs.keys import verify_raw_signature
from certs.revocation import CertStatus, RevocationStatus, StatusSource, read_ocsp_response
from certs.transaction import Confirmation, TransactionDescription
from certs.verification import VerificationPolicy
from certs.wire import b64url_decode, b64url_encode, load_json_object
from merchant.verdict import VerdictResult, liability_shift
from merchant.version import SOFTWARE_NAME, __version__

if TYPE_CHECKING:
    from merchant.verifier import Evaluation

__all__ = [
    "EVIDENCE_TYPE",
    "EvidenceCheck",
    "EvidenceContext",
    "EvidenceDigestMismatch",
    "EvidenceError",
    "EvidenceInconsistent",
    "EvidenceMalformed",
    "EvidenceReport",
    "EvidenceVerdictMismatch",
    "build_evidence",
    "format_time",
    "verify_evidence",
]

EVIDENCE_TYPE = "cardcert.evidence"
EVIDENCE_VERSION = 1
_DIGEST_ALGORITHM = "sha-256/rfc8785"
# Codes offline re-verification cannot reproduce (the secret and the nonce state are gone).
_NOT_RECHECKABLE = frozenset(
    {
        "nonce_replayed",
        "card_data_mismatch",
        "presentation_malformed",
        "digest_algorithm_unsupported",
    }
)
_STAGES = (
    "presentation_parsed",
    "certificate_path",
    "revocation",
    "certificate_binding",
    "signature",
    "transaction_fields",
    "signing_time",
    "nonce",
    "card_data",
)
_STAGE_OF_CODE = {
    "presentation_malformed": "presentation_parsed",
    "transaction_malformed": "presentation_parsed",
    "cert_revoked": "revocation",
    "status_invalid": "revocation",
    "status_unavailable": "revocation",
    "certificate_fingerprint_mismatch": "certificate_binding",
    "signature_malformed": "signature",
    "signature_invalid": "signature",
    "origin_mismatch": "transaction_fields",
    "merchant_name_mismatch": "transaction_fields",
    "currency_mismatch": "transaction_fields",
    "amount_mismatch": "transaction_fields",
    "checkout_id_mismatch": "transaction_fields",
    "nonce_mismatch": "transaction_fields",
    "confirmation_not_accepted": "transaction_fields",
    "signing_time_out_of_window": "signing_time",
    "nonce_replayed": "nonce",
    "card_data_mismatch": "card_data",
}


class EvidenceError(CardcertError):
    """The evidence record was rejected."""

    code = "evidence_rejected"


class EvidenceMalformed(EvidenceError):
    """The evidence record is not a version-1 evidence JSON document."""

    code = "evidence_malformed"


class EvidenceDigestMismatch(EvidenceError):
    """The evidence record's integrity digest does not match its content."""

    code = "evidence_digest_mismatch"


class EvidenceVerdictMismatch(EvidenceError):
    """Re-verification does not reproduce the recorded verdict."""

    code = "evidence_verdict_mismatch"


class EvidenceInconsistent(EvidenceError):
    """The evidence record contradicts itself (derived fields do not follow from the data)."""

    code = "evidence_inconsistent"


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with microseconds (``...Z``): the exact instant, recoverable."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _b64(data: bytes | None) -> str | None:
    return None if data is None else b64url_encode(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceContext:
    """Settings recorded with every evidence document."""

    max_status_age: timedelta
    software_name: str = SOFTWARE_NAME
    software_version: str = __version__


def _digest(document: dict[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "integrity"}
    return b64url_encode(hashlib.sha256(canonical_json(body)).digest())


def _checks_passed(evaluation: Evaluation) -> tuple[list[str], str | None]:
    if evaluation.verified is not None:
        return ["presentation_parsed", *evaluation.verified.checks], None
    code = evaluation.verdict.code or ""
    if evaluation.presentation is None:
        return [], "presentation_parsed"
    if evaluation.chain is None:
        return ["presentation_parsed"], "certificate_path"
    stage = _STAGE_OF_CODE.get(code, "card_data")
    if evaluation.verdict.result is VerdictResult.UNAVAILABLE:
        return [s for s in _STAGES if s != "revocation"], "revocation"
    passed = list(_STAGES[: _STAGES.index(stage)])
    if evaluation.revocation.status not in (CertStatus.GOOD, CertStatus.REVOKED):
        passed = [s if s != "revocation" else "revocation_skipped" for s in passed]
    return passed, stage


def build_evidence(evaluation: Evaluation, *, evidence_id: str, context: EvidenceContext) -> str:
    """The evidence JSON document of one verification attempt (pure).

    Raises:
        ValueError: a value has no RFC 8785 form (as :func:`certs.canonical_json`).
    """
    try:
        return _fast_evidence(evaluation, evidence_id=evidence_id, context=context)
    except _NotPlain:
        return _general_evidence(evaluation, evidence_id=evidence_id, context=context)


# --- the document written directly --------------------------------------------------------
#
# _general_evidence builds a dict, serialises it sorted for the digest (after walking it in
# canonical_json._plain) and again in document order. Here every value is written once,
# as json.dumps(ensure_ascii=False) writes it, and set into two fixed templates: document
# order, and RFC 8785 order (3.2.3: members sorted by key; every key here is ASCII, so by
# code point, as json.dumps(sort_keys=True) sorts). Anything json.dumps and RFC 8785 might
# write differently (a non-bool flag, an integer beyond 2**53 - 1, a str subclass, text
# that is not UTF-8) raises _NotPlain and the document takes the general path.
# tests/merchant/test_evidence_writer.py compares the two on tricky evaluations.

_SAFE_INTEGER = 2**53 - 1  # RFC 8785 3.2.2.3 via I-JSON (RFC 7493 2.2)
_encode_string = json.encoder.encode_basestring  # json.dumps's str writer (ensure_ascii off)
_TYPE_JSON = _encode_string(EVIDENCE_TYPE)
_INTEGRITY_PREFIX = f'"integrity":{{"algorithm":{_encode_string(_DIGEST_ALGORITHM)},"digest":"'


class _NotPlain(Exception):
    """A value the direct writer leaves to the general path."""


def _json_str(value: object) -> str:
    if type(value) is not str:
        raise _NotPlain
    return _encode_string(value)


def _json_optional_str(value: object) -> str:
    return "null" if value is None else _json_str(value)


def _json_bool(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise _NotPlain


def _json_int(value: int) -> str:
    if type(value) is not int or not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        raise _NotPlain
    return int.__repr__(value)  # what json.dumps writes for an int


def _quoted(base64url: str) -> str:
    # RFC 4648 table 2 has no character JSON escapes: the text goes in as it is.
    return '"' + base64url + '"'


@functools.lru_cache(maxsize=256)
def _status_time(when: datetime) -> str:
    # A stapled status comes back with every checkout of its card: its times are formatted
    # once. Equal datetimes are the same instant, and format_time writes the instant.
    return format_time(when)


def _fast_evidence(evaluation: Evaluation, *, evidence_id: str, context: EvidenceContext) -> str:
    """:func:`_general_evidence`'s bytes, each value written once (see above)."""
    presentation = evaluation.presentation
    resolved = evaluation.resolved
    revocation = evaluation.revocation
    verdict = evaluation.verdict
    policy = evaluation.policy
    expected = evaluation.expected
    passed, failed = _checks_passed(evaluation)
    s, o, b, i = _json_str, _json_optional_str, _json_bool, _json_int

    evidence = s(evidence_id)
    checkout = s(expected.checkout_id)
    software = f'{{"name":{s(context.software_name)},"version":{s(context.software_version)}}}'
    verified_at = s(format_time(evaluation.now))

    nonce, origin = s(expected.nonce), s(expected.origin)
    name, amount, currency = o(expected.merchant_name), s(expected.amount), s(expected.currency)
    expected_doc = (
        f'{{"checkoutId":{checkout},"nonce":{nonce},"origin":{origin},'
        f'"merchantName":{name},"amount":{amount},"currency":{currency}}}'
    )
    expected_sorted = (
        f'{{"amount":{amount},"checkoutId":{checkout},"currency":{currency},'
        f'"merchantName":{name},"nonce":{nonce},"origin":{origin}}}'
    )

    signing_age = i(int(policy.max_signing_age.total_seconds()))
    clock_skew = i(int(policy.max_clock_skew.total_seconds()))
    frictionless = b(policy.allow_frictionless)
    mode = '"hard"' if policy.require_revocation_status else '"soft"'
    status_age = i(int(context.max_status_age.total_seconds()))
    policy_doc = (
        f'{{"maxSigningAgeSeconds":{signing_age},"maxClockSkewSeconds":{clock_skew},'
        f'"allowFrictionless":{frictionless},"revocationMode":{mode},'
        f'"maxStatusAgeSeconds":{status_age}}}'
    )
    policy_sorted = (
        f'{{"allowFrictionless":{frictionless},"maxClockSkewSeconds":{clock_skew},'
        f'"maxSigningAgeSeconds":{signing_age},"maxStatusAgeSeconds":{status_age},'
        f'"revocationMode":{mode}}}'
    )

    staple_wire: tuple[bytes, str] | None = None  # the stapled status and its text
    if presentation is None:
        presentation_doc = presentation_sorted = "null"
    else:
        wire = presentation.wire_text()
        transaction, signature = _quoted(wire.transaction), _quoted(wire.signature)
        chain = "[" + ",".join([_quoted(c) for c in wire.certificate_chain]) + "]"
        stapled = "null"
        if presentation.status is not None and wire.status is not None:
            staple_wire = (presentation.status, wire.status)
            stapled = _quoted(wire.status)
        presentation_doc = (
            f'{{"transaction":{transaction},"signature":{signature},'
            f'"certificateChain":{chain},"stapledStatus":{stapled}}}'
        )
        presentation_sorted = (
            f'{{"certificateChain":{chain},"signature":{signature},'
            f'"stapledStatus":{stapled},"transaction":{transaction}}}'
        )

    if not revocation.raw:
        response = "null"
    elif staple_wire is not None and revocation.raw == staple_wire[0]:
        response = _quoted(staple_wire[1])  # the staple's own text (the usual case)
    else:
        response = _quoted(b64url_encode(revocation.raw))
    status, source = s(str(revocation.status)), s(str(revocation.source))
    this_update = (
        "null" if revocation.this_update is None else s(_status_time(revocation.this_update))
    )
    next_update = (
        "null" if revocation.next_update is None else s(_status_time(revocation.next_update))
    )
    if resolved is None:
        staple = live = live_error = "null"
    else:
        staple, live = s(str(resolved.staple)), s(str(resolved.live))
        live_error = o(resolved.live_error)
    revocation_doc = (
        f'{{"status":{status},"source":{source},"response":{response},'
        f'"thisUpdate":{this_update},"nextUpdate":{next_update},"staple":{staple},'
        f'"live":{live},"liveError":{live_error}}}'
    )
    revocation_sorted = (
        f'{{"live":{live},"liveError":{live_error},"nextUpdate":{next_update},'
        f'"response":{response},"source":{source},"staple":{staple},"status":{status},'
        f'"thisUpdate":{this_update}}}'
    )

    unused, consumed = b(evaluation.nonce_unused), b(evaluation.consumes_nonce)
    card_data = f'{{"checked":{b(evaluation.card_data_checked)},"secretRetained":false}}'
    passed_list = "[" + ",".join([s(stage) for stage in passed]) + "]"
    failed_text = o(failed)

    result, code = s(str(verdict.result)), o(verdict.code)
    shift, checked = b(verdict.liability_shift), b(verdict.revocation_checked)
    confirmation = "null" if verdict.confirmation is None else s(str(verdict.confirmation))
    revocation_source = s(str(verdict.revocation_source))
    verdict_doc = (
        f'{{"result":{result},"code":{code},"liabilityShift":{shift},"evidenceId":{evidence},'
        f'"confirmation":{confirmation},"revocationChecked":{checked},'
        f'"revocationSource":{revocation_source}}}'
    )
    verdict_sorted = (
        f'{{"code":{code},"confirmation":{confirmation},"evidenceId":{evidence},'
        f'"liabilityShift":{shift},"result":{result},"revocationChecked":{checked},'
        f'"revocationSource":{revocation_source}}}'
    )

    canonical = (
        f'{{"cardData":{card_data},"checkoutId":{checkout},'
        f'"checks":{{"failed":{failed_text},"passed":{passed_list}}},"evidenceId":{evidence},'
        f'"expected":{expected_sorted},"nonce":{{"consumedByThisVerdict":{consumed},'
        f'"unusedWhenChecked":{unused}}},"policy":{policy_sorted},'
        f'"presentation":{presentation_sorted},"revocation":{revocation_sorted},'
        f'"software":{software},"type":{_TYPE_JSON},"verdict":{verdict_sorted},'
        f'"verifiedAt":{verified_at},"version":{EVIDENCE_VERSION}}}'
    )
    try:
        canonical_bytes = canonical.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: the general path refuses it
        raise _NotPlain from exc
    digest = b64url_encode(hashlib.sha256(canonical_bytes).digest())
    return (
        f'{{"type":{_TYPE_JSON},"version":{EVIDENCE_VERSION},"evidenceId":{evidence},'
        f'"checkoutId":{checkout},"software":{software},"verifiedAt":{verified_at},'
        f'"expected":{expected_doc},"policy":{policy_doc},"presentation":{presentation_doc},'
        f'"revocation":{revocation_doc},"nonce":{{"unusedWhenChecked":{unused},'
        f'"consumedByThisVerdict":{consumed}}},"cardData":{card_data},'
        f'"checks":{{"passed":{passed_list},"failed":{failed_text}}},"verdict":{verdict_doc},'
        f'{_INTEGRITY_PREFIX}{digest}"}}}}'
    )


def _general_evidence(evaluation: Evaluation, *, evidence_id: str, context: EvidenceContext) -> str:
    """The evidence document through json.dumps and canonical_json: the reference
    :func:`_fast_evidence` must equal, and the path for values it does not write."""
    presentation = evaluation.presentation
    resolved = evaluation.resolved
    revocation = evaluation.revocation
    verdict = evaluation.verdict
    policy = evaluation.policy
    passed, failed = _checks_passed(evaluation)
    document: dict[str, Any] = {
        "type": EVIDENCE_TYPE,
        "version": EVIDENCE_VERSION,
        "evidenceId": evidence_id,
        "checkoutId": evaluation.expected.checkout_id,
        "software": {"name": context.software_name, "version": context.software_version},
        "verifiedAt": format_time(evaluation.now),
        "expected": evaluation.expected.to_json(),
        "policy": {
            "maxSigningAgeSeconds": int(policy.max_signing_age.total_seconds()),
            "maxClockSkewSeconds": int(policy.max_clock_skew.total_seconds()),
            "allowFrictionless": policy.allow_frictionless,
            "revocationMode": "hard" if policy.require_revocation_status else "soft",
            "maxStatusAgeSeconds": int(context.max_status_age.total_seconds()),
        },
        "presentation": None
        if presentation is None
        else {
            "transaction": b64url_encode(presentation.transaction.raw),
            "signature": b64url_encode(presentation.signature),
            "certificateChain": [b64url_encode(c) for c in presentation.certificate_chain],
            "stapledStatus": _b64(presentation.status),
        },
        "revocation": {
            "status": str(revocation.status),
            "source": str(revocation.source),
            "response": _b64(revocation.raw or None),
            "thisUpdate": None
            if revocation.this_update is None
            else format_time(revocation.this_update),
            "nextUpdate": None
            if revocation.next_update is None
            else format_time(revocation.next_update),
            "staple": None if resolved is None else str(resolved.staple),
            "live": None if resolved is None else str(resolved.live),
            "liveError": None if resolved is None else resolved.live_error,
        },
        "nonce": {
            "unusedWhenChecked": evaluation.nonce_unused,
            "consumedByThisVerdict": evaluation.consumes_nonce,
        },
        "cardData": {
            "checked": evaluation.card_data_checked,
            "secretRetained": False,
        },
        "checks": {"passed": passed, "failed": failed},
        "verdict": verdict.to_json(None) | {"evidenceId": evidence_id},
    }
    document["integrity"] = {"algorithm": _DIGEST_ALGORITHM, "digest": _digest(document)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# --- offline re-verification ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceCheck:
    """One re-check: its name, whether it agrees with the record, and a code when not."""

    name: str
    ok: bool
    code: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceReport:
    """The result of :func:`verify_evidence`.

    Attributes:
        verified: the record is intact and re-verification supports its verdict.
        code: why not (a certs error code or an ``evidence_*`` code), else None.
        recorded_result / recorded_code: the verdict in the record.
        recomputed_code: the first failure found offline (None: none found).
        checks: what was re-checked, in order.
        not_rechecked: (what, why) for the checks that cannot be redone offline.
    """

    verified: bool
    code: str | None
    recorded_result: str | None = None
    recorded_code: str | None = None
    recomputed_code: str | None = None
    checks: tuple[EvidenceCheck, ...] = ()
    not_rechecked: tuple[tuple[str, str], ...] = field(default=())


def _get(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EvidenceMalformed(f"field {name} is missing or of the wrong type")
    return value


def _time(text: object, name: str) -> datetime:
    if not isinstance(text, str) or not text.endswith("Z"):
        raise EvidenceMalformed(f"{name} is not an RFC 3339 UTC time")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise EvidenceMalformed(f"{name} is not an RFC 3339 UTC time") from exc


def _bytes(text: object, name: str) -> bytes:
    return b64url_decode(text, error=EvidenceMalformed, what=name)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Record:
    document: dict[str, Any]
    verified_at: datetime
    expected: dict[str, Any]
    policy: dict[str, Any]
    presentation: dict[str, Any] | None
    revocation: dict[str, Any]
    verdict: dict[str, Any]
    card_data: dict[str, Any]
    digest: str


# Policy durations are whole seconds; the bound keeps date arithmetic in range.
_MAX_POLICY_SECONDS = 2**31 - 1


def _parse(evidence_json: str | bytes | dict[str, Any]) -> _Record:
    document = (
        evidence_json
        if isinstance(evidence_json, dict)
        else load_json_object(evidence_json, error=EvidenceMalformed, what="evidence", max_depth=4)
    )
    if document.get("type") != EVIDENCE_TYPE or document.get("version") != EVIDENCE_VERSION:
        raise EvidenceMalformed("not a version-1 cardcert evidence record")
    expected = _get(document, "expected", dict)
    for name in ("checkoutId", "nonce", "origin", "amount", "currency"):
        _get(expected, name, str)
    if expected.get("merchantName") is not None:
        _get(expected, "merchantName", str)
    policy = _get(document, "policy", dict)
    for name in ("maxSigningAgeSeconds", "maxClockSkewSeconds", "maxStatusAgeSeconds"):
        if not 0 <= _get(policy, name, int) <= _MAX_POLICY_SECONDS:
            raise EvidenceMalformed(f"policy.{name} is out of range")
    _get(policy, "allowFrictionless", bool)
    if policy.get("revocationMode") not in ("hard", "soft"):
        raise EvidenceMalformed("policy.revocationMode must be hard or soft")
    presentation = document.get("presentation")
    if presentation is not None:
        if not isinstance(presentation, dict):
            raise EvidenceMalformed("presentation must be an object or null")
        _get(presentation, "certificateChain", list)
    revocation = _get(document, "revocation", dict)
    verdict = _get(document, "verdict", dict)
    result = verdict.get("result")
    if not isinstance(result, str) or result not in {str(r) for r in VerdictResult}:
        raise EvidenceMalformed("verdict.result is not a known result")
    if verdict.get("code") is not None:
        _get(verdict, "code", str)
    integrity = _get(document, "integrity", dict)
    if integrity.get("algorithm") != _DIGEST_ALGORITHM:
        raise EvidenceMalformed("unsupported integrity algorithm")
    _get(integrity, "digest", str)
    _get(document, "checkoutId", str)
    try:
        digest = _digest(document)
    except ValueError as exc:  # not I-JSON (RFC 7493): no RFC 8785 form, no UTF-8 form
        raise EvidenceMalformed("the evidence cannot be canonicalised") from exc
    return _Record(
        document=document,
        verified_at=_time(document.get("verifiedAt"), "verifiedAt"),
        expected=expected,
        policy=policy,
        presentation=presentation,
        revocation=revocation,
        verdict=verdict,
        card_data=_get(document, "cardData", dict),
        digest=digest,
    )


def _first_field_failure(
    transaction: TransactionDescription, expected: dict[str, Any], policy: dict[str, Any]
) -> str | None:
    # Same order and comparisons as certs.verification.verify_presentation.
    if transaction.merchant_origin != expected["origin"]:
        return "origin_mismatch"
    name = expected.get("merchantName")
    if name is not None and transaction.merchant_name != name:
        return "merchant_name_mismatch"
    if transaction.currency != expected["currency"]:
        return "currency_mismatch"
    if transaction.amount != expected["amount"]:
        return "amount_mismatch"
    if transaction.checkout_id != expected["checkoutId"]:
        return "checkout_id_mismatch"
    if not hmac.compare_digest(transaction.nonce.encode(), expected["nonce"].encode()):
        return "nonce_mismatch"
    if transaction.confirmation is Confirmation.FRICTIONLESS and not policy["allowFrictionless"]:
        return "confirmation_not_accepted"
    return None


def verify_evidence(
    evidence_json: str | bytes | dict[str, Any], *, roots: Sequence[x509.Certificate]
) -> EvidenceReport:
    """Re-verify an evidence record offline, at its recorded verification time.

    Re-checks: the chain to ``roots`` at ``verifiedAt``; the revocation response (issuer
    signature, about this certificate, within the recorded maximum age at ``verifiedAt``);
    the certificate fingerprint binding; the signature over the recorded transaction bytes;
    the recorded expected fields against the signed ones; the signing-time window; that
    the recorded verdict (result, code, liability shift, confirmation) follows; and the
    integrity digest. Never raises for bad evidence: the report carries the code.

    Returns:
        EvidenceReport: ``verified`` and, when not, ``code``.
    """
    not_rechecked = (
        (
            "card_data",
            "the card-data secret is deliberately not kept, so the typed card data cannot be "
            "recomputed against the certificate's card-data digest",
        ),
        (
            "nonce",
            "single use of the nonce was a fact of the merchant's database at that time",
        ),
    )
    try:
        record = _parse(evidence_json)
        return _reverify(record, roots, not_rechecked)
    except EvidenceMalformed as error:
        return EvidenceReport(verified=False, code=error.code, not_rechecked=not_rechecked)


def _reverify(
    record: _Record, roots: Sequence[x509.Certificate], not_rechecked: tuple[tuple[str, str], ...]
) -> EvidenceReport:
    checks: list[EvidenceCheck] = []
    problems: list[str] = []  # consistency codes, in priority order of discovery
    doc, verdict, expected, policy = record.document, record.verdict, record.expected, record.policy
    recorded_result = verdict["result"]
    recorded_code = verdict.get("code")
    hard = policy["revocationMode"] == "hard"
    now = record.verified_at

    if doc["checkoutId"] != expected["checkoutId"]:
        problems.append(EvidenceInconsistent.code)
    if (recorded_result == "authenticated") != (recorded_code is None):
        problems.append(EvidenceInconsistent.code)
    if record.card_data.get("secretRetained") is not False:
        problems.append(EvidenceInconsistent.code)

    chain_code: str | None = None
    revocation_code: str | None = None
    other_code: str | None = None
    status: RevocationStatus | None = None
    transaction: TransactionDescription | None = None
    presentation = record.presentation
    if presentation is None:
        if recorded_result != "failed" or recorded_code not in (
            "presentation_malformed",
            "transaction_malformed",
        ):
            problems.append(EvidenceVerdictMismatch.code)
        checks.append(EvidenceCheck(name="presentation", ok=True, detail="none was parsed"))
    else:
        chain_der = [_bytes(c, "certificateChain") for c in presentation["certificateChain"]]
        raw = _bytes(presentation.get("transaction"), "transaction")
        signature = _bytes(presentation.get("signature"), "signature")
        staple_text = presentation.get("stapledStatus")
        staple = None if staple_text is None else _bytes(staple_text, "stapledStatus")
        chain: VerifiedChain | None = None
        try:
            transaction = TransactionDescription.parse(raw)
            chain = ChainVerifier(roots).verify(chain_der, now=now)
            checks.append(EvidenceCheck(name="certificate_path", ok=True))
        except CardcertError as error:
            chain_code = error.code
            checks.append(EvidenceCheck(name="certificate_path", ok=False, code=error.code))
        if chain is not None and transaction is not None:
            status, revocation_code = _recheck_revocation(
                record=record,
                chain=chain,
                staple=staple,
                now=now,
                hard=hard,
                checks=checks,
                problems=problems,
            )
            other_code = _recheck_signed(
                chain=chain,
                transaction=transaction,
                signature=signature,
                expected=expected,
                policy=policy,
                now=now,
                checks=checks,
            )
    recomputed = chain_code or revocation_code or other_code

    # Does the recorded verdict follow? (merchant.verifier's rule, module docstring)
    if presentation is not None:
        allowed: set[tuple[str, str | None]]
        if chain_code is not None:
            allowed = {("failed", chain_code)}
        elif revocation_code in ("cert_revoked", "status_invalid"):
            allowed = {("failed", revocation_code)}
        elif other_code is not None:
            allowed = {("failed", other_code)}
        else:
            verdict_if_ok = (
                ("unavailable", "status_unavailable")
                if revocation_code == "status_unavailable"
                else ("authenticated", None)
            )
            allowed = {verdict_if_ok} | {("failed", code) for code in _NOT_RECHECKABLE}
        if (recorded_result, recorded_code) not in allowed:
            problems.append(EvidenceVerdictMismatch.code)
            checks.append(
                EvidenceCheck(name="verdict", ok=False, code=EvidenceVerdictMismatch.code)
            )
        else:
            checks.append(EvidenceCheck(name="verdict", ok=True))
        if recorded_result == "authenticated" and transaction is not None and status is not None:
            shift = liability_shift(
                result=VerdictResult.AUTHENTICATED,
                revocation=status,
                confirmation=transaction.confirmation,
                policy=VerificationPolicy(allow_frictionless=policy["allowFrictionless"]),
            )
            if (
                verdict.get("liabilityShift") is not shift
                or verdict.get("confirmation") != str(transaction.confirmation)
                or record.card_data.get("checked") is not True
            ):
                problems.append(EvidenceInconsistent.code)
        elif recorded_result != "authenticated" and verdict.get("liabilityShift") is not False:
            problems.append(EvidenceInconsistent.code)

    digest_ok = hmac.compare_digest(
        str(doc["integrity"]["digest"]).encode(), record.digest.encode()
    )
    checks.append(
        EvidenceCheck(
            name="integrity",
            ok=digest_ok,
            code=None if digest_ok else EvidenceDigestMismatch.code,
        )
    )
    code: str | None = None
    if problems:
        if recorded_result == "authenticated" and recomputed is not None:
            code = recomputed
        else:
            code = problems[0]
    elif not digest_ok:
        code = EvidenceDigestMismatch.code
    return EvidenceReport(
        verified=code is None,
        code=code,
        recorded_result=recorded_result,
        recorded_code=recorded_code,
        recomputed_code=recomputed,
        checks=tuple(checks),
        not_rechecked=not_rechecked,
    )


def _recheck_revocation(
    *,
    record: _Record,
    chain: VerifiedChain,
    staple: bytes | None,
    now: datetime,
    hard: bool,
    checks: list[EvidenceCheck],
    problems: list[str],
) -> tuple[RevocationStatus, str | None]:
    revocation = record.revocation
    response_text = revocation.get("response")
    recorded_status = revocation.get("status")
    try:
        source = StatusSource(str(revocation.get("source")))
    except ValueError as exc:
        raise EvidenceMalformed("revocation.source is not a known source") from exc
    if response_text is None:
        status = RevocationStatus.unavailable()
        if source is not StatusSource.NONE:
            problems.append(EvidenceInconsistent.code)
    else:
        response = _bytes(response_text, "revocation.response")
        if source is StatusSource.STAPLED and response != staple:
            problems.append(EvidenceInconsistent.code)
        try:
            status = read_ocsp_response(
                response,
                certificate=chain.leaf,
                issuer_ca=chain.issuer_ca,
                now=now,
                max_age=timedelta(seconds=record.policy["maxStatusAgeSeconds"]),
                source=source,
            )
        except CardcertError as error:
            # The merchant used this response, so it was valid then: the record is wrong.
            checks.append(EvidenceCheck(name="revocation", ok=False, code=error.code))
            problems.append(error.code)
            return RevocationStatus.unavailable(), error.code
    if recorded_status != str(status.status):
        problems.append(EvidenceInconsistent.code)
    code: str | None = None
    if status.status is CertStatus.REVOKED:
        code = "cert_revoked"
    elif status.status is not CertStatus.GOOD and hard:
        code = "status_unavailable"
    checks.append(
        EvidenceCheck(name="revocation", ok=True, code=code, detail=f"{status.status} ({source})")
    )
    return status, code


def _recheck_signed(
    *,
    chain: VerifiedChain,
    transaction: TransactionDescription,
    signature: bytes,
    expected: dict[str, Any],
    policy: dict[str, Any],
    now: datetime,
    checks: list[EvidenceCheck],
) -> str | None:
    if not hmac.compare_digest(
        transaction.certificate_fingerprint.encode(), chain.fingerprint.encode()
    ):
        checks.append(
            EvidenceCheck(
                name="certificate_binding", ok=False, code="certificate_fingerprint_mismatch"
            )
        )
        return "certificate_fingerprint_mismatch"
    checks.append(EvidenceCheck(name="certificate_binding", ok=True))
    try:
        verify_raw_signature(chain.public_key, signature, transaction.raw)
    except CardcertError as error:
        checks.append(EvidenceCheck(name="signature", ok=False, code=error.code))
        return error.code
    checks.append(EvidenceCheck(name="signature", ok=True))
    failure = _first_field_failure(transaction, expected, policy)
    checks.append(EvidenceCheck(name="transaction_fields", ok=failure is None, code=failure))
    if failure is not None:
        return failure
    window_ok = (
        now - timedelta(seconds=policy["maxSigningAgeSeconds"])
        <= transaction.signed_at
        <= now + timedelta(seconds=policy["maxClockSkewSeconds"])
    )
    if not window_ok:
        checks.append(
            EvidenceCheck(name="signing_time", ok=False, code="signing_time_out_of_window")
        )
        return "signing_time_out_of_window"
    checks.append(EvidenceCheck(name="signing_time", ok=True))
    return None
