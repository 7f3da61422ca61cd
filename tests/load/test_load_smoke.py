"""``scripts/load.py --smoke`` runs clean, so the locust files cannot rot unnoticed.

Starts issuer and merchant on SQLite, seeds 40 enrolled cardholders in bulk (the checkout
pool is drawn from them) and enrolls the revoked ones through the API, runs locust
headless for 5 seconds with 6 users (checkouts including every kind of bad presentation,
enrollment and renewal) and asserts exit 0: no unexpected failure, no locust exception,
no double-accepted nonce.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Importing locust monkey-patches the whole process with gevent (threads become greenlets),
# which would hang the rest of the suite: only look for it, run it in a subprocess.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (pip install -e '.[load]')", allow_module_level=True)


def test_load_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "load.py"),
            "--smoke",
            "--seed",
            "40",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "seeded 40 cards with credentials" in done.stderr
    assert "unexpected failures: none" in done.stdout
    assert "-> OK" in done.stdout  # the nonce check
    with (tmp_path / "locust_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert "/v1/checkouts/{id}/verify [good]" in rows
    # The checkout pool was drawn from the seeded cardholders (one draw per locust process).
    assert int(rows["cardholders from --pool-file"]["Request Count"]) == 1
    assert int(rows["cardholders from --pool-file"]["Failure Count"]) == 0
    assert (tmp_path / "report.html").exists()
