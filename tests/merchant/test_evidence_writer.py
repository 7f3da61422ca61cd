"""merchant.evidence writes documents directly; the bytes are those of the general path.

``build_evidence`` sets each value, written once, into two fixed templates (document order
and RFC 8785 order) and leaves anything else to ``_general_evidence`` (a dict through
``canonical_json`` and ``json.dumps``), the reference here. Evaluations are drawn with
tricky text (escapes, non-ASCII, lone surrogates), flags that are not bools, timedeltas to
their extremes, presentations parsed (wire text kept) or built or changed with replace(),
and every revocation and verdict shape.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from certs.dev_pki import DevPki
from certs.presentation import Presentation
from certs.revocation import CertStatus, RevocationStatus, StatusSource
from certs.transaction import Confirmation
from certs.verification import VerificationPolicy
from merchant.evidence import (
    EvidenceContext,
    _fast_evidence,
    _general_evidence,
    _NotPlain,
    build_evidence,
    verify_evidence,
)
from merchant.status import LiveOutcome, ResolvedStatus, StapleOutcome
from merchant.verdict import Verdict, VerdictResult
from merchant.verifier import Evaluation, ExpectedTransaction
from tests.merchant.conftest import build_ocsp_response, issue

_EXPLORE = os.environ.get("CARDCERT_FUZZ_EXAMPLES")
_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029\ud800\udfff😀é'),
    ),
    max_size=8,
)
# Without lone surrogates: text the direct writer writes (lone ones: the general path).
_UTF8_TEXT = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029😀é'),
    ),
    max_size=8,
)
# Any timedelta's whole seconds (timedelta.min to timedelta.max, within 2**53 - 1).
_SECONDS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(-86_399_999_913_600, 86_399_999_999_999),
)
_TIMES = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2001, 1, 1),
        max_value=datetime(2099, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
)


@pytest.fixture(scope="module")
def presentations() -> dict[str, Presentation | None]:
    """A parsed presentation (wire text kept), the same built in Python (none kept), one
    changed with replace() (none kept), one without a staple, and none at all."""
    pki = DevPki.create(now=datetime.now(UTC) - timedelta(days=1))
    credential = issue(pki, ocsp_url="http://issuer.localhost/ocsp")
    staple = build_ocsp_response(pki, credential.certificate)
    built = credential.present(
        merchant_origin="https://shop.example",
        merchant_name="Shop",
        amount="12.30",
        currency="EUR",
        checkout_id="co_evidence",
        nonce="A" * 43,
        signed_at=datetime.now(UTC),
        status=staple,
    )
    parsed = Presentation.parse(built.to_json())
    return {
        "parsed": parsed,
        "built": built,
        "replaced": replace(parsed, signature=b"\x01" * 64),
        "no_staple": Presentation.parse(replace(built, status=None).to_json()),
        "none": None,
    }


def _evaluation(draw: Any, presentation: Presentation | None, *, plain: bool) -> Evaluation:
    """Half of the evaluations (``plain``) hold only what the direct writer writes; the
    others may hold non-bool flags (0, 1, None) and lone surrogates too."""
    text = _UTF8_TEXT if plain else _TEXT
    flag = st.booleans() if plain else st.one_of(st.booleans(), st.sampled_from([0, 1, None]))
    raw = draw(
        st.sampled_from(
            [b""]
            + ([presentation.status] if presentation and presentation.status else [])
            + [b"\x30\x03\x0a\x01\x00"]
        )
    )
    revocation = RevocationStatus(
        status=draw(st.sampled_from(CertStatus)),
        source=draw(st.sampled_from(StatusSource)),
        this_update=draw(_TIMES),
        next_update=draw(_TIMES),
        raw=raw,
    )
    resolved = draw(
        st.one_of(
            st.none(),
            st.builds(
                ResolvedStatus,
                status=st.just(revocation),
                staple=st.sampled_from(StapleOutcome),
                live=st.sampled_from(LiveOutcome),
                live_error=st.one_of(st.none(), text),
            ),
        )
    )
    verdict = Verdict(
        result=draw(st.sampled_from(VerdictResult)),
        code=draw(st.one_of(st.none(), st.sampled_from(["cert_revoked", "nonce_replayed"]), text)),
        liability_shift=draw(flag),
        confirmation=draw(st.one_of(st.none(), st.sampled_from(Confirmation))),
        revocation_checked=draw(flag),
        revocation_source=draw(st.sampled_from(StatusSource)),
    )
    policy = VerificationPolicy(
        max_signing_age=timedelta(seconds=draw(_SECONDS)),
        max_clock_skew=timedelta(seconds=draw(_SECONDS)),
        require_revocation_status=draw(st.booleans()),
        allow_frictionless=draw(flag),
    )
    checks = draw(st.lists(st.sampled_from(["signature", "nonce", "card_data"]) | text))
    return Evaluation(
        verdict=verdict,
        expected=ExpectedTransaction(
            checkout_id=draw(text),
            nonce=draw(text),
            origin=draw(text),
            merchant_name=draw(st.one_of(st.none(), text)),
            amount=draw(text),
            currency=draw(text),
        ),
        now=draw(st.datetimes(timezones=st.just(UTC))),
        policy=policy,
        presentation=presentation,
        chain=draw(st.sampled_from([None, SimpleNamespace()])),
        resolved=resolved,
        verified=draw(st.sampled_from([None, SimpleNamespace(checks=tuple(checks))])),
        nonce_unused=draw(flag),
        attributable=draw(flag),
        card_data_checked=draw(flag),
    )


def _outcome(write: Any, evaluation: Evaluation, evidence_id: str, context: Any) -> Any:
    try:
        return write(evaluation, evidence_id=evidence_id, context=context)
    except _NotPlain:
        return _NotPlain
    except ValueError:
        return ValueError


@settings(
    max_examples=int(_EXPLORE) if _EXPLORE else 600,
    deadline=None,
    derandomize=_EXPLORE is None,
    database=None,
)
@given(data=st.data())
def test_direct_writer_matches_general_path(
    presentations: dict[str, Presentation | None], data: st.DataObject
) -> None:
    presentation = presentations[data.draw(st.sampled_from(sorted(presentations)))]
    plain = data.draw(st.booleans())
    text = _UTF8_TEXT if plain else _TEXT
    evaluation = _evaluation(data.draw, presentation, plain=plain)
    evidence_id = data.draw(st.one_of(st.just("ev_abc"), text))
    context = EvidenceContext(
        max_status_age=timedelta(seconds=data.draw(_SECONDS)),
        software_name=data.draw(st.one_of(st.just("cardcert-merchant"), text)),
        software_version=data.draw(st.one_of(st.just("1.0"), text)),
    )
    general = _outcome(_general_evidence, evaluation, evidence_id, context)
    fast = _outcome(_fast_evidence, evaluation, evidence_id, context)
    if plain:
        assert fast is not _NotPlain  # so the comparison below is made
    if fast is not _NotPlain:
        event("direct writer")
        assert fast == general
    assert _outcome(build_evidence, evaluation, evidence_id, context) == general


def test_ordinary_evaluations_take_the_direct_path(presentations):
    """The service's own documents never need the general path (so the test above is the
    one that matters), and they re-verify as far as the record goes (integrity)."""
    now = datetime.now(UTC)
    for name, presentation in presentations.items():
        status = (
            RevocationStatus.unavailable()
            if presentation is None or presentation.status is None
            else RevocationStatus(
                status=CertStatus.GOOD,
                source=StatusSource.STAPLED,
                this_update=now - timedelta(minutes=1),
                next_update=now + timedelta(days=1),
                raw=presentation.status,
            )
        )
        evaluation = Evaluation(
            verdict=Verdict(
                result=VerdictResult.FAILED,
                code="signature_invalid",
                liability_shift=False,
                confirmation=Confirmation.EXPLICIT,
                revocation_checked=True,
                revocation_source=status.source,
            ),
            expected=ExpectedTransaction(
                checkout_id="co_evidence",
                nonce="A" * 43,
                origin="https://shop.example",
                merchant_name='Café ☕ "quoted" \\ \u2028',
                amount="12.30",
                currency="EUR",
            ),
            now=now,
            policy=VerificationPolicy(),
            presentation=presentation,
            chain=None,
            resolved=ResolvedStatus(
                status=status,
                staple=StapleOutcome.USED,
                live=LiveOutcome.NOT_NEEDED,
                live_error=None,
            ),
            verified=None,
            nonce_unused=True,
            attributable=False,
            card_data_checked=False,
        )
        context = EvidenceContext(max_status_age=timedelta(hours=24))
        document = _fast_evidence(evaluation, evidence_id="ev_x", context=context)
        assert document == _general_evidence(evaluation, evidence_id="ev_x", context=context), name
        report = verify_evidence(document, roots=[])
        assert next(c for c in report.checks if c.name == "integrity").ok, name
