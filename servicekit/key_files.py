"""32-byte symmetric keys kept in files (unpadded base64url, mode 0600).

Development deployments generate them on first start; production deployments provide
them (or set them in the environment) and never generate.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from certs.wire import b64url_decode, b64url_encode

__all__ = ["KEY_BYTES", "create_key_file", "read_key_file"]

KEY_BYTES = 32


def read_key_file(path: Path, *, error: type[Exception]) -> bytes:
    """Read a key file; raise ``error`` unless it holds 32 bytes, unpadded base64url."""
    key = b64url_decode(path.read_text().strip(), error=error, what=str(path))
    if len(key) != KEY_BYTES:
        raise error(f"{path} must hold 32 bytes, unpadded base64url")
    return key


def create_key_file(path: Path, *, error: type[Exception]) -> bytes:
    """Create ``path`` with a new random key (0600); if another process won, read theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return read_key_file(path, error=error)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(b64url_encode(key) + "\n")
    return key
