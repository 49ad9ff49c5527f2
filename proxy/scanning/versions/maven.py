"""Maven versions, ordered as Maven's ``ComparableVersion`` orders them.

Maven accepts any string. It is lower-cased and cut into items at ``.`` and ``-`` and at every
switch between digits and non-digits: numbers, qualifiers (words), and "combinations" of a word
and the number right after it (``rc1``, ``sp-2``). A ``-``, and any switch from digits to a word,
opens a nested list, so ``1.0-rc1`` is ``[1, [rc1]]``; a word after a dot is treated the same,
so ``1.0.RC1`` and ``1.0-RC1`` read alike. Zeros and empty words at the end of a list or
just before a word are dropped (``1.0.0 == 1``).

Known qualifiers order ``alpha < beta < milestone < rc = cr < snapshot < (release) < sp``, with
``ga``, ``final`` and ``release`` placed with the release and ``a``, ``b``, ``m`` standing for
alpha, beta and milestone when a number follows; other words sort after ``sp``, alphabetically.
A number beats a word or a nested list at the same position; a list beats a word.

The behaviour followed is Maven 4's ``ComparableVersion`` (maven-artifact, kept under
``compat/`` in apache/maven), described by the POM reference's "Version Order Specification".
Maven 3.9.6 still differs on a few inputs (``final`` against ``sp``; a word followed by ``-N``).
Like Maven's, the order is not transitive for some contrived strings (``a < -rc < .`` yet
``a > .``); real versions do not hit this. Digits are ASCII digits; anything else that is not
a separator counts as a letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from proxy.scanning.versions._common import checked, sign
from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["compare"]

_SCHEME = "Maven"
_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_RELEASE_ALIASES = frozenset({"ga", "final", "release"})
_RELEASE_RANK = str(_QUALIFIERS.index(""))
# One letter followed by a number abbreviates a qualifier: 1a1 == 1-alpha-1.
_ABBREVIATIONS = MappingProxyType({"a": "alpha", "b": "beta", "m": "milestone"})


@dataclass(frozen=True, slots=True)
class _Number:
    value: int


@dataclass(frozen=True, slots=True)
class _Word:
    value: str  # after aliasing (cr -> rc, a1 -> alpha)

    @property
    def rank(self) -> str:
        """Known qualifiers by position, unknown ones after all of them, alphabetically.

        A string, compared as a string, because that is how Maven orders them."""
        if self.value in _RELEASE_ALIASES:
            return _RELEASE_RANK
        if self.value in _QUALIFIERS:
            return str(_QUALIFIERS.index(self.value))
        return f"{len(_QUALIFIERS)}-{self.value}"


@dataclass(frozen=True, slots=True)
class _Combination:
    word: _Word
    number: _Number


_Item: TypeAlias = _Number | _Word | _Combination | list["_Item"]


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _word(text: str, *, before_number: bool) -> _Word:
    if before_number and text in _ABBREVIATIONS:
        text = _ABBREVIATIONS[text]
    return _Word("rc" if text == "cr" else text)


def _number(digits: str) -> _Number:
    return _Number(int(digits or "0"))


def _combination(text: str) -> _Combination:
    text = text.replace("-", "")  # "sp-1" reads as "sp1"
    # The parser only forms a combination when a digit follows the word, so one is found.
    split = next((i for i, c in enumerate(text) if _is_digit(c)), len(text))
    return _Combination(_word(text[:split], before_number=True), _number(text[split:]))


def _item(text: str, *, combination: bool, digits: bool) -> _Item:
    if combination:
        return _combination(text)
    return _number(text) if digits else _word(text, before_number=False)


class _Parser:
    """One pass over a lower-cased version, building Maven's item tree.

    The state is Maven's: where the current item started, whether it is digits, whether it
    is a word running into a number, and the list items go into now."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.root: list[_Item] = []
        self.current = self.root
        self.opened = [self.root]
        self.start = 0
        self.digits = False
        self.combination = False

    def open_list(self) -> None:
        child: list[_Item] = []
        self.current.append(child)
        self.current = child
        self.opened.append(child)

    def add(self, end: int, *, digits: bool) -> None:
        text = self.version[self.start : end]
        self.current.append(_item(text, combination=self.combination, digits=digits))

    def separator(self, i: int, char: str) -> None:
        if i == self.start:
            self.current.append(_Number(0))  # an empty component reads as 0
        elif char == "-" and not self.digits and _is_digit(self.version[i + 1 : i + 2] or "-"):
            self.combination = True  # "sp-1" is the combination "sp1": keep reading
            return
        else:
            self.add(i, digits=self.digits)
        self.start = i + 1
        if char == "-" and self.current:
            self.open_list()
        self.combination = False

    def digit(self, i: int) -> None:
        if not self.digits and i > self.start:
            self.combination = True  # a word runs into a number: "rc1"
            if self.current:
                self.open_list()
        self.digits = True

    def other(self, i: int) -> None:
        if self.digits and i > self.start:
            self.add(i, digits=True)  # a number followed by a word: the word opens a list
            self.start = i
            self.open_list()
            self.combination = False
        self.digits = False

    def finish(self) -> list[_Item]:
        if len(self.version) > self.start:
            if not self.digits and self.current:
                self.open_list()  # a trailing word after a dot counts as after "-": 1.0.X1 < 1.0-X2
            self.add(len(self.version), digits=self.digits)
        for items in reversed(self.opened):
            _normalize(items)
        return self.root


def _parse(text: str) -> list[_Item]:
    """The item tree Maven builds for a version."""
    version = checked(_SCHEME, text).lower()
    if not version:
        raise InvalidVersion(_SCHEME, text, "empty")
    parser = _Parser(version)
    for i, char in enumerate(version):
        if char in ".-":
            parser.separator(i, char)
        elif _is_digit(char):
            parser.digit(i)
        else:
            parser.other(i)
    return parser.finish()


def _is_null(item: _Item) -> bool:
    if isinstance(item, _Number):
        return item.value == 0
    if isinstance(item, _Word):
        return item.value == ""
    if isinstance(item, _Combination):
        return False
    return not item


def _normalize(items: list[_Item]) -> None:
    """Drop null items (0, "", empty lists) at the end of a list or just before a word."""
    for i in range(len(items) - 1, -1, -1):
        following = items[i + 1] if i + 1 < len(items) else None
        if _is_null(items[i]) and (
            following is None
            or isinstance(following, _Word)
            or (
                isinstance(following, list)
                and bool(following)
                and isinstance(following[0], _Word | _Combination)
            )
        ):
            del items[i]


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` under Maven's ComparableVersion."""
    return _compare(_parse(a), _parse(b))


def _compare(x: _Item, y: _Item | None) -> int:
    """Compare item `x` with `y`, where None means "nothing at this position"."""
    if isinstance(x, _Number):
        return _compare_number(x, y)
    if isinstance(x, _Word):
        return _compare_word(x, y)
    if isinstance(x, _Combination):
        return _compare_combination(x, y)
    return _compare_list(x, y)


def _compare_number(x: _Number, y: _Item | None) -> int:
    if y is None:
        return 0 if x.value == 0 else 1  # 1.0 == 1, 1.1 > 1
    # A number beats a word, a combination and a nested list at the same position.
    return sign(x.value - y.value) if isinstance(y, _Number) else 1


def _compare_word(x: _Word, y: _Item | None) -> int:
    if y is None:
        return _compare_ranks(x.rank, _RELEASE_RANK)  # 1-rc < 1 < 1-sp
    if isinstance(y, _Word):
        return _compare_ranks(x.rank, y.rank)
    if isinstance(y, _Combination):
        return _compare_word(x, y.word) or -1  # rc < rc1
    return -1  # a word loses to a number and to a nested list


def _compare_combination(x: _Combination, y: _Item | None) -> int:
    if y is None:
        return _compare_word(x.word, None)
    if isinstance(y, _Word):
        return _compare_word(x.word, y) or 1
    if isinstance(y, _Combination):
        return _compare_word(x.word, y.word) or _compare_number(x.number, y.number)
    return -1  # a combination loses to a number and to a nested list


def _compare_list(x: list[_Item], y: _Item | None) -> int:
    if y is None:
        # Maven compares every item with "nothing", so 1-0.alpha sorts below 1.
        return next((r for r in (_compare(item, None) for item in x) if r), 0)
    if isinstance(y, _Number):
        return -1
    if not isinstance(y, list):
        return 1  # a nested list beats a word or combination
    for i in range(max(len(x), len(y))):
        result = -_compare(y[i], None) if i >= len(x) else _compare(x[i], y[i] if i < len(y) else None)
        if result:
            return result
    return 0


def _compare_ranks(x: str, y: str) -> int:
    return (x > y) - (x < y)
