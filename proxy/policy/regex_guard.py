"""A heuristic guard against tag regexes that backtrack catastrophically.

Python's ``re`` backtracks, so a regex such as ``(a+)+$`` takes exponential time on a string
of ``a`` followed by something else. Tags are at most 128 characters, which bounds the damage
of polynomial shapes but not of exponential ones. Rejected:

* a group repeated by ``*``, ``+``, ``{m,}`` or ``{m,n}`` with n > 1 that itself contains a
  repetition (``*``, ``+``, ``?``, ``{..}``) or an alternation: ``(a+)+``, ``(a|aa)*``,
  ``(\\.[0-9]+){2}`` (write ``\\.[0-9]+\\.[0-9]+`` instead); ``(-rc[0-9]+)?`` is fine;
* backreferences (``\\1``, ``(?P=name)``);
* more than two ``.*`` or ``.+`` (``.*.*.*x`` is cubic).

It is a heuristic: it refuses some safe regexes and cannot prove any regex safe.
"""

from __future__ import annotations

import re

from proxy.policy.errors import PolicyError

__all__ = ["check_regex_shape"]


def check_regex_shape(pattern: str, field: str) -> None:
    """Reject regex shapes that backtrack catastrophically (a heuristic, not a proof)."""
    if pattern.count(".*") + pattern.count(".+") > 2:
        raise PolicyError(f"{field} {pattern!r} uses '.*' or '.+' more than twice; simplify it")
    # One frame per open group: [contains a repetition or an alternation].
    frames: list[bool] = [False]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1 : i + 2].isdigit() and pattern[i + 1] != "0":
                raise PolicyError(f"{field} {pattern!r}: backreferences are not allowed")
            i += 2
            continue
        if char == "[":
            i = _skip_class(pattern, i)
            continue
        if char == "(":
            if pattern.startswith("(?P=", i):
                raise PolicyError(f"{field} {pattern!r}: backreferences are not allowed")
            frames.append(False)
            if pattern.startswith("(?", i):  # group syntax, not a quantifier
                i += 1
        elif char == ")" and len(frames) > 1:
            risky = frames.pop()
            repeat, i = _quantifier(pattern, i + 1)
            if repeat and risky:
                raise PolicyError(
                    f"{field} {pattern!r}: a repeated group contains a repetition or an alternation "
                    "(like '(a+)+'), which can take exponential time; write the repetition out"
                )
            frames[-1] = frames[-1] or risky or repeat
            continue
        elif char == "|":
            frames[-1] = True
        elif char in "*+?{":
            repeat, after = _quantifier(pattern, i)
            frames[-1] = frames[-1] or repeat or char == "?"
            i = max(after, i + 1)
            continue
        i += 1


def _skip_class(pattern: str, start: int) -> int:
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _quantifier(pattern: str, i: int) -> tuple[bool, int]:
    """Read a quantifier at ``i`` (if any): (does it repeat more than once, index after it)."""
    char = pattern[i : i + 1]
    if char in ("*", "+"):
        repeat, i = True, i + 1
    elif char == "?":
        repeat, i = False, i + 1
    elif char == "{" and (braces := _BRACES.match(pattern, i)):
        low, comma, high = braces.groups()
        repeat = bool(comma and not high) or int(high or low or "0") > 1
        i = braces.end()
    else:
        return False, i
    if pattern[i : i + 1] in ("?", "+"):  # lazy or possessive modifier
        i += 1
    return repeat, i
