"""``cardcert evidence verify FILE --trust ROOT.pem``: re-verify an evidence file offline.

Exit status: 0 verified, 1 rejected (the code is printed), 2 usage error. Run it as
``python -m merchant.evidence_cli verify FILE --trust ROOT.pem`` too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from merchant.evidence import EvidenceReport, verify_evidence

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _print_report(path: str, report: EvidenceReport) -> None:
    if report.verified:
        print(
            f"{path}: verified ({report.recorded_result}"
            + (f", {report.recorded_code}" if report.recorded_code else "")
            + ")"
        )
    else:
        print(f"{path}: rejected: {report.code}")
    for check in report.checks:
        mark = "ok " if check.ok else "BAD"
        suffix = f" [{check.code}]" if check.code else ""
        detail = f" {check.detail}" if check.detail else ""
        print(f"  {mark} {check.name}{suffix}{detail}")
    for what, why in report.not_rechecked:
        print(f"  --- {what}: not re-checked: {why}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` excludes the program name (``["verify", FILE, "--trust", PEM]``)."""
    parser = _Parser(prog="cardcert evidence", description="Evidence records")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="re-verify an evidence file offline")
    verify.add_argument("file", help="evidence JSON file (GET /v1/evidence/{id})")
    verify.add_argument(
        "--trust", required=True, action="append", metavar="ROOT.pem", help="network root(s)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:
        return int(exit_.code or 0) if exit_.code not in (None, 0) else 0
    roots: list[x509.Certificate] = []
    try:
        for path in args.trust:
            roots.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        document = Path(args.file).read_bytes()
    except (OSError, ValueError) as error:
        print(f"cardcert evidence: error: {error}", file=sys.stderr)
        return 2
    report = verify_evidence(document, roots=roots)
    if args.json:
        print(
            json.dumps(
                {
                    "verified": report.verified,
                    "code": report.code,
                    "recordedResult": report.recorded_result,
                    "recordedCode": report.recorded_code,
                    "recomputedCode": report.recomputed_code,
                    "checks": [
                        {"name": c.name, "ok": c.ok, "code": c.code, "detail": c.detail}
                        for c in report.checks
                    ],
                    "notRechecked": [{"what": w, "why": y} for w, y in report.not_rechecked],
                },
                indent=2,
            )
        )
    else:
        _print_report(args.file, report)
    return 0 if report.verified else 1


if __name__ == "__main__":
    sys.exit(main())
