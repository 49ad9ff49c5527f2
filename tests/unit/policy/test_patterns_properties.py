"""No pattern lets a name escape its intended scope.

Globs are compared with `fnmatch` applied per path component (the reference of
`test_reference.py`), and the scopes people write most (``team/*``, ``team/**``,
``*.example.com``, ``host:*``, a literal registry) are checked against names built to sit
just outside them: a longer sibling (``teamx``), one level too deep, the prefix itself, a
port, a case or Unicode look-alike. Tag regexes match whole tags only.
"""

from __future__ import annotations

import contextlib
import re
import string

from hypothesis import assume, given
from hypothesis import strategies as st

from proxy.oci.reference import InvalidNameError, RepositoryName
from proxy.policy.patterns import (
    Glob,
    PolicyError,
    compile_registry_glob,
    compile_repository_glob,
    compile_tag_glob,
    compile_tag_regex,
)
from tests.support.properties import repository_components, repository_names, tags
from tests.unit.policy.test_reference import repository_matches

# Small alphabets make generated names and globs collide often enough to matter.
_COMPONENT = st.text("ab.-_1", min_size=1, max_size=4).filter(
    lambda c: c[0] in "ab1" and c[-1] in "ab1" and "__" not in c.replace("__", "", 1)
)
_NAMES = st.lists(st.sampled_from(["a", "b", "ab", "a-b", "b.a", "ba", "a1"]), min_size=1, max_size=5).map(
    "/".join
)
_GLOB_PARTS = st.sampled_from(
    ["a", "b", "ab", "*", "?", "a*", "*b", "*a*", "[ab]*", "[!a]*", "a?", "[a-b]", "**"]
)
_GLOBS = st.lists(_GLOB_PARTS, min_size=1, max_size=4).map("/".join)
# Characters a name cannot hold, and look-alikes of ones it can (Kelvin sign, dotless i, ...).
# (A lone extra "/" is left out: it can make another valid name, which is no trick.)
_TRICKS = ["A", "%2f", "%2F", "\u212a", "\u0131", "\u017f", "\uff41", "\x00", "\n", " ", "//", ":", "@"]


def _glob(pattern: str) -> Glob:
    return compile_repository_glob(pattern)


@given(_GLOBS, _NAMES)
def test_repository_globs_agree_with_fnmatch_per_component(pattern: str, name: str) -> None:
    assert _glob(pattern).matches(name) is repository_matches(pattern, name)


@given(repository_names(max_components=3), repository_names(max_components=4))
def test_a_star_stays_one_level_below_its_prefix(prefix: str, name: str) -> None:
    inside = name.startswith(prefix + "/") and "/" not in name[len(prefix) + 1 :]
    assert _glob(f"{prefix}/*").matches(name) is inside


@given(repository_names(max_components=3), repository_names(max_components=4))
def test_a_doublestar_stays_below_its_prefix(prefix: str, name: str) -> None:
    inside = name == prefix or name.startswith(prefix + "/")
    assert _glob(f"{prefix}/**").matches(name) is inside


def _in_scope(prefix: str, wildcard: str, name: str) -> bool:
    if wildcard == "**":
        return name == prefix or name.startswith(prefix + "/")
    return name.startswith(prefix + "/") and "/" not in name[len(prefix) + 1 :]


@given(repository_names(max_components=3), repository_components(), st.sampled_from(["*", "**"]))
def test_names_just_outside_a_scope_never_match(prefix: str, extra: str, wildcard: str) -> None:
    glob = _glob(f"{prefix}/{wildcard}")
    parent = prefix.rpartition("/")[0]
    near = [
        f"{prefix}{extra}/{extra}",  # a longer sibling: teamx/app
        f"{prefix}-{extra}/{extra}",
        f"{extra}{prefix}/{extra}",  # xteam/app
        f"{extra}/{prefix}/{extra}",  # the prefix further down
        f"{parent}/{extra}" if parent else extra,  # the prefix's own siblings
        prefix,
        f"{prefix}/{extra}",
        f"{prefix}/{extra}/{extra}",  # two levels down
    ]
    for name in near:  # some of these are inside by coincidence (extra == prefix): the scope decides
        assert glob.matches(name) is _in_scope(prefix, wildcard, name), name


@given(repository_names(max_components=3), st.sampled_from(_TRICKS), st.integers(0, 40))
def test_case_percent_and_unicode_tricks_never_match(prefix: str, trick: str, where: int) -> None:
    tricked = prefix[:where] + trick + prefix[where:]
    assume(tricked != prefix and not _grammatical(tricked))
    # A look-alike of a name is not the name, and not a name at all: no glob takes it, not
    # even `**` or a wildcard in the very place of the trick.
    wild = prefix[:where] + "*" + prefix[where:]
    for pattern in (prefix, f"{prefix}/**", "**", "**/*", wild):
        assert not _glob(pattern).matches(tricked), pattern


def _grammatical(name: str) -> bool:
    try:
        RepositoryName.parse(name)
    except InvalidNameError:
        return False
    return True


@given(st.text(max_size=30))
def test_any_pattern_compiles_or_raises_the_policy_error(pattern: str) -> None:
    for compile_ in (compile_repository_glob, compile_tag_glob, compile_registry_glob, compile_tag_regex):
        with contextlib.suppress(PolicyError):
            compile_(pattern)


@given(st.text(string.ascii_lowercase + string.ascii_uppercase + "%\u212a\u0131/", min_size=1, max_size=12))
def test_patterns_outside_the_field_alphabet_are_refused(pattern: str) -> None:
    assume(set(pattern) - set(string.ascii_lowercase + "/"))
    try:
        compile_repository_glob(pattern)
    except PolicyError:
        return
    raise AssertionError(f"{pattern!r} compiled")


_LABELS = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=6)
_DOMAINS = st.lists(_LABELS, min_size=1, max_size=3).map(".".join)
_PORTS = st.integers(1, 65535).map(str)


@given(_DOMAINS, _DOMAINS, _PORTS)
def test_a_subdomain_glob_needs_a_dot_boundary_and_no_port(domain: str, sub: str, port: str) -> None:
    glob = compile_registry_glob(f"*.{domain}")
    assert glob.matches(f"{sub}.{domain}")
    for name in (
        domain,
        f"{sub}{domain}",
        f"{sub}.{domain}:{port}",
        f"{sub}.{domain}.{sub}",
        f"{domain}.{sub}",
    ):
        assert not glob.matches(name) or (name.endswith("." + domain) and ":" not in name), name


@given(_DOMAINS, _DOMAINS, _PORTS)
def test_a_literal_registry_matches_itself_only(domain: str, other: str, port: str) -> None:
    glob = compile_registry_glob(domain.upper())  # registry patterns ignore case
    assert glob.literal and glob.matches(domain)
    for name in (f"{domain}:{port}", f"{other}.{domain}", f"{domain}.{other}", f"{domain}{other}"):
        assert not glob.matches(name)


@given(_DOMAINS, _PORTS, _PORTS)
def test_a_port_glob_keeps_its_host(domain: str, port: str, other: str) -> None:
    glob = compile_registry_glob(f"{domain}:*")
    assert glob.matches(f"{domain}:{port}")
    for name in (domain, f"{domain}0:{port}", f"x{domain}:{port}", f"{domain}.x:{port}"):
        assert not glob.matches(name)


@given(tags(), st.sampled_from(["", "x", "-rc1", ".1", "\n"]), st.sampled_from(["", "x", "v"]))
def test_tag_regexes_match_whole_tags_only(tag: str, suffix: str, prefix: str) -> None:
    regex = compile_tag_regex(re.escape(tag))
    assert regex.fullmatch(tag)
    if suffix or prefix:
        assert not regex.fullmatch(prefix + tag + suffix)
    alternation = compile_tag_regex(f"{re.escape(tag)}|other")
    assert alternation.fullmatch(tag) and not alternation.fullmatch(tag + "x" + suffix)


@given(tags(), st.sampled_from(["*", "?", "v*", "*.*", "[a-z]*"]), tags())
def test_tag_globs_are_case_sensitive_and_whole(prefix: str, wildcard: str, tag: str) -> None:
    glob = compile_tag_glob(wildcard)
    expected = re.fullmatch(wildcard.replace(".", r"\.").replace("*", ".*").replace("?", "."), tag)
    assert glob.matches(tag) is (expected is not None)
    assume(prefix.lower() != prefix.upper())
    assert compile_tag_glob(prefix).matches(prefix) and not compile_tag_glob(prefix).matches(
        prefix.swapcase()
    )
