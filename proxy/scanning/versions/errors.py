"""The two ways a version comparison refuses.

Both are `ValueError`s so a caller that only wants "could not compare" catches one type; the
attributes say which part failed without parsing the message.
"""

from __future__ import annotations

__all__ = ["InvalidVersion", "UnsupportedEcosystem"]

# How much of an offending version the message repeats: enough to find it, not a log flood.
_PREVIEW = 64


class InvalidVersion(ValueError):
    """`version` is not something the `scheme`'s own tools would compare."""

    def __init__(self, scheme: str, version: str, reason: str) -> None:
        self.scheme = scheme
        self.version = version
        self.reason = reason
        shown = version if len(version) <= _PREVIEW else version[:_PREVIEW] + "…"
        super().__init__(f"invalid {scheme} version {shown!r}: {reason}")


class UnsupportedEcosystem(ValueError):
    """No comparison is known for this OSV ecosystem, so nothing about it can be decided."""

    def __init__(self, ecosystem: str) -> None:
        self.ecosystem = ecosystem
        super().__init__(f"no version comparison for ecosystem {ecosystem!r}")
