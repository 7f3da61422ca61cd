"""Web origins (RFC 6454) in their serialised form, as browsers write them.

The merchant origin bound into a signature is derived by the Service Worker from the
return URL; a verifier compares the signed origin with the one it expects byte for byte,
so both sides must use the same serialisation: lower-case scheme and host, no default
port, no path. Plain ``http`` is accepted only for hosts a browser treats as a secure
context (``localhost``, ``*.localhost``, ``127.0.0.1``), as in development.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

__all__ = ["is_serialised_origin", "origin_of_url"]

_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_IPV4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")


def _secure_context_http_host(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost") or host == "127.0.0.1"


def origin_of_url(url: str) -> str | None:
    """The serialised origin of an absolute ``https`` (or local ``http``) URL, else None."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if not (_HOST.fullmatch(host) or _IPV4.fullmatch(host)):
        return None
    if scheme == "http" and not _secure_context_http_host(host):
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_serialised_origin(text: object) -> bool:
    """Whether ``text`` is already an origin in its serialised form."""
    return isinstance(text, str) and _is_serialised(text)


@functools.lru_cache(maxsize=256)
def _is_serialised(text: str) -> bool:
    # Pure, and asked for every signed transaction, whose origins are a merchant's few:
    # remembered (bounded) rather than re-split per request.
    return origin_of_url(text) == text
