"""The one error an extractor raises: the file is not what its path promised, wholly or in part."""

from __future__ import annotations

from collections.abc import Iterable

from proxy.scanning.model import Package

__all__ = ["ExtractionError"]


class ExtractionError(ValueError):
    """Raised by an extractor for malformed input. `packages` holds what could still be read
    (a status file with one broken stanza still lists the others), so the caller reports the
    problems and keeps the packages."""

    def __init__(self, problems: Iterable[str], packages: Iterable[Package] = ()) -> None:
        self.problems = tuple(problems)
        self.packages = tuple(packages)
        super().__init__("; ".join(self.problems))
