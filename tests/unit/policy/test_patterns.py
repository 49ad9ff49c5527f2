"""Glob and regex semantics, as tables."""

import re
from collections.abc import Callable

import pytest

from proxy.policy.patterns import (
    PolicyError,
    compile_registry_glob,
    compile_repository_glob,
    compile_tag_glob,
    compile_tag_regex,
)


@pytest.mark.parametrize(
    ("pattern", "repository", "expected"),
    [
        ("library/alpine", "library/alpine", True),
        ("library/alpine", "library/alpine2", False),
        ("library/*", "library/alpine", True),
        ("library/*", "library/a/b", False),  # `*` stays within one component
        ("library/*", "library", False),
        ("library/**", "library/a/b", True),  # `**` spans components
        ("library/**", "library/a", True),
        ("library/**", "library", True),  # zero components: `team/**` covers `team` itself
        ("library/**", "librarian/a", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/bb", False),
        ("**/b", "b", True),
        ("**/b", "x/y/b", True),
        ("**/b", "x/yb", False),
        ("**/b/**", "x/b/y", True),
        ("**/b/**", "b", True),
        ("**/b/**", "xb/y", False),
        ("a/**/b/**/c", "a/b/c", True),
        ("a/**/b/**/c", "a/1/b/2/b/3/c", True),
        ("a/**/b/**/c", "a/1/c/2/b", False),
        ("a/**/**/b", "a/b", True),  # consecutive `**` collapse
        ("**", "x", True),
        ("**", "x/y/z", True),
        ("*", "x", True),
        ("*", "x/y", False),
        ("*/*", "x/y", True),
        ("team/*/app", "team/web/app", True),
        ("team/*/app", "team/web/x/app", False),
        ("library/alp?ne", "library/alpine", True),
        ("library/alp?ne", "library/alpne", False),
        ("a/?", "a/b", True),
        ("a?b", "a/b", False),  # `?` never matches `/`
        ("library/[abc]*", "library/busybox", True),
        ("library/[abc]*", "library/debian", False),
        ("library/[a-c]*", "library/centos", True),
        ("library/[!a-c]*", "library/centos", False),
        ("library/[^a-c]*", "library/debian", True),
        ("a[!x]b", "a/b", False),  # a negated class never matches `/` either
        ("library/*a*a*a*b", "library/" + "a" * 200, False),
        ("library/*-*", "library/my-app", True),
        ("library/*.*.*", "library/a.b", False),
    ],
)
def test_repository_globs(pattern: str, repository: str, expected: bool) -> None:
    assert compile_repository_glob(pattern).matches(repository) is expected


@pytest.mark.parametrize(
    ("pattern", "literal", "prefix", "literal_chars", "doublestar"),
    [
        ("library/alpine", True, ("library", "alpine"), 13, False),
        ("library/*", False, ("library",), 7, False),
        ("team/*/app", False, ("team",), 7, False),
        ("team/**", False, ("team",), 4, True),
        ("**/x", False, (), 1, True),
        ("lib*/x", False, (), 4, False),
        ("a/[bc]/d", False, ("a",), 2, False),
    ],
)
def test_repository_glob_shape(
    pattern: str, literal: bool, prefix: tuple[str, ...], literal_chars: int, doublestar: bool
) -> None:
    glob = compile_repository_glob(pattern)
    assert (glob.literal, glob.prefix, glob.literal_chars, glob.doublestar) == (
        literal,
        prefix,
        literal_chars,
        doublestar,
    )


@pytest.mark.parametrize(
    ("pattern", "tag", "expected"),
    [
        ("latest", "latest", True),
        ("latest", "Latest", False),
        ("v1.*", "v1.2.3", True),
        ("v1.*", "v10", False),
        ("v?", "v1", True),
        ("v?", "v12", False),
        ("*-rc*", "1.0-rc2", True),
        ("*-rc*", "1.0", False),
        ("[0-9]*", "3.19", True),
        ("[0-9]*", "edge", False),
        ("*", "anything_Goes-1.0", True),
        ("V*", "V2", True),
    ],
)
def test_tag_globs(pattern: str, tag: str, expected: bool) -> None:
    assert compile_tag_glob(pattern).matches(tag) is expected


@pytest.mark.parametrize(
    ("pattern", "registry", "expected"),
    [
        ("docker.io", "docker.io", True),
        ("docker.io", "ghcr.io", False),
        ("Docker.IO", "docker.io", True),  # host names are case-insensitive
        ("*.example.com", "r.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "r.example.com.evil.net", False),
        ("127.0.0.1:5001", "127.0.0.1:5001", True),
        ("127.0.0.1:*", "127.0.0.1:5002", True),
        ("127.0.0.1:*", "127.0.0.10:5002", False),
        ("*.io", "ghcr.io", True),
    ],
)
def test_registry_globs(pattern: str, registry: str, expected: bool) -> None:
    assert compile_registry_glob(pattern).matches(registry) is expected


@pytest.mark.parametrize(
    ("regex", "tag", "expected"),
    [
        (r"v[0-9]+\.[0-9]+", "v1.2", True),
        (r"v[0-9]+\.[0-9]+", "v1.2.3", False),  # always a full match
        (r"v[0-9]+", "xv1", False),
        (r"latest|stable", "stable", True),
        (r"latest|stable", "latest-1", False),
        (r".*-rc[0-9]*", "2.0-rc1", True),
        (r"(?i)LATEST", "latest", True),
        (r"[0-9]+(-rc[0-9]+)?", "12-rc3", True),
    ],
)
def test_tag_regexes(regex: str, tag: str, expected: bool) -> None:
    assert (compile_tag_regex(regex).fullmatch(tag) is not None) is expected


@pytest.mark.parametrize(
    ("compile_", "pattern", "message"),
    [
        (compile_repository_glob, "", "repository pattern is empty"),
        (compile_repository_glob, "a" * 256, "repository pattern is longer than 255"),
        (compile_repository_glob, "a//b", "empty path component"),
        (compile_repository_glob, "/a", "empty path component"),
        (compile_repository_glob, "a/", "empty path component"),
        (compile_repository_glob, "a/b**", "'**' must be a whole path component"),
        (compile_repository_glob, "Library/*", "character 'L' is not allowed"),
        (compile_repository_glob, "a/[bc", "'[' is never closed"),
        (compile_repository_glob, "a/[]", "empty character class"),
        (compile_repository_glob, "a/[z-a]", "invalid range z-a"),
        (compile_repository_glob, "a/[.-9]", "invalid range .-9"),  # would include '/'
        (compile_repository_glob, "a b", "character ' ' is not allowed"),
        (compile_tag_glob, "v1/2", "tag pattern 'v1/2' must not contain '/'"),
        (compile_tag_glob, "v1+", "tag pattern 'v1+': character '+'"),
        (compile_registry_glob, "docker.io/library", "registry pattern 'docker.io/library' must not"),
        (compile_tag_regex, "", "tag_regex is empty"),
        (compile_tag_regex, "v" * 513, "tag_regex is longer than 512"),
        (compile_tag_regex, "v[0-9", "not a valid regular expression"),
        (compile_tag_regex, "(a+)+", "repeated group contains a repetition"),
        (compile_tag_regex, "(a*)*b", "repeated group contains a repetition"),
        (compile_tag_regex, "(a|aa)+", "repeated group contains a repetition or an alternation"),
        (compile_tag_regex, r"(\.[0-9]+){2}", "repeated group"),
        (compile_tag_regex, "((ab)+c)*", "repeated group"),
        (compile_tag_regex, "(?:a?){3,}", "repeated group"),
        (compile_tag_regex, r"(a)\1", "backreferences"),
        (compile_tag_regex, "(?P<x>a)(?P=x)", "backreferences"),
        (compile_tag_regex, ".*.*.*x", "more than twice"),
    ],
)
def test_invalid_patterns_name_the_field(
    compile_: Callable[[str], object], pattern: str, message: str
) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        compile_(pattern)


@pytest.mark.parametrize(
    "regex",
    [
        r"v[0-9]+(-rc[0-9]+)?",
        r"(?:latest|stable)",
        r"(?P<major>[0-9]+)\.x",
        r"[a-z]{1,3}-[0-9]{2}",
        r"a{2}",
        r"v\d+",
    ],
)
def test_safe_regexes_are_accepted(regex: str) -> None:
    compile_tag_regex(regex)
