"""Where a request points: one repository of one upstream."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.oci.reference import RepositoryName

__all__ = ["RepoKey"]


@dataclass(frozen=True, slots=True)
class RepoKey:
    """A repository as the upstream names it (Docker Hub names already normalised)."""

    upstream: str
    name: RepositoryName

    def __str__(self) -> str:
        return f"{self.upstream}/{self.name}"
