"""Helpers every scheme shares: the input bound and C-style result folding."""

from __future__ import annotations

from proxy.scanning.versions.errors import InvalidVersion

__all__ = ["MAX_VERSION_LENGTH", "checked", "sign"]

# Real versions are short (the longest in Debian's archive is under 100 characters). The bound
# keeps every comparison linear in a small constant, so a hostile advisory or package database
# cannot make the scanner spend time on megabyte "versions"; SemVer's FAQ calls 255 overkill.
MAX_VERSION_LENGTH = 256


def checked(scheme: str, version: object) -> str:
    """Return `version` if it is a string within the length bound, else raise InvalidVersion.

    Every scheme calls this first, so the bound holds before any parsing work is done.
    """
    if not isinstance(version, str):
        raise InvalidVersion(scheme, repr(version), f"expected a string, got {type(version).__name__}")
    if len(version) > MAX_VERSION_LENGTH:
        raise InvalidVersion(scheme, version, f"longer than {MAX_VERSION_LENGTH} characters")
    return version


def sign(value: int) -> int:
    """Collapse a C-style comparison result (any int) to -1, 0 or 1."""
    return (value > 0) - (value < 0)
