"""Fixtures for the certs tests."""

from __future__ import annotations

import pytest

from tests.certs.fresh_chain import FreshChain, mint_fresh_chain


@pytest.fixture(scope="session")
def fresh_chain(tmp_path_factory: pytest.TempPathFactory) -> FreshChain:
    """A root, issuer CA and card certificate minted now by the production code."""
    return mint_fresh_chain(tmp_path_factory.mktemp("fresh-chain"))
