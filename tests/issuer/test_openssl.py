"""Interoperability with a generic client: ``openssl ocsp`` against the running issuer, and
``openssl crl`` / ``openssl verify -crl_check`` on its CRL.

The app runs on a real TCP port on 127.0.0.1 (aiohttp's TestServer behind the
``aiohttp_client`` fixture); openssl runs as a subprocess without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.issuer.helpers import Issuer, leaf_of

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


async def _openssl(*args: str | Path) -> tuple[int, str, str]:
    assert OPENSSL is not None
    process = await asyncio.create_subprocess_exec(
        OPENSSL,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _pem(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


async def test_openssl_ocsp_says_good_then_revoked(issuer: Issuer, tmp_path: Path) -> None:
    _, _, enrolled = await issuer.enrolled()
    card = _pem(tmp_path / "card.pem", leaf_of(enrolled))
    url = str(issuer.client.make_url("/ocsp"))
    assert url.startswith("http://127.0.0.1:")
    command = (
        "ocsp",
        "-issuer",
        issuer.issuer_pem,
        "-cert",
        card,
        "-url",
        url,
        "-CAfile",
        issuer.root_pem,
    )

    code, out, err = await _openssl(*command)
    assert code == 0, err
    assert f"{card}: good" in out
    assert "Response verify OK" in err
    assert "WARNING" not in err  # the nonce was echoed

    await issuer.revoke_credential(enrolled["credentialId"], "keyCompromise")

    code, out, err = await _openssl(*command)
    assert code == 0, err
    assert f"{card}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert "Response verify OK" in err


async def test_openssl_parses_the_crl_and_finds_the_revoked_serial(
    issuer: Issuer, tmp_path: Path
) -> None:
    _, _, enrolled = await issuer.enrolled()
    _, _, kept = await issuer.enrolled()
    await issuer.revoke_credential(enrolled["credentialId"], "cessationOfOperation")
    crl_der = tmp_path / "crl.der"
    crl_der.write_bytes(await (await issuer.client.get("/crl")).read())

    code, out, err = await _openssl("crl", "-inform", "DER", "-in", crl_der, "-text", "-noout")
    assert code == 0, err
    listed = {int(serial, 16) for serial in re.findall(r"Serial Number: ([0-9A-F]+)", out)}
    assert listed == {leaf_of(enrolled).serial_number}
    assert "Cessation Of Operation" in out
    assert "X509v3 CRL Number" in out
    assert "X509v3 Authority Key Identifier" in out
    assert "Next Update" in out

    # The signature verifies against the issuer CA, and a CRL-checking verifier rejects the
    # revoked card certificate but accepts the other one.
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issuer.issuer_pem.read_bytes() + issuer.root_pem.read_bytes())
    code, _, err = await _openssl(
        "crl", "-inform", "DER", "-in", crl_der, "-CAfile", chain, "-noout"
    )
    assert code == 0, err
    assert "verify OK" in err
    crl_pem = tmp_path / "crl.pem"
    crl_pem.write_bytes(
        x509.load_der_x509_crl(crl_der.read_bytes()).public_bytes(serialization.Encoding.PEM)
    )
    for certificate, expected in ((enrolled, 2), (kept, 0)):
        leaf = _pem(tmp_path / "leaf.pem", leaf_of(certificate))
        code, out, err = await _openssl(
            "verify",
            "-crl_check",
            "-CAfile",
            issuer.root_pem,
            "-untrusted",
            issuer.issuer_pem,
            "-CRLfile",
            crl_pem,
            leaf,
        )
        assert code == expected, out + err
        if expected:
            assert "certificate revoked" in out + err
