"""docs/security.md cites tests as proof: every cited test must exist.

A mitigation row that names a test which was renamed or deleted would claim a proof that
no longer runs, so the suite fails instead.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
_CITATION = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?")


def _citations() -> list[tuple[str, str | None]]:
    return [(match[1], match[2]) for match in _CITATION.finditer(DOC.read_text("utf-8"))]


def test_the_threat_model_cites_tests() -> None:
    assert len(_citations()) >= 30


def test_every_cited_test_exists() -> None:
    missing = []
    for path, name in _citations():
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name is not None and not re.search(
            rf"^\s*(async )?def {name}\(", source.read_text("utf-8"), re.M
        ):
            missing.append(f"{path}::{name}")
    assert missing == []
