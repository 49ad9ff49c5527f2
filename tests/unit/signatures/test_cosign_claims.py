"""Key-based cosign verification: what the signed payload must say (steps 4 to 6), and the
keyless path sharing every step but the third."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from proxy.signatures import cosign
from proxy.signatures.cosign import SIGNATURE_ANNOTATION, verify_cosign_blob
from proxy.signatures.keys import PublicKey, load_public_keys
from proxy.signatures.model import (
    Identity,
    KeyAuthority,
    KeylessAuthority,
    SignatureBlob,
    SignedImage,
    Verification,
)
from proxy.signatures.trusted_root import TrustedRoot
from tests.support.cosign import (
    SIMPLE_SIGNING,
    CosignLayer,
    PrivateKey,
    generate_key,
    public_pem,
    sign_payload,
    simple_signing_payload,
)
from tests.support.images import sha256_digest
from tests.support.sigstore_artifacts import cosign_keyless
from tests.support.sigstore_world import ISSUER
from tests.support.sigstore_world import World as SigstoreWorld

IMAGE = SignedImage(digest="sha256:" + "ab" * 32, repository="registry.example.com/team/app")
OTHER_DIGEST = "sha256:" + "ef" * 32
ARTIFACT = "sha256:" + "cd" * 32
AUTHORITY = KeyAuthority(name="release", key="release-keys")


@pytest.fixture(scope="module")
def signer() -> PrivateKey:
    return generate_key("p256")


@pytest.fixture(scope="module")
def keys(signer: PrivateKey) -> tuple[PublicKey, ...]:
    return load_public_keys(public_pem(signer))


def _layer(
    key: PrivateKey, *, reference: str = IMAGE.repository, digest: str = IMAGE.digest, **kw: Any
) -> CosignLayer:
    return sign_payload(key, simple_signing_payload(reference, digest, kw.pop("optional", None), **kw))


def _verify(
    layer: CosignLayer,
    keys: tuple[PublicKey, ...] | None,
    authority: KeyAuthority | KeylessAuthority = AUTHORITY,
    image: SignedImage = IMAGE,
) -> Verification:
    return verify_cosign_blob(layer.blob(), image, authority, keys=keys, artifact_digest=ARTIFACT)


def _failure(verification: Verification) -> str:
    assert not verification.ok, verification
    return verification.message


# --- step 4: a cosign signature of this image ---------------------------------------------


def test_payload_for_another_digest(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    message = _failure(_verify(_layer(signer, digest=OTHER_DIGEST), keys))
    assert message == f"payload is for {OTHER_DIGEST} but the image is {IMAGE.digest}"


def test_wrong_critical_type(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    layer = _layer(signer, signature_type="atomic container signature")
    assert _failure(_verify(layer, keys)) == (
        "payload critical.type is 'atomic container signature', not 'cosign container image signature'"
    )


def test_a_signed_payload_that_is_not_simple_signing_is_a_clean_failure(
    signer: PrivateKey, keys: tuple[PublicKey, ...]
) -> None:
    for payload in (b"not json", b'{"critical":{},"critical":{}}', b"[" * 60_000, b"\xff"):
        assert _failure(_verify(sign_payload(signer, payload), keys)).startswith("payload ")


# --- step 5: docker-reference ----------------------------------------------------------------


def test_reference_is_not_checked_unless_asked(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    assert _verify(_layer(signer, reference="elsewhere.example/other/app"), keys).ok


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("registry.example.com/team/app", "registry.example.com/team/app"),
        ("registry.example.com/team/app:1.2", "registry.example.com/team/app"),
        ("registry.example.com/team/app@" + IMAGE.digest, "registry.example.com/team/app"),
        ("Registry.Example.com/team/app", "registry.example.com/team/app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("localhost:5000/app:v1", "localhost:5000/app"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine"),
        ("alpine", "docker.io/library/alpine"),
        ("docker.io/alpine:3", "registry-1.docker.io/library/alpine"),
        ("index.docker.io/bitnami/nginx", "docker.io/bitnami/nginx"),
    ],
)
def test_reference_names_the_repository(
    signer: PrivateKey, keys: tuple[PublicKey, ...], reference: str, repository: str
) -> None:
    image = SignedImage(IMAGE.digest, repository)
    authority = KeyAuthority(name="release", key="release-keys", check_reference=True)
    assert _verify(_layer(signer, reference=reference), keys, authority, image).ok


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "registry.example.com/team/other",
            "payload names 'registry.example.com/team/other', but the image is in",
        ),
        ("other.example.com/team/app", "payload names 'other.example.com/team/app', but the image is in"),
        ("registry.example.com/team", "payload names 'registry.example.com/team', but the image is in"),
        ("team/app", "payload names 'team/app', but the image is in"),
        ("", "payload has an empty docker-reference; the policy requires registry.example.com/team/app"),
        ("registry.example.com/Team/App", "is not an image reference"),
        ("registry.example.com/", "is not an image reference"),
    ],
)
def test_reference_mismatch(
    signer: PrivateKey, keys: tuple[PublicKey, ...], reference: str, message: str
) -> None:
    authority = KeyAuthority(name="release", key="release-keys", check_reference=True)
    assert message in _failure(_verify(_layer(signer, reference=reference), keys, authority))


# --- step 6: required annotations ------------------------------------------------------------


def test_required_annotations_met(signer: PrivateKey, keys: tuple[PublicKey, ...]) -> None:
    authority = KeyAuthority(name="release", key="release-keys", annotations={"env": "prod", "team": "core"})
    layer = _layer(signer, optional={"env": "prod", "team": "core", "extra": 1})
    assert _verify(layer, keys, authority).ok


@pytest.mark.parametrize(
    ("optional", "message"),
    [
        (None, "payload lacks the annotation 'env' (policy requires env='prod')"),
        ({"team": "core"}, "payload lacks the annotation 'env' (policy requires env='prod')"),
        ({"env": "staging"}, "payload annotation 'env' is \"staging\", policy requires 'prod'"),
        ({"env": ["prod"]}, "payload annotation 'env' is [\"prod\"], policy requires 'prod'"),
        ({"env": None}, "payload annotation 'env' is null, policy requires 'prod'"),
    ],
)
def test_required_annotations_unmet(
    signer: PrivateKey, keys: tuple[PublicKey, ...], optional: dict[str, Any] | None, message: str
) -> None:
    authority = KeyAuthority(name="release", key="release-keys", annotations={"env": "prod"})
    assert _failure(_verify(_layer(signer, optional=optional), keys, authority)) == message


# --- the keyless path ------------------------------------------------------------------------

KEYLESS = KeylessAuthority(
    name="ci",
    trusted_root="public-good",
    identities=(Identity(issuer="https://token.actions.githubusercontent.com", subject_regex=".*"),),
    annotations={"env": "prod"},
)


def test_keyless_without_a_trusted_root_fails_closed(signer: PrivateKey) -> None:
    assert _failure(_verify(_layer(signer, optional={"env": "prod"}), None, KEYLESS)) == (
        "trusted root 'public-good' is not available"
    )


def test_keyless_step_runs_the_fulcio_and_rekor_checks() -> None:
    world = SigstoreWorld()
    root = TrustedRoot.parse(world.trusted_root())
    payload = simple_signing_payload("registry.corp.example/app", IMAGE.digest, {"env": "prod"})
    annotations, _ = cosign_keyless(world, payload)
    blob = SignatureBlob(SIMPLE_SIGNING, sha256_digest(payload), payload, annotations)
    image = SignedImage(IMAGE.digest, "registry.corp.example/app")
    authority = KeylessAuthority(
        "ci", "corp", (Identity(issuer=ISSUER, subject="ci@corp.example"),), annotations={"env": "prod"}
    )
    result = verify_cosign_blob(
        blob, image, authority, keys=None, artifact_digest=ARTIFACT, trusted_root=root
    )
    assert result.ok, result.message
    assert result.signer == f"{ISSUER}|ci@corp.example" and result.signed_at is not None
    someone_else = KeylessAuthority("ci", "corp", (Identity(issuer=ISSUER, subject="alice@corp.example"),))
    refused = verify_cosign_blob(
        blob, image, someone_else, keys=None, artifact_digest=ARTIFACT, trusted_root=root
    )
    assert not refused.ok and "ci@corp.example" in refused.message


def test_keyless_authorities_share_steps_1_2_and_4_to_6(
    signer: PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, object]] = []
    signed_at = datetime(2024, 5, 1, tzinfo=UTC)

    def keyless(blob: SignatureBlob, signature: bytes, authority: KeylessAuthority, root: object) -> Any:
        seen.append((signature, root))
        return cosign._Signer("ci@example.com", "ci@example.com (GitHub Actions)", signed_at, ("note",))

    monkeypatch.setattr(cosign, "_keyless_signer", keyless)
    layer = _layer(signer, optional={"env": "prod"})
    result = verify_cosign_blob(
        layer.blob(), IMAGE, KEYLESS, keys=None, artifact_digest=ARTIFACT, trusted_root="root"
    )
    assert result == Verification(
        True,
        "ci",
        "signed by ci@example.com (GitHub Actions)",
        "ci@example.com",
        signed_at,
        ARTIFACT,
        ("note",),
    )
    assert seen == [(base64.b64decode(layer.annotations[SIGNATURE_ANNOTATION]), "root")]
    assert not _verify(_layer(signer, digest=OTHER_DIGEST, optional={"env": "prod"}), None, KEYLESS).ok
    assert "lacks the annotation 'env'" in _failure(_verify(_layer(signer), None, KEYLESS))
    assert "has no dev.cosignproject.cosign/signature" in _failure(
        _verify(CosignLayer(layer.payload), None, KEYLESS)
    )
