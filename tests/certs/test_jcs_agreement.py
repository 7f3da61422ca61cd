"""service_worker/static/jcs.js and certs.canonical_json produce the same RFC 8785 bytes.

Both sides parse the same JSON *text* from tests/vectors/jcs/cases.json (so number
literals and escapes are identical), canonicalise it and the UTF-8 bytes are compared;
where the vectors give an ``expected`` text (written from RFC 8785), both must equal it.

Known difference by construction, not exercised: Python parses integer literals beyond
2^53 as exact ints and rfc8785 rejects them, JavaScript rounds them to a double. cardcert
transactions carry amounts as strings and ``version`` as a small integer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from certs.canonical_json import canonical_json
from certs.presentation import Presentation
from tests.certs.vectors import VECTORS, read

NODE = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)
RUNNER = Path(__file__).with_name("jcs_runner.mjs")
VECTOR_FILE = VECTORS / "jcs/cases.json"
DATA: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))

pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not installed")


@pytest.fixture(scope="module")
def javascript() -> dict[str, Any]:
    """Everything jcs.js made of the vectors, from one Node process."""
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(RUNNER), str(VECTOR_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def _name(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize("case", DATA["cases"], ids=_name)
def test_python_and_javascript_agree(case: dict[str, Any], javascript: dict[str, Any]) -> None:
    python = canonical_json(json.loads(case["json"]))
    result = javascript["cases"][case["name"]]
    assert "error" not in result, result
    assert bytes.fromhex(result["hex"]) == python
    if "expected" in case:
        assert python == case["expected"].encode("utf-8")


@pytest.mark.parametrize("case", DATA["reject"], ids=_name)
def test_both_reject_what_utf8_json_cannot_carry(
    case: dict[str, Any], javascript: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"."):
        canonical_json(json.loads(case["json"]))
    assert "error" in javascript["reject"][case["name"]]


@pytest.mark.parametrize("name", DATA["reject_javascript_values"])
def test_javascript_rejects_values_that_are_not_json(name: str, javascript: dict[str, Any]) -> None:
    expected = "RangeError" if name in {"NaN", "Infinity", "-Infinity"} else "TypeError"
    assert javascript["reject_javascript_values"][name] == {"error": expected}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_python_rejects_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError, match=r"."):
        canonical_json({"amount": value})


def test_vectors_include_the_signed_transaction() -> None:
    raw = Presentation.parse(read("presentations/ok.json")).transaction.raw
    texts = {case["json"].encode("utf-8") for case in DATA["cases"]}
    assert raw in texts
