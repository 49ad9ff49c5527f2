"""Public keys: what loads, what is refused and why, ids, and raw signature checks."""

from __future__ import annotations

import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError
from proxy.signatures.keys import MAX_KEYS, describe_key, key_id, load_public_keys, verify_signature
from tests.support.cosign import KEY_KINDS, KeyKind, PrivateKey, generate_key, public_pem, sign

DATA = b'{"critical":{},"optional":null}'


@pytest.fixture(scope="module")
def private_keys() -> dict[KeyKind, PrivateKey]:
    # RSA generation takes a while: one key of each kind serves the module.
    return {kind: generate_key(kind) for kind in KEY_KINDS}


def _pem_of(key: object, fmt: PublicFormat = PublicFormat.SubjectPublicKeyInfo) -> str:
    public = key.public_key()  # type: ignore[attr-defined]
    return public.public_bytes(Encoding.PEM, fmt).decode()  # type: ignore[no-any-return]


# --- loading -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_each_supported_key_type_loads(private_keys: dict[KeyKind, PrivateKey], kind: KeyKind) -> None:
    (key,) = load_public_keys(public_pem(private_keys[kind]))
    der = private_keys[kind].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert key_id(key) == "sha256:" + hashlib.sha256(der).hexdigest()


def test_descriptions_name_the_algorithm(private_keys: dict[KeyKind, PrivateKey]) -> None:
    described = {
        kind: describe_key(load_public_keys(public_pem(key))[0]) for kind, key in private_keys.items()
    }
    assert described == {
        "p256": "ECDSA P-256",
        "p384": "ECDSA P-384",
        "p521": "ECDSA P-521",
        "rsa2048": "RSA-2048",
        "rsa3072": "RSA-3072",
        "ed25519": "Ed25519",
    }


def test_pkcs1_rsa_public_key_has_the_same_id_as_its_pkix_form(
    private_keys: dict[KeyKind, PrivateKey],
) -> None:
    pkcs1 = _pem_of(private_keys["rsa2048"], PublicFormat.PKCS1)
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    (from_pkcs1,) = load_public_keys(pkcs1)
    (from_pkix,) = load_public_keys(public_pem(private_keys["rsa2048"]))
    assert key_id(from_pkcs1) == key_id(from_pkix)


def test_several_keys_in_one_file_keep_their_order_and_surrounding_text_is_ignored(
    private_keys: dict[KeyKind, PrivateKey],
) -> None:
    text = (
        "# release key\n"
        + public_pem(private_keys["p256"])
        + "\n# backup key, kept offline\n"
        + public_pem(private_keys["ed25519"])
        + _pem_of(private_keys["rsa2048"], PublicFormat.PKCS1)
    )
    keys = load_public_keys(text)
    assert [describe_key(key) for key in keys] == ["ECDSA P-256", "Ed25519", "RSA-2048"]


def test_a_key_given_twice_counts_once(private_keys: dict[KeyKind, PrivateKey]) -> None:
    pem = public_pem(private_keys["p256"])
    assert len(load_public_keys(pem + pem)) == 1


def test_crlf_line_endings_are_accepted(private_keys: dict[KeyKind, PrivateKey]) -> None:
    assert len(load_public_keys(public_pem(private_keys["p384"]).replace("\n", "\r\n"))) == 1


def test_text_without_a_pem_block_is_refused() -> None:
    with pytest.raises(TrustMaterialError, match="no PEM block found"):
        load_public_keys("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...")


@pytest.mark.parametrize(
    ("fmt", "label"),
    [
        (PrivateFormat.PKCS8, "PRIVATE KEY"),
        (PrivateFormat.TraditionalOpenSSL, "EC PRIVATE KEY"),
    ],
)
def test_private_keys_are_refused_with_a_warning(
    private_keys: dict[KeyKind, PrivateKey], fmt: PrivateFormat, label: str
) -> None:
    pem = private_keys["p256"].private_bytes(Encoding.PEM, fmt, NoEncryption()).decode()
    assert f"-----BEGIN {label}-----" in pem
    with pytest.raises(TrustMaterialError, match=f"PEM block 1 \\({label}\\) is a private key") as caught:
        load_public_keys(pem)
    assert "exposed" in str(caught.value)


@pytest.mark.parametrize(
    "label", ["RSA PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY"]
)
def test_private_key_labels_are_refused_before_their_contents_are_read(label: str) -> None:
    # cosign.key files are "ENCRYPTED SIGSTORE PRIVATE KEY" (older: "ENCRYPTED COSIGN PRIVATE KEY").
    with pytest.raises(TrustMaterialError, match="is a private key"):
        load_public_keys(f"-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n")


def test_a_private_key_among_public_keys_is_refused(private_keys: dict[KeyKind, PrivateKey]) -> None:
    private = (
        private_keys["ed25519"].private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    )
    with pytest.raises(TrustMaterialError, match="PEM block 2 \\(PRIVATE KEY\\) is a private key"):
        load_public_keys(public_pem(private_keys["p256"]) + private)


def test_a_private_key_is_reported_even_after_a_broken_block_or_unterminated() -> None:
    broken = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"
    private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"  # pasted half-way
    with pytest.raises(TrustMaterialError, match=r"PEM block 2 \(PRIVATE KEY\) is a private key"):
        load_public_keys(broken + private)


def test_a_certificate_is_refused_with_a_pointer_to_keyless() -> None:
    with pytest.raises(TrustMaterialError, match=r"is a certificate, not a public key.*keyless"):
        load_public_keys("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_an_unknown_block_type_is_refused() -> None:
    with pytest.raises(TrustMaterialError, match=r"PGP PUBLIC KEY BLOCK\) is not supported"):
        load_public_keys("-----BEGIN PGP PUBLIC KEY BLOCK-----\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n")


def test_unsupported_curve_is_refused() -> None:
    pem = _pem_of(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(TrustMaterialError, match="curve secp256k1 is not supported"):
        load_public_keys(pem)


def test_short_rsa_key_is_refused() -> None:
    pem = _pem_of(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(TrustMaterialError, match="RSA key of 1024 bits is too short"):
        load_public_keys(pem)


@pytest.mark.parametrize(
    "private", [ed448.Ed448PrivateKey.generate(), x25519.X25519PrivateKey.generate()], ids=["ed448", "x25519"]
)
def test_other_key_types_are_refused(private: object) -> None:
    with pytest.raises(TrustMaterialError, match="keys are not supported"):
        load_public_keys(_pem_of(private))


def test_garbled_key_body_is_refused(private_keys: dict[KeyKind, PrivateKey]) -> None:
    lines = public_pem(private_keys["p256"]).splitlines()
    lines[1] = lines[1][:10] + "!!!!" + lines[1][14:]
    with pytest.raises(TrustMaterialError, match=r"PEM block 1 \(PUBLIC KEY\) could not be read"):
        load_public_keys("\n".join(lines))


def test_unterminated_and_mismatched_blocks_are_refused(private_keys: dict[KeyKind, PrivateKey]) -> None:
    pem = public_pem(private_keys["p256"])
    with pytest.raises(TrustMaterialError, match="not terminated"):
        load_public_keys(pem + "-----BEGIN PUBLIC KEY-----\nAAAA\n")
    with pytest.raises(TrustMaterialError, match="begins as 'PUBLIC KEY' but ends as 'RSA PUBLIC KEY'"):
        load_public_keys(pem.replace("END PUBLIC KEY", "END RSA PUBLIC KEY"))


def test_too_many_keys_are_refused(private_keys: dict[KeyKind, PrivateKey]) -> None:
    with pytest.raises(TrustMaterialError, match=f"at most {MAX_KEYS} keys"):
        load_public_keys(public_pem(private_keys["p256"]) * (MAX_KEYS + 1))


# --- verifying -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_a_signature_made_as_cosign_does_verifies(
    private_keys: dict[KeyKind, PrivateKey], kind: KeyKind
) -> None:
    (key,) = load_public_keys(public_pem(private_keys[kind]))
    verify_signature(key, sign(private_keys[kind], DATA), DATA)


@pytest.mark.parametrize("kind", ["p384", "p521"])
def test_older_cosign_sha256_signatures_on_larger_curves_verify(
    private_keys: dict[KeyKind, PrivateKey], kind: KeyKind
) -> None:
    (key,) = load_public_keys(public_pem(private_keys[kind]))
    verify_signature(key, sign(private_keys[kind], DATA, legacy_sha256=True), DATA)


def test_rsa_pss_signatures_verify(private_keys: dict[KeyKind, PrivateKey]) -> None:
    (key,) = load_public_keys(public_pem(private_keys["rsa2048"]))
    verify_signature(key, sign(private_keys["rsa2048"], DATA, pss=True), DATA)


def test_p256_signature_over_another_digest_does_not_verify(private_keys: dict[KeyKind, PrivateKey]) -> None:
    private = private_keys["p256"]
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    (key,) = load_public_keys(public_pem(private))
    with pytest.raises(SignatureInvalid, match=r"ECDSA P-256 with SHA256\)"):
        verify_signature(key, private.sign(DATA, ec.ECDSA(hashes.SHA384())), DATA)


def test_rsa_signature_over_sha512_does_not_verify(private_keys: dict[KeyKind, PrivateKey]) -> None:
    private = private_keys["rsa2048"]
    assert isinstance(private, rsa.RSAPrivateKey)
    (key,) = load_public_keys(public_pem(private))
    with pytest.raises(SignatureInvalid, match=re.escape("RSA-2048 PKCS#1 v1.5 or PSS with SHA-256")):
        verify_signature(key, private.sign(DATA, padding.PKCS1v15(), hashes.SHA512()), DATA)


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_other_data_does_not_verify(private_keys: dict[KeyKind, PrivateKey], kind: KeyKind) -> None:
    (key,) = load_public_keys(public_pem(private_keys[kind]))
    with pytest.raises(SignatureInvalid, match=f"does not verify with key {key_id(key)}"):
        verify_signature(key, sign(private_keys[kind], DATA), DATA + b" ")


@pytest.mark.parametrize(
    ("signer", "verifier"),
    [(signer, verifier) for signer in KEY_KINDS for verifier in KEY_KINDS if signer != verifier],
)
def test_a_signature_of_another_key_or_algorithm_is_a_clean_failure(
    private_keys: dict[KeyKind, PrivateKey], signer: KeyKind, verifier: KeyKind
) -> None:
    (key,) = load_public_keys(public_pem(private_keys[verifier]))
    with pytest.raises(SignatureInvalid, match=describe_key(key).split()[0]):
        verify_signature(key, sign(private_keys[signer], DATA), DATA)


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30\x06\x02\x01\x01\x02\x01", b"not a signature" * 40])
@pytest.mark.parametrize("kind", KEY_KINDS)
def test_garbage_signatures_are_clean_failures(
    private_keys: dict[KeyKind, PrivateKey], kind: KeyKind, garbage: bytes
) -> None:
    (key,) = load_public_keys(public_pem(private_keys[kind]))
    with pytest.raises(SignatureInvalid, match=key_id(key)):
        verify_signature(key, garbage, DATA)


def test_ed25519_failure_says_prehashed_signatures_are_not_supported() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    (key,) = load_public_keys(public_pem(private))
    with pytest.raises(SignatureInvalid, match="pure Ed25519; Ed25519ph signatures are not supported"):
        verify_signature(key, private.sign(b"other"), DATA)


def test_a_key_on_an_unsupported_curve_verifies_nothing() -> None:
    # Keys from certificates (keyless) do not pass through load_public_keys.
    private = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(SignatureInvalid, match="unsupported curve secp256k1"):
        verify_signature(private.public_key(), private.sign(DATA, ec.ECDSA(hashes.SHA256())), DATA)
