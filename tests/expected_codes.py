"""Error codes a parser may answer, shared by the property tests and the fuzzers."""

from __future__ import annotations

# certs.chain.ChainVerifier and load_certificate on any input.
CHAIN_CODES = frozenset(
    {
        "cert_malformed",
        "cert_expired",
        "cert_not_yet_valid",
        "cert_signature_invalid",
        "cert_profile_violation",
        "untrusted_root",
        "wrong_eku",
        "unsupported_key",
        "unknown_critical_extension",
        "digest_algorithm_unsupported",
    }
)
# certs.card_data.CardData.parse on any input.
CARD_DATA_CODES = frozenset(
    {"pan_invalid", "expiry_invalid", "security_code_invalid", "name_invalid"}
)
