"""Reading a service's settings from environment variables with one prefix."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PrefixedEnvironment"]


class PrefixedEnvironment:
    """``PREFIX_NAME`` variables, where an empty value counts as unset."""

    def __init__(self, prefix: str, environ: Mapping[str, str] | None = None) -> None:
        self._prefix = prefix
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        value = self._environ.get(self._prefix + name)
        return value if value not in (None, "") else None

    def flag(self, name: str, *, error: type[Exception]) -> bool | None:
        """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off`` (any case), None
        when unset; anything else raises ``error`` naming the variable."""
        text = self.get(name)
        if text is None:
            return None
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise error(f"{self._prefix}{name} must be 1 or 0")

    def common_values(self) -> dict[str, Any]:
        """``data_dir`` from ``PREFIX_DATA_DIR``; ``database_url`` from ``PREFIX_DATABASE_URL``,
        else the shared ``DATABASE_URL``."""
        values: dict[str, Any] = {}
        if (data_dir := self.get("DATA_DIR")) is not None:
            values["data_dir"] = Path(data_dir)
        database_url = self.get("DATABASE_URL") or self._environ.get("DATABASE_URL") or None
        if database_url:
            values["database_url"] = database_url
        return values
