"""The merchant's Prometheus metrics (labels are fixed codes, never request data)."""

from __future__ import annotations

from servicekit.metrics import Counter, Histogram, Registry

__all__ = ["MerchantMetrics"]


class MerchantMetrics:
    """Counters and histograms of one worker process, on top of the HTTP latency histogram."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.verifications: Counter = self.registry.counter(
            "merchant_verifications_total", "Verification verdicts", ["result", "code"]
        )
        self.verification_seconds: Histogram = self.registry.histogram(
            "merchant_verification_duration_seconds",
            "Time to reach a verdict (status fetch and database included)",
            ["result"],
        )
        self.revocation: Counter = self.registry.counter(
            "merchant_revocation_status_total",
            "Where revocation statuses came from",
            ["staple", "live"],
        )
        self.checkouts: Counter = self.registry.counter(
            "merchant_checkouts_created_total", "Checkouts created", ["issuer"]
        )
        self.checkout_rejections: Counter = self.registry.counter(
            "merchant_checkout_rejections_total", "Checkout creations refused", ["code"]
        )
        self.expired: Counter = self.registry.counter(
            "merchant_checkouts_expired_total", "Checkouts expired by the sweep or lazily"
        )

    def render(self) -> str:
        return self.registry.render()
