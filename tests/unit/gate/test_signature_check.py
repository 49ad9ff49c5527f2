"""How the gate turns verifications into a signature verdict (no sockets: discovery is a stub
that answers what a real one would, or fails as an unreachable upstream does)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pytest

from proxy.cache.keys import RepoKey
from proxy.gate.signing import check as check_module
from proxy.gate.signing.check import SignatureCheck
from proxy.gate.signing.discovery import DiscoveryFailed, Found, SignatureFinder
from proxy.oci.digest import Digest
from proxy.oci.reference import RepositoryName
from proxy.policy.model import Match, Mode, Outcome
from proxy.policy.signing import SignatureRequirement
from proxy.signatures.model import ArtifactKind, KeyAuthority, SignatureArtifact
from proxy.signatures.trust import MaterialKind, TrustMaterial, TrustSet
from tests.support.cosign import (
    generate_key,
    public_pem,
    sign_payload,
    signature_manifest,
    simple_signing_payload,
)

KEY = RepoKey("registry.test", RepositoryName.parse("team/app"))
DIGEST = Digest.parse("sha256:" + "ab" * 32)


class StubFinder:
    def __init__(self, found: list[Found] | Exception) -> None:
        self.found = found
        self.calls = 0

    async def find(
        self, key: RepoKey, digest: Digest, signature_repositories: Iterable[RepoKey] = ()
    ) -> list[Found]:
        self.calls += 1
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def _check(finder: StubFinder) -> SignatureCheck:
    return SignatureCheck(cast(SignatureFinder, finder))


def _requirement(mode: Mode = Mode.ENFORCE, threshold: int = 1) -> SignatureRequirement:
    return SignatureRequirement("req", Match(), (KeyAuthority("ci", "ci-key"),), threshold, mode)


def _signed(*keys: Any) -> list[Found]:
    payload = simple_signing_payload("registry.test/team/app", str(DIGEST))
    layers = [sign_payload(k, payload) for k in keys]
    built = signature_manifest(layers)
    artifact = SignatureArtifact(
        ArtifactKind.COSIGN, built.digest, str(KEY), "tag x.sig", tuple(layer.blob() for layer in layers)
    )
    return [Found(DIGEST, (artifact,))]


def _trust(*keys: Any) -> TrustSet:
    pem = "".join(public_pem(k) for k in keys)
    return TrustSet([TrustMaterial("ci-key", MaterialKind.PUBLIC_KEY, pem)])


async def test_a_verified_signature_allows_and_is_cached_per_policy_version() -> None:
    key = generate_key()
    finder = StubFinder(_signed(key))
    check = _check(finder)
    verdict = await check.check(KEY, DIGEST, [_requirement()], _trust(key), 7)
    assert verdict.outcome is Outcome.ALLOW
    assert verdict.reasons[0].detail["verified"][0]["authority"] == "ci"
    again = await check.check(KEY, DIGEST, [_requirement()], _trust(), 7)  # cached: same version
    assert again.outcome is Outcome.ALLOW
    moved = await check.check(KEY, DIGEST, [_requirement()], _trust(), 8)  # new version: re-verified
    assert moved.outcome is Outcome.DENY
    assert "public_key 'ci-key' cannot be used" in moved.reasons[0].message


@pytest.mark.parametrize(("mode", "outcome"), [(Mode.ENFORCE, Outcome.DENY), (Mode.WARN, Outcome.WARN)])
async def test_an_unmet_requirement_denies_or_warns(mode: Mode, outcome: Outcome) -> None:
    verdict = await _check(StubFinder([Found(DIGEST, ())])).check(
        KEY, DIGEST, [_requirement(mode)], _trust(), 1
    )
    assert verdict.outcome is outcome
    assert "no signature found" in verdict.reasons[0].message


async def test_missing_trust_material_is_named() -> None:
    key = generate_key()
    verdict = await _check(StubFinder(_signed(key))).check(KEY, DIGEST, [_requirement()], TrustSet(), 1)
    assert verdict.outcome is Outcome.DENY
    assert "no public_key trust material named 'ci-key' is configured" in verdict.reasons[0].message


async def test_threshold_counts_distinct_signers() -> None:
    first, second = generate_key(), generate_key("ed25519")
    two = _requirement(threshold=2)
    same_twice = await _check(StubFinder(_signed(first, first))).check(
        KEY, DIGEST, [two], _trust(first, second), 1
    )
    assert same_twice.outcome is Outcome.DENY and "only 1 distinct signer" in same_twice.reasons[0].message
    both = await _check(StubFinder(_signed(first, second))).check(
        KEY, DIGEST, [two], _trust(first, second), 1
    )
    assert both.outcome is Outcome.ALLOW


async def test_every_matching_requirement_must_hold() -> None:
    key = generate_key()
    other = SignatureRequirement("other", Match(), (KeyAuthority("release", "release-key"),))
    verdict = await _check(StubFinder(_signed(key))).check(
        KEY, DIGEST, [_requirement(), other], _trust(key), 1
    )
    assert verdict.outcome is Outcome.DENY
    assert [r.detail["requirement"] for r in verdict.reasons] == ["req", "other"]


@pytest.mark.parametrize(("mode", "outcome"), [(Mode.ENFORCE, Outcome.PENDING), (Mode.WARN, Outcome.WARN)])
async def test_an_unreachable_upstream_is_pending_not_unsigned(mode: Mode, outcome: Outcome) -> None:
    failing = StubFinder(DiscoveryFailed("127.0.0.1:9/team/app:sha256-ab.sig: upstream unreachable"))
    verdict = await _check(failing).check(KEY, DIGEST, [_requirement(mode)], _trust(), 1)
    assert verdict.outcome is outcome
    assert (
        "could not be looked for" in verdict.reasons[0].message
        and "retry later" in verdict.reasons[0].message
    )


async def test_a_crashing_verifier_leaves_the_image_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: Any) -> list[Any]:
        raise TypeError("a verifier bug")

    monkeypatch.setattr(check_module, "verify_artifact", crash)
    key = generate_key()
    verdict = await _check(StubFinder(_signed(key))).check(KEY, DIGEST, [_requirement()], _trust(key), 1)
    assert verdict.outcome is Outcome.PENDING
    assert "could not be verified (the verifier failed (TypeError))" in verdict.reasons[0].message
