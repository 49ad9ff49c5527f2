"""Repository names and manifest references, parsed once into value types.

Grammar from the OCI distribution spec ("Pulling manifests"):
  name       <- [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*
  tag        <- [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
distribution additionally caps a repository name at 255 characters, which we follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.oci.digest import Digest, InvalidDigestError

__all__ = [
    "InvalidNameError",
    "InvalidReferenceError",
    "RegistryHost",
    "RepositoryName",
    "Tag",
    "parse_reference",
]

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# A registry host as containerd sends it in ?ns=: a DNS name or IPv4 address, optional port.
_HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(?::[0-9]{1,5})?"
)
_MAX_NAME = 255
_MAX_HOST = 255


class InvalidNameError(ValueError):
    """A repository name or registry host that breaks the grammar."""


class InvalidReferenceError(ValueError):
    """A manifest reference that is neither a valid tag nor a valid digest."""


@dataclass(frozen=True, slots=True)
class RepositoryName:
    value: str

    @classmethod
    def parse(cls, text: str) -> RepositoryName:
        if not text:
            raise InvalidNameError("repository name is empty")
        if len(text) > _MAX_NAME:
            raise InvalidNameError(f"repository name is longer than {_MAX_NAME} characters")
        if not _NAME.fullmatch(text):
            raise InvalidNameError(
                f"repository name {text!r} is invalid: components must be lowercase letters and digits "
                "separated by '.', '_', '__' or '-', joined by single '/'"
            )
        return cls(text)

    @property
    def components(self) -> list[str]:
        return self.value.split("/")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Tag:
    value: str

    @classmethod
    def parse(cls, text: str) -> Tag:
        if not _TAG.fullmatch(text):
            raise InvalidReferenceError(f"tag {text[:140]!r} is invalid")
        return cls(text)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class RegistryHost:
    """A registry host name (with optional port), as in containerd's ``ns`` parameter."""

    value: str

    @classmethod
    def parse(cls, text: str) -> RegistryHost:
        if not text or len(text) > _MAX_HOST or not _HOST.fullmatch(text):
            raise InvalidNameError(f"registry host {text[:100]!r} is invalid")
        port = text.rpartition(":")[2] if ":" in text else None
        if port is not None and not 0 < int(port) < 65536:
            raise InvalidNameError(f"registry host {text!r} has an invalid port")
        return cls(text.lower())

    def __str__(self) -> str:
        return self.value


def parse_reference(text: str) -> Tag | Digest:
    """A manifest reference: a digest when it has an algorithm prefix, otherwise a tag."""
    if ":" in text:
        try:
            return Digest.parse(text)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(str(exc)) from exc
    return Tag.parse(text)
