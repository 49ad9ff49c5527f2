"""A test PKI shared by the Notation tests: keys are slow to make, so one set per session."""

from __future__ import annotations

import pytest

from tests.support.notation import make_ca, make_key, make_leaf
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
