"""The merchant software's name and version, as recorded in every evidence record."""

from __future__ import annotations

__all__ = ["SOFTWARE_NAME", "__version__"]

SOFTWARE_NAME = "cardcert-merchant"
__version__ = "0.1.0"
