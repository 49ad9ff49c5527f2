import pytest

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.reference import (
    InvalidNameError,
    InvalidReferenceError,
    RegistryHost,
    RepositoryName,
    Tag,
    parse_reference,
)

HEX = "a" * 64


@pytest.mark.parametrize(
    "name",
    ["alpine", "library/alpine", "a/b/c", "my-app", "my__app", "my.app", "a--b", "x" * 255, "0/1"],
)
def test_valid_names(name: str) -> None:
    assert RepositoryName.parse(name).value == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("Alpine", "invalid"),
        ("library/../etc", "invalid"),
        ("..", "invalid"),
        ("a//b", "invalid"),
        ("/a", "invalid"),
        ("a/", "invalid"),
        ("a___b", "invalid"),
        ("-a", "invalid"),
        ("a-", "invalid"),
        ("a b", "invalid"),
        ("x" * 256, "longer than 255"),
        ("a%2fb", "invalid"),
    ],
)
def test_invalid_names(name: str, why: str) -> None:
    with pytest.raises(InvalidNameError, match=why):
        RepositoryName.parse(name)


@pytest.mark.parametrize("tag", ["latest", "1.0", "v1_2-3", "_x", "A" * 128])
def test_valid_tags(tag: str) -> None:
    assert str(Tag.parse(tag)) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b", "ä"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidReferenceError):
        Tag.parse(tag)


def test_reference_is_digest_when_prefixed() -> None:
    assert parse_reference(f"sha256:{HEX}") == Digest("sha256", HEX)
    assert parse_reference("latest") == Tag("latest")
    with pytest.raises(InvalidReferenceError, match="not supported"):
        parse_reference(f"md5:{HEX}")


@pytest.mark.parametrize(
    "text",
    [
        f"sha256:{HEX[:-1]}",
        f"sha256:{HEX.upper()}",
        f"sha512:{HEX}",
        "sha256",
        f"sha256:{HEX}0",
        ":" + HEX,
        "x" * 300,
    ],
)
def test_invalid_digests(text: str) -> None:
    with pytest.raises(InvalidDigestError):
        Digest.parse(text)


def test_digest_hashing_and_tag_form() -> None:
    digest = Digest.of(b"hello")
    assert str(digest) == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert digest.matches(b"hello") and not digest.matches(b"hello!")
    assert digest.tag_form == "sha256-" + digest.encoded
    long = Digest.of(b"hello", "sha512")
    assert Digest.parse(str(long)) == long


@pytest.mark.parametrize("host", ["docker.io", "127.0.0.1:5001", "registry-1.docker.io", "LOCALHOST:80"])
def test_registry_hosts(host: str) -> None:
    assert RegistryHost.parse(host).value == host.lower()


@pytest.mark.parametrize("host", ["", "a/b", "-x.io", "x.io:99999", "x.io:", "a b", "x.io:0"])
def test_invalid_registry_hosts(host: str) -> None:
    with pytest.raises(InvalidNameError):
        RegistryHost.parse(host)
