"""Paragraphs of `Key: value` fields, the format of the dpkg status file (deb822(5)) and, with
case-sensitive one-letter keys and no space, of apk's installed database."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["paragraphs"]


def paragraphs(text: str, *, fold_case: bool = True) -> Iterator[dict[str, str]]:
    """Each blank-line separated paragraph as a dict of keys (lower-cased with `fold_case`:
    deb822 field names are case-insensitive, apk's one-letter keys are not) to values.
    Continuation lines (starting with a space or tab) are skipped: no field read here spans
    lines. A line without the separator is ignored, as dpkg ignores it."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
                fields = {}
            continue
        if line[0] in " \t":
            continue
        key, found, value = line.partition(":")
        if found and key:
            # The first occurrence wins, as in dpkg: a repeated field is an error there.
            fields.setdefault(key.strip().lower() if fold_case else key, value.strip())
    if fields:
        yield fields
