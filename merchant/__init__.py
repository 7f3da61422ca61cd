"""cardcert merchant verifier: checkout API, verification, evidence and a demo shop.

Library entry point: :mod:`merchant.verifier`. Service: :func:`merchant.app.create_app`
(``python -m merchant serve``), also importable as ``merchant.create_app``. Offline
evidence checks: :func:`merchant.evidence.verify_evidence`. See docs/merchant.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from merchant.version import __version__

if TYPE_CHECKING:
    from merchant.app import create_app
    from merchant.settings import Settings

__all__ = ["Settings", "__version__", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `merchant.evidence` (offline checks) does not import the web stack.
    if name == "create_app":
        from merchant.app import create_app

        return create_app
    if name == "Settings":
        from merchant.settings import Settings

        return Settings
    raise AttributeError(name)
