"""``cardcert``: certificate tools for developers, issuers and merchants.

    cardcert pki init DIR [--issuer-name NAME] [--passphrase-env VAR]
    cardcert test-card DIR --pan PAN --expiry MM/YY --cvc CVC [--out OUT] [--issuer-url URL]
    cardcert inspect CERT.pem|CERT.der
    cardcert evidence verify FILE --trust ROOT.pem

The tools never print card data: a test card's PAN and security code are read from the
command line, used to compute the digest, and not written anywhere.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from certs.card_data import CardData
from certs.credential import CardholderCredential
from certs.dev_pki import DevPki
from certs.digest_extension import decode_digest_extension
from certs.errors import CardcertError
from certs.keys import der_fingerprint
from certs.oids import CARD_DATA_DIGEST_EXTENSION, CARDHOLDER_AUTHENTICATION_EKU

__all__ = ["main"]


def _passphrase(env_name: str | None) -> bytes | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise SystemExit(f"cardcert: environment variable {env_name} is empty")
    return value.encode("utf-8")


def _pki_init(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if DevPki.exists(directory) and not args.force:
        print(
            f"cardcert: {directory} already holds a PKI (use --force to replace it)",
            file=sys.stderr,
        )
        return 1
    pki = DevPki.create(now=datetime.now(UTC), issuer_name=args.issuer_name)
    pki.save(directory, _passphrase(args.passphrase_env))
    print(
        f"network root:  {directory / 'root-ca.pem'}  (give this to merchants as the trust anchor)"
    )
    print(f"issuer CA:     {directory / 'issuer-ca.pem'}")
    print(f"private keys:  {directory / 'root-ca.key'}, {directory / 'issuer-ca.key'} (mode 0600)")
    return 0


def _test_card(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    pki = DevPki.load(directory, _passphrase(args.passphrase_env))
    card = CardData.parse(pan=args.pan, expiry=args.expiry, security_code=args.cvc)
    base = args.issuer_url.rstrip("/")
    credential = CardholderCredential.issue(
        pki,
        card,
        now=datetime.now(UTC),
        crl_url=f"{base}/crl",
        ocsp_url=f"{base}/ocsp",
        validity=timedelta(days=args.days),
    )
    out = Path(args.out) if args.out else directory / "test-cards" / credential.fingerprint[:16]
    credential.save(out)
    print(f"test credential for card ****{card.last4} written to {out}/")
    print("  credential.key            the cardholder's private key (0600)")
    print("  card-data-secret.b64url   the per-credential card-data secret (0600)")
    print("  chain.pem                 card certificate + issuer CA")
    print(f"fingerprint: {credential.fingerprint}")
    return 0


def _load_any_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)[0]
    return x509.load_der_x509_certificate(data)


def _inspect(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = _load_any_certificate(Path(args.cert))
    der = certificate.public_bytes(Encoding.DER)
    lines = [
        f"subject:       {certificate.subject.rfc4514_string()}",
        f"issuer:        {certificate.issuer.rfc4514_string()}",
        f"serial:        {certificate.serial_number:x}",
        f"valid:         {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} to "
        f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        f"fingerprint:   {der_fingerprint(der)} (SHA-256, base64url)",
        f"key:           {type(certificate.public_key()).__name__}",
    ]
    try:
        basic = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
        is_ca = isinstance(basic, x509.BasicConstraints) and basic.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        lines.append("kind:          certificate authority")
    else:
        try:
            eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            card_cert = CARDHOLDER_AUTHENTICATION_EKU in eku
        except x509.ExtensionNotFound:
            card_cert = False
        lines.append(f"kind:          {'card certificate' if card_cert else 'other end-entity'}")
        try:
            certificate.extensions.get_extension_for_oid(CARD_DATA_DIGEST_EXTENSION)
            digest = decode_digest_extension(certificate)
            lines.append(
                f"card binding:  keyed digest ({digest.algorithm.dotted_string}, "
                f"{len(digest.digest)} bytes); the card data itself is not in the certificate"
            )
        except x509.ExtensionNotFound:
            lines.append("card binding:  none")
        except CardcertError as error:
            lines.append(f"card binding:  invalid ({error.code})")
    for line in lines:
        print(line)
    return 0


def _evidence(argv: list[str]) -> int:
    # The evidence tools belong to the merchant package; imported only when asked for.
    evidence_cli = importlib.import_module("merchant.evidence_cli")
    return int(evidence_cli.main(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardcert", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    pki = commands.add_parser("pki", help="development PKI").add_subparsers(
        dest="pki_command", required=True
    )
    init = pki.add_parser("init", help="create a network root and an issuer CA in DIR")
    init.add_argument("dir")
    init.add_argument("--issuer-name", default="Demo Bank")
    init.add_argument(
        "--passphrase-env", help="encrypt the keys with the passphrase in this variable"
    )
    init.add_argument("--force", action="store_true")
    init.set_defaults(handler=_pki_init)

    card = commands.add_parser("test-card", help="mint a test credential (key, secret, chain)")
    card.add_argument("dir", help="a directory made by `cardcert pki init`")
    card.add_argument("--pan", required=True)
    card.add_argument("--expiry", required=True, help="MM/YY, MM/YYYY, ...")
    card.add_argument("--cvc", required=True)
    card.add_argument("--out")
    card.add_argument("--days", type=int, default=90)
    card.add_argument("--issuer-url", default="http://issuer.localhost:8001")
    card.add_argument("--passphrase-env")
    card.set_defaults(handler=_test_card)

    inspect = commands.add_parser("inspect", help="describe a certificate in human terms")
    inspect.add_argument("cert")
    inspect.set_defaults(handler=_inspect)

    commands.add_parser(
        "evidence", help="evidence tools (verify FILE --trust ROOT.pem)", add_help=False
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["evidence"]:
        return _evidence(arguments[1:])
    args = build_parser().parse_args(arguments)
    try:
        return int(args.handler(args))
    except CardcertError as error:
        print(f"cardcert: {error.code}: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
