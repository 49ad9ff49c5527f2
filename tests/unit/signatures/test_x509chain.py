"""Certificate paths at a given moment: the checks keyless cosign and Notation share."""

from __future__ import annotations

from datetime import timedelta

import pytest

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.x509chain import load_pem_certificates, verify_chain
from tests.support import notation
from tests.support.notation import NOW, make_ca, make_leaf


def test_a_leaf_chains_through_an_intermediate_at_a_time_inside_every_validity() -> None:
    root = make_ca("Root")
    intermediate = make_ca("Intermediate", issuer=root)
    leaf = make_leaf(intermediate)
    path = verify_chain(leaf.cert, [intermediate.cert], [root.cert], NOW)
    assert path == (leaf.cert, intermediate.cert, root.cert)


def test_an_untrusted_root_among_the_intermediates_is_reported_as_untrusted() -> None:
    trusted, rogue = make_ca("Trusted Root"), make_ca("Rogue Root")
    leaf = make_leaf(rogue)
    with pytest.raises(SignatureInvalid, match="does not chain to a trusted root"):
        verify_chain(leaf.cert, [rogue.cert], [trusted.cert], NOW)


def test_time_outside_a_validity_period_fails_and_none_skips_the_check() -> None:
    root = make_ca("Root")
    leaf = make_leaf(root, not_before=NOW - timedelta(days=2), not_after=NOW - timedelta(days=1))
    with pytest.raises(SignatureInvalid, match="was not valid at"):
        verify_chain(leaf.cert, [], [root.cert], NOW)
    assert verify_chain(leaf.cert, [], [root.cert], None) == (leaf.cert, root.cert)


def test_leaf_without_code_signing_and_issuer_that_is_not_a_ca_fail() -> None:
    root = make_ca("Root")
    with pytest.raises(SignatureInvalid, match="code signing"):
        verify_chain(make_leaf(root, eku=None).cert, [], [root.cert], NOW)
    # An empty EKU extension is malformed DER: a clean refusal, not a parser exception.
    with pytest.raises(SignatureInvalid, match="malformed extension"):
        verify_chain(make_leaf(root, eku=()).cert, [], [root.cert], NOW)
    not_a_ca = make_leaf(root)
    below = make_leaf(notation.Issued(not_a_ca.key, not_a_ca.cert))
    with pytest.raises(SignatureInvalid, match="not a CA"):
        verify_chain(below.cert, [not_a_ca.cert], [root.cert], NOW)


def test_pem_loading_refuses_what_is_not_a_certificate() -> None:
    with pytest.raises(TrustMaterialError, match="no PEM certificate"):
        load_pem_certificates("hello")
    with pytest.raises(TrustMaterialError, match="could not be read"):
        load_pem_certificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
