"""A test PKI shared by the Notation tests: keys are slow to make, so one set per session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.notation import NOW, Issued, make_ca, make_key, make_leaf
from tests.support.tsa import TestTSA
from tests.unit.signatures.notation.helpers import Pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    root = make_ca()
    intermediate = make_ca("Notation Test Intermediate", issuer=root)
    return Pki(
        root=root,
        intermediate=intermediate,
        ec256=make_leaf(intermediate, key=make_key("ec", 256)),
        ec384=make_leaf(intermediate, key=make_key("ec", 384)),
        rsa2048=make_leaf(intermediate, key=make_key("rsa", 2048)),
        other_root=make_ca("Someone Else's Root"),
    )


@pytest.fixture(scope="session")
def tsa() -> TestTSA:
    """The timestamp authority whose root the tests' ``tsa:acme-tsa`` store holds."""
    return TestTSA(name="acme-tsa")


@pytest.fixture(scope="session")
def expired(pki: Pki) -> Issued:
    """A signing certificate valid from 30 days to 2 days before NOW: only a timestamp saves it."""
    return make_leaf(pki.intermediate, not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=2))
