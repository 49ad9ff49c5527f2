"""Properties of repository names, tags, registry hosts and digests.

Each parser is compared with a model written from the specification's grammar (see
`tests.support.properties`): generated valid values parse and round-trip; arbitrary text
either parses to exactly what the model accepts or raises the parser's own error, never
anything else.
"""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from proxy.oci.digest import SUPPORTED_ALGORITHMS, Digest, InvalidDigestError
from proxy.oci.reference import (
    InvalidNameError,
    InvalidReferenceError,
    RegistryHost,
    RepositoryName,
    Tag,
    parse_reference,
)
from tests.support.properties import ALNUM, digest_text, grammar_digests, repository_names, tags

# Text that stays near the grammars (so it often almost parses), and text that does not.
_NEAR = st.text(ALNUM + string.ascii_uppercase + "._-/:+=@%\x00\n \u0130\u212a\u0661", max_size=80)
_ANY = st.one_of(_NEAR, st.text(max_size=300))


def model_name(text: str) -> bool:
    """distribution spec v1.1 name grammar, read component by component."""
    if not 0 < len(text) <= 255:
        return False
    for component in text.split("/"):
        if not component or component[0] not in ALNUM or component[-1] not in ALNUM:
            return False
        if not set(component) <= set(ALNUM + "._-"):
            return False
        for separator in re.findall(r"[._-]+", component):
            if separator not in (".", "_", "__") and set(separator) != {"-"}:
                return False
    return True


def model_tag(text: str) -> bool:
    first = string.ascii_letters + string.digits + "_"
    return 0 < len(text) <= 128 and text[0] in first and set(text[1:]) <= set(first + ".-")


def model_digest(text: str) -> bool:
    """Image spec digest grammar, plus the registered algorithms' encoded forms."""
    algorithm, colon, encoded = text.partition(":")
    if not colon:
        return False
    lengths = {"sha256": 64, "sha512": 128}
    return (
        algorithm in lengths
        and len(encoded) == lengths[algorithm]
        and set(encoded) <= set("0123456789abcdef")
    )


@given(repository_names())
def test_valid_names_parse_and_round_trip(name: str) -> None:
    parsed = RepositoryName.parse(name)
    assert str(parsed) == name and RepositoryName.parse(str(parsed)) == parsed
    assert parsed.components == name.split("/")


@given(_ANY)
def test_any_name_parses_as_the_grammar_says_or_raises_the_domain_error(text: str) -> None:
    try:
        parsed = RepositoryName.parse(text)
    except InvalidNameError:
        assert not model_name(text)
    else:
        assert model_name(text) and parsed.value == text


@given(tags())
def test_valid_tags_parse_and_round_trip(tag: str) -> None:
    assert str(Tag.parse(tag)) == tag
    assert parse_reference(tag) == Tag(tag)


@given(_ANY)
def test_any_tag_parses_as_the_grammar_says_or_raises_the_domain_error(text: str) -> None:
    try:
        Tag.parse(text)
    except InvalidReferenceError:
        assert not model_tag(text)
    else:
        assert model_tag(text)


@given(st.sampled_from(SUPPORTED_ALGORITHMS).flatmap(digest_text))
def test_valid_digests_parse_and_round_trip(text: str) -> None:
    digest = Digest.parse(text)
    assert str(digest) == text and Digest.parse(str(digest)) == digest
    assert parse_reference(text) == digest
    assert digest.tag_form == text.replace(":", "-", 1)


@given(st.one_of(_ANY, grammar_digests()))
def test_a_digest_parses_only_when_registered_and_well_formed(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidDigestError:
        assert not model_digest(text)
    else:
        assert model_digest(text) and str(digest) == text


@given(grammar_digests().filter(lambda d: d.partition(":")[0] not in SUPPORTED_ALGORITHMS))
def test_grammatical_digests_of_unregistered_algorithms_are_refused(text: str) -> None:
    # An algorithm pullgate cannot compute could never be verified: refused, however well formed.
    try:
        Digest.parse(text)
    except InvalidDigestError as exc:
        assert "not supported" in str(exc) or "too long" in str(exc)
    else:
        raise AssertionError(f"{text!r} parsed")


@given(st.sampled_from(SUPPORTED_ALGORITHMS), st.text("0123456789abcdefABCDEF", max_size=130))
def test_registered_algorithms_need_their_exact_encoding(algorithm: str, encoded: str) -> None:
    text = f"{algorithm}:{encoded}"
    try:
        Digest.parse(text)
    except InvalidDigestError:
        assert not model_digest(text)
    else:
        assert model_digest(text)


@given(_ANY)
def test_references_raise_only_the_reference_error(text: str) -> None:
    try:
        reference = parse_reference(text)
    except InvalidReferenceError:
        assert not (model_tag(text) or model_digest(text))
    else:
        assert isinstance(reference, Digest if ":" in text else Tag)
        assert str(reference) == text


_LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_HOSTS = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port else ""),
    st.lists(_LABEL, min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(1, 65535)),
)


@given(_HOSTS)
def test_hosts_parse_lowercase_and_canonicalisation_is_idempotent(text: str) -> None:
    host = RegistryHost.parse(text)
    assert host.value == text.lower()
    assert RegistryHost.parse(str(host)) == host


@given(st.one_of(_ANY, _HOSTS.map(lambda h: h + ":0"), _HOSTS.map(lambda h: h.split(":")[0] + ":99999")))
def test_any_host_parses_or_raises_the_name_error(text: str) -> None:
    try:
        host = RegistryHost.parse(text)
    except InvalidNameError:
        return
    assert host.value == text.lower() and text.isascii()
    assert "/" not in text and "@" not in text and not text.startswith(("-", ".", ":"))
    if ":" in text:
        assert 0 < int(text.rpartition(":")[2]) < 65536
