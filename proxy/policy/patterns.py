"""Glob and regex compilation for rule matches, with limits so that no rule can stall a pull.

Globs (the grammar is the same for every field):
  ``*``      any run of characters within one path component (never ``/``)
  ``?``      exactly one character (never ``/``)
  ``[abc]``  one of the listed characters; ranges ``[a-z]``; ``[!abc]`` or ``[^abc]`` negates
  anything else is a literal, restricted to the characters the field can hold
Wildcards and classes stand only for characters the field can hold, and a lone ``*``
component for a non-empty one: no glob matches a name the grammar refuses (``library/*``
does not match ``library/ALPINE``, ``library/%61`` or ``library/``).

Repository globs work on ``/``-separated components. ``**`` must be a whole component and
matches *zero or more* components, wherever it stands: ``team/**`` matches ``team``,
``team/a`` and ``team/a/b``; ``a/**/b`` matches ``a/b`` and ``a/x/y/b``; ``**`` alone matches
every repository. Tag globs are single components (tags cannot hold ``/``). Registry globs are
matched case-insensitively against upstream names: ``*.example.com`` matches
``a.example.com`` and ``a.b.example.com`` but not ``example.com``; ``127.0.0.1:*`` any port.

Every glob compiles to a regex matched in full. A chunk between two ``*`` is matched at its
first occurrence inside an atomic group (the technique of CPython's ``fnmatch``), and so is a
run of components between two ``**``, so matching stays near-linear whatever the pattern.

Tag regexes (``tag_regex``) are Python regexes, at most 512 characters, matched in full
against each tag (at most 128 characters); `proxy.policy.regex_guard` rejects the shapes
that backtrack catastrophically.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from proxy.policy.errors import PolicyError
from proxy.policy.regex_guard import check_regex_shape

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_REGEX_LENGTH",
    "MAX_TAG_LENGTH",
    "Glob",
    "PatternCache",
    "PolicyError",
    "compile_registry_glob",
    "compile_repository_glob",
    "compile_tag_glob",
    "compile_tag_regex",
]

MAX_PATTERN_LENGTH = 255
MAX_REGEX_LENGTH = 512
MAX_TAG_LENGTH = 128  # the OCI tag grammar caps tags at 128 characters

_REPOSITORY_CHARS = frozenset(string.ascii_lowercase + string.digits + "._-")
_TAG_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
_REGISTRY_CHARS = frozenset(string.ascii_lowercase + string.digits + ".-:_")
_WILDCARDS = frozenset("*?[")


def _one_of(chars: frozenset[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(chars)) + "]"


# What one wildcard character may stand for: a character the field can hold, never `/` and
# never anything else (an upper-case, percent-encoded or Unicode look-alike of a name is not
# the name; the router refuses such names, and no glob lets one through either).
_ONE = {chars: _one_of(chars) for chars in (_REPOSITORY_CHARS, _TAG_CHARS, _REGISTRY_CHARS)}
_SEGMENT = f"{_ONE[_REPOSITORY_CHARS]}+"  # one repository path component, for `**`


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled glob. ``prefix`` holds the leading wildcard-free components (repositories)."""

    pattern: str
    regex: re.Pattern[str] | None  # None when literal: matching is string equality
    literal: bool  # no wildcard at all
    literal_chars: int  # characters that must appear verbatim (specificity)
    doublestar: bool  # uses ``**`` (repository globs)
    prefix: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        if self.regex is None:
            return text == self.pattern
        return self.regex.fullmatch(text) is not None


def compile_repository_glob(pattern: str, field: str = "repository") -> Glob:
    _check_length(pattern, field)
    components = pattern.split("/")
    if "" in components:
        raise PolicyError(
            f"{field} pattern {pattern!r} has an empty path component (leading, trailing or double '/')"
        )
    collapsed: list[str] = []
    for component in components:
        if "**" in component and component != "**":
            raise PolicyError(
                f"{field} pattern {pattern!r}: '**' must be a whole path component, like 'team/**'"
            )
        if not (component == "**" and collapsed[-1:] == ["**"]):
            collapsed.append(component)
    prefix: list[str] = []
    for component in collapsed:
        if _WILDCARDS.intersection(component):
            break
        prefix.append(component)
    segments: list[list[str]] = [[]]
    literal_chars = 0
    for component in collapsed:
        if component == "**":
            segments.append([])
            continue
        regex, count = _component(component, pattern, field, _REPOSITORY_CHARS)
        # A lone `*` stands for a whole component, and no component is empty (`a/*` is not `a/`).
        segments[-1].append(_SEGMENT if component == "*" else regex)
        literal_chars += count
    literal = len(prefix) == len(collapsed)
    return Glob(
        pattern="/".join(collapsed),
        regex=None if literal else re.compile(_assemble(segments)),
        literal=literal,
        literal_chars=literal_chars,
        doublestar=len(segments) > 1,
        prefix=tuple(prefix),
    )


def compile_tag_glob(pattern: str, field: str = "tag") -> Glob:
    return _single_component(pattern, field, _TAG_CHARS)


def compile_registry_glob(pattern: str, field: str = "registry") -> Glob:
    return _single_component(pattern.lower(), field, _REGISTRY_CHARS)


def compile_tag_regex(pattern: str, field: str = "tag_regex") -> re.Pattern[str]:
    if not pattern:
        raise PolicyError(f"{field} is empty")
    if len(pattern) > MAX_REGEX_LENGTH:
        raise PolicyError(f"{field} is longer than {MAX_REGEX_LENGTH} characters")
    check_regex_shape(pattern, field)
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise PolicyError(f"{field} {pattern!r} is not a valid regular expression: {exc}") from exc


class PatternCache:
    """Compiled patterns shared by the rules of one policy (real policies repeat them a lot)."""

    __slots__ = ("_globs", "_regexes")

    def __init__(self) -> None:
        self._globs: dict[tuple[str, str], Glob] = {}
        self._regexes: dict[str, re.Pattern[str]] = {}

    def glob(self, field: str, pattern: str) -> Glob:
        """``field`` is ``*.repository``, ``*.tag`` or ``*.registry``: it picks the grammar."""
        key = (field, pattern)
        glob = self._globs.get(key)
        if glob is None:
            compile_ = _GLOB_COMPILERS[field.rpartition(".")[2]]
            glob = self._globs[key] = compile_(pattern, field)
        return glob

    def tag_regex(self, field: str, pattern: str) -> re.Pattern[str]:
        regex = self._regexes.get(pattern)
        if regex is None:
            regex = self._regexes[pattern] = compile_tag_regex(pattern, field)
        return regex


def _check_length(pattern: str, field: str) -> None:
    if not pattern:
        raise PolicyError(f"{field} pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PolicyError(f"{field} pattern is longer than {MAX_PATTERN_LENGTH} characters")


_GLOB_COMPILERS = {
    "repository": compile_repository_glob,
    "tag": compile_tag_glob,
    "registry": compile_registry_glob,
}


def _single_component(pattern: str, field: str, allowed: frozenset[str]) -> Glob:
    _check_length(pattern, field)
    if "/" in pattern:
        raise PolicyError(f"{field} pattern {pattern!r} must not contain '/'")
    regex, literal_chars = _component(pattern, pattern, field, allowed)
    literal = not _WILDCARDS.intersection(pattern)
    return Glob(pattern, None if literal else re.compile(regex), literal, literal_chars, doublestar=False)


def _component(text: str, pattern: str, field: str, allowed: frozenset[str]) -> tuple[str, int]:
    """The regex for one component glob, and how many of its characters are literal."""
    if allowed.issuperset(text):  # the common case: a literal component
        return re.escape(text), len(text)
    chunks: list[list[str]] = [[]]
    literal_chars = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*":
            chunks.append([])
        elif char == "?":
            chunks[-1].append(_ONE[allowed])
        elif char == "[":
            regex, i = _char_class(text, i, pattern, field, allowed)
            chunks[-1].append(regex)
            continue
        elif char in allowed:
            chunks[-1].append(re.escape(char))
            literal_chars += 1
        else:
            raise PolicyError(f"{field} pattern {pattern!r}: character {char!r} is not allowed here")
        i += 1
    if len(chunks) == 1:
        return "".join(chunks[0]), literal_chars
    head, *middle, tail = ("".join(chunk) for chunk in chunks)
    # Each fixed-length chunk between two stars may be taken at its first occurrence: any
    # later occurrence would only leave less room for the rest. Atomic groups stop the
    # engine from trying the others, which is what makes `*a*a*a*b` cheap.
    one = _ONE[allowed]
    inner = "".join(f"(?>{one}*?{chunk})" for chunk in middle if chunk)
    return f"{head}{inner}{one}*{tail}", literal_chars


def _char_class(text: str, start: int, pattern: str, field: str, allowed: frozenset[str]) -> tuple[str, int]:
    """Translate ``[...]`` at ``start``; return the regex and the index after ``]``."""
    end = text.find("]", start + 1)
    if end == -1:
        raise PolicyError(f"{field} pattern {pattern!r}: '[' is never closed")
    body = text[start + 1 : end]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    if not body:
        raise PolicyError(f"{field} pattern {pattern!r}: empty character class")
    listed: set[str] = set()
    i = 0
    while i < len(body):
        low = body[i]
        if low not in allowed:
            raise PolicyError(f"{field} pattern {pattern!r}: character {low!r} is not allowed in a class")
        if i + 2 < len(body) and body[i + 1] == "-":
            high = body[i + 2]
            if high not in allowed or high < low or low <= "/" <= high:
                raise PolicyError(f"{field} pattern {pattern!r}: invalid range {low}-{high}")
            listed.update(chr(code) for code in range(ord(low), ord(high) + 1))
            i += 3
        else:
            listed.add(low)
            i += 1
    # Spelled out as the characters it stands for, within the field's alphabet: `[0-z]` holds
    # no upper-case letter or `:` in a repository, `[!a]` no character a name cannot hold.
    chosen = frozenset(allowed - listed if negate else allowed & listed)
    return (_one_of(chosen) if chosen else "(?!)"), end + 1


def _assemble(segments: list[list[str]]) -> str:
    """Join component regexes; ``segments`` are the runs between ``**`` components."""
    if len(segments) == 1:
        return "/".join(segments[0])
    head, *middle, tail = segments
    regex = "/".join(head)
    started = bool(head)
    for run in middle:
        skip = f"(?:/{_SEGMENT})*?/" if started else f"(?:{_SEGMENT}/)*?"
        # A run of components between two `**` is taken at its first occurrence (atomic).
        regex += f"(?>{skip}{'/'.join(run)}(?![^/]))"
        started = True
    if tail:
        regex += (f"(?:/{_SEGMENT})*/" if started else f"(?:{_SEGMENT}/)*") + "/".join(tail)
    else:
        regex += f"(?:/{_SEGMENT})*" if started else f"{_SEGMENT}(?:/{_SEGMENT})*"
    return regex
