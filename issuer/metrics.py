"""The issuer's Prometheus metrics (servicekit.metrics), per worker process.

Labels are fixed, low-cardinality values (error codes, reasons, statuses), never request
data. ``http_request_duration_seconds`` (route, method, status) comes with the registry.
"""

from __future__ import annotations

from servicekit.metrics import Registry

__all__ = ["IssuerMetrics"]


class IssuerMetrics:
    """Every counter the issuer exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = Registry()
        counter = self.registry.counter
        self.cards_registered = counter("issuer_cards_registered_total", "Cards registered")
        self.activation_codes_issued = counter(
            "issuer_activation_codes_issued_total", "Activation codes issued"
        )
        self.certificates_minted = counter(
            "issuer_certificates_minted_total", "Card certificates minted at enrollment"
        )
        self.certificates_renewed = counter(
            "issuer_certificates_renewed_total", "Card certificates minted by renewal"
        )
        self.certificates_revoked = counter(
            "issuer_certificates_revoked_total", "Card certificates revoked", ["reason"]
        )
        self.enrollment_failures = counter(
            "issuer_enrollment_failures_total", "Refused enrollments by error code", ["code"]
        )
        self.renewal_failures = counter(
            "issuer_renewal_failures_total", "Refused renewals by error code", ["code"]
        )
        self.status_responses = counter(
            "issuer_status_responses_total",
            "OCSP responses served, by endpoint and certificate status",
            ["endpoint", "status"],
        )
        self.status_cache = counter(
            "issuer_status_cache_total", "Signed status responses reused or signed", ["result"]
        )
        self.crls_signed = counter("issuer_crls_signed_total", "CRLs signed by this worker")

    def render(self) -> str:
        return self.registry.render()
