"""The one error of the policy package."""

from __future__ import annotations

__all__ = ["PolicyError"]


class PolicyError(ValueError):
    """A rule, pattern or subject the engine refuses; the message names the offending field."""
