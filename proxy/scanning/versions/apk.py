"""Alpine apk versions: ``digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}``.

The grammar and ordering are apk-tools' (``src/version.c``): a version is a sequence of
tokens, each kind allowed only after certain others, and two versions compare token by token.
Digits compare as numbers, except that a dotted component with a leading zero compares as a
string (Gentoo's rule: ``1.02 < 1.1``); suffixes order
``_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p``; a ``~hash`` commit
part compares as a string; ``-rN`` is the package revision.

apk itself will order some strings its validator rejects; here anything
``apk_version_validate`` rejects is an InvalidVersion, because an advisory's or database's
malformed version is better refused than placed in the order by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

from proxy.scanning.versions._common import checked, sign
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["ApkVersion", "Token", "TokenKind", "compare", "parse"]

_SCHEME = "apk"


class TokenKind(IntEnum):
    """Ordered as in apk-tools: the order decides which kind may follow which, and how a
    version that ends early compares with one that goes on."""

    INITIAL_DIGIT = 0
    DIGIT = 1
    LETTER = 2
    SUFFIX = 3
    SUFFIX_NO = 4
    COMMIT_HASH = 5
    REVISION_NO = 6
    END = 7


# Suffix ranks; 5 is "no suffix", so ranks below it are pre-releases.
_NO_SUFFIX = 5
_SUFFIXES = MappingProxyType(
    {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the token's characters, without its leading separator
    rank: int = 0  # suffix rank for SUFFIX tokens


@dataclass(frozen=True, slots=True)
class ApkVersion:
    tokens: tuple[Token, ...]  # always ends with an END token


def parse(text: str) -> ApkVersion:
    """Tokenise and validate a version as ``apk_version_validate`` does."""
    version = checked(_SCHEME, text)
    digits = _digit_run(version, 0)
    if not digits:
        raise InvalidVersion(_SCHEME, text, "must start with a digit")
    tokens = [Token(TokenKind.INITIAL_DIGIT, digits)]
    pos = len(digits)
    while pos < len(version):
        token, pos = _next_token(text, version, pos, tokens[-1].kind)
        tokens.append(token)
    tokens.append(Token(TokenKind.END, ""))
    return ApkVersion(tuple(tokens))


def _digit_run(s: str, pos: int) -> str:
    end = pos
    while end < len(s) and "0" <= s[end] <= "9":
        end += 1
    return s[pos:end]


def _refuse(text: str, pos: int, why: str) -> InvalidVersion:
    return InvalidVersion(_SCHEME, text, f"{why} at offset {pos}")


def _next_token(text: str, s: str, pos: int, previous: TokenKind) -> tuple[Token, int]:
    """Read the token at `pos`, checking that it may follow a token of kind `previous`."""
    char = s[pos]
    if "a" <= char <= "z":
        if previous > TokenKind.DIGIT:
            raise _refuse(text, pos, f"letter {char!r} may only follow a number")
        return Token(TokenKind.LETTER, char), pos + 1
    if char == "." or "0" <= char <= "9":
        return _number(text, s, pos, previous)
    if char == "_":
        return _suffix(text, s, pos, previous)
    if char == "~":
        return _commit_hash(text, s, pos, previous)
    if char == "-":
        if previous >= TokenKind.REVISION_NO:
            raise _refuse(text, pos, "only one revision is allowed")
        digits = _digit_run(s, pos + 2) if s.startswith("-r", pos) else ""
        if not digits:
            raise _refuse(text, pos, "'-' must start a revision '-r<number>'")
        return Token(TokenKind.REVISION_NO, digits), pos + 2 + len(digits)
    raise _refuse(text, pos, f"unexpected character {char!r}")


def _number(text: str, s: str, pos: int, previous: TokenKind) -> tuple[Token, int]:
    """A dotted component after a number, or the number of a suffix (``_rc2``)."""
    start = pos + 1 if s[pos] == "." else pos
    if previous in (TokenKind.INITIAL_DIGIT, TokenKind.DIGIT):
        kind = TokenKind.DIGIT
    elif previous == TokenKind.SUFFIX and start == pos:
        kind = TokenKind.SUFFIX_NO
    else:
        raise _refuse(text, pos, "a number must follow a number after '.' or a suffix directly")
    digits = _digit_run(s, start)
    if not digits:
        raise _refuse(text, pos, "expected digits")
    return Token(kind, digits), start + len(digits)


def _suffix(text: str, s: str, pos: int, previous: TokenKind) -> tuple[Token, int]:
    if previous > TokenKind.SUFFIX_NO:
        raise _refuse(text, pos, "a suffix may not follow a hash or revision")
    end = pos + 1
    while end < len(s) and "a" <= s[end] <= "z":
        end += 1
    name = s[pos + 1 : end]
    if name not in _SUFFIXES:
        raise _refuse(text, pos, f"unknown suffix {name!r}")
    return Token(TokenKind.SUFFIX, name, _SUFFIXES[name]), end


def _commit_hash(text: str, s: str, pos: int, previous: TokenKind) -> tuple[Token, int]:
    if previous >= TokenKind.COMMIT_HASH:
        raise _refuse(text, pos, "a commit hash may not follow a hash or revision")
    end = pos + 1
    while end < len(s) and s[end] in _HEX:
        end += 1
    if end == pos + 1:
        raise _refuse(text, pos, "'~' must be followed by a lower-case hex commit hash")
    return Token(TokenKind.COMMIT_HASH, s[pos + 1 : end]), end


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` under ``apk version -t``."""
    ta, tb = parse(a).tokens, parse(b).tokens
    i = 0
    while ta[i].kind == tb[i].kind and ta[i].kind != TokenKind.END:
        result = _compare_tokens(ta[i], tb[i])
        if result:
            return result
        i += 1
    x, y = ta[i], tb[i]
    if x.kind == y.kind:
        return 0
    # The versions agree up to here and one goes on. Going on with a pre-release suffix makes
    # it older (1.0_rc1 < 1.0); going on with anything else makes it newer (1.0 < 1.0.1), and
    # between two different continuations the kind that sorts later in the grammar is older.
    if x.kind == TokenKind.SUFFIX and x.rank < _NO_SUFFIX:
        return -1
    if y.kind == TokenKind.SUFFIX and y.rank < _NO_SUFFIX:
        return 1
    return -1 if x.kind > y.kind else 1


def _compare_tokens(x: Token, y: Token) -> int:
    """Compare two tokens of the same kind."""
    if x.kind == TokenKind.DIGIT and (x.text.startswith("0") or y.text.startswith("0")):
        return _compare_strings(x.text, y.text)
    if x.kind in (TokenKind.INITIAL_DIGIT, TokenKind.DIGIT, TokenKind.SUFFIX_NO, TokenKind.REVISION_NO):
        # By value; apk holds these in 64 bits, which no real version comes near.
        return sign(int(x.text) - int(y.text))
    if x.kind == TokenKind.SUFFIX:
        return sign(x.rank - y.rank)
    # LETTER and COMMIT_HASH: byte order, a proper prefix first (apk_blob_sort).
    return _compare_strings(x.text, y.text)


def _compare_strings(x: str, y: str) -> int:
    return (x > y) - (x < y)
