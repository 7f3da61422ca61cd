"""Keep card data out of logs: a logging filter and the configuration that installs it.

Handlers never log request bodies. As a second line of defence, every record passing the
filter has digit runs that look like a PAN (12-19 digits, spaces/dashes allowed, Luhn
valid) replaced by ``[PAN]`` before it is formatted.
"""

from __future__ import annotations

import logging
import re

from certs.card_data import luhn_valid

__all__ = ["RedactingFilter", "configure_logging", "redact"]

_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){11,18}(?![0-9])")


def redact(text: str) -> str:
    """Replace anything that looks like a PAN with ``[PAN]``."""

    def _replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        return "[PAN]" if luhn_valid(digits) else match.group(0)

    return _CANDIDATE.sub(_replace, text)


class RedactingFilter(logging.Filter):
    """Formats each record's message once, redacted, and drops its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr, one line per record, through the redacting filter."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(process)d %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiosqlite logs every statement with its parameters at DEBUG; keep it out of the logs.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
