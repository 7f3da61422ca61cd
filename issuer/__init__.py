"""The cardcert issuer service: cards, activation, enrollment, renewal, revocation, status.

``create_app(settings)`` builds the aiohttp application; ``python -m issuer`` serves it and
runs the operator commands. docs/issuer.md is the operator's guide; docs/interfaces.md the
wire contract this implements.
"""

from __future__ import annotations

from issuer.app import create_app
from issuer.settings import ConfigurationError, IssuerSettings

__all__ = ["ConfigurationError", "IssuerSettings", "create_app"]
