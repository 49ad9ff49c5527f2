"""Package URLs (https://github.com/package-url/purl-spec): built for every package so a
CycloneDX consumer can name it, and read back only from purls this package wrote."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

__all__ = ["Purl"]


def _encode(text: str) -> str:
    # Only unreserved characters stay literal, so '+' in a Debian version becomes %2B and '@'
    # in an npm scope %40; ':' is kept because the spec lists it as never needing encoding.
    return quote(text, safe=":")


@dataclass(frozen=True, slots=True)
class Purl:
    type: str
    name: str
    version: str
    namespace: str = ""  # may contain '/' (Go module paths): each segment is encoded alone
    qualifiers: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        text = f"pkg:{self.type}/"
        if self.namespace:
            text += "/".join(_encode(segment) for segment in self.namespace.split("/")) + "/"
        text += _encode(self.name)
        if self.version:
            text += "@" + _encode(self.version)
        # The canonical form sorts qualifiers by key and leaves out empty values.
        pairs = sorted((key, value) for key, value in self.qualifiers if value)
        if pairs:
            text += "?" + "&".join(f"{key}={_encode(value)}" for key, value in pairs)
        return text

    def qualifier(self, key: str) -> str | None:
        return dict(self.qualifiers).get(key)

    def with_qualifier(self, key: str, value: str | None) -> Purl:
        others = tuple(pair for pair in self.qualifiers if pair[0] != key)
        return replace(self, qualifiers=others + (((key, value),) if value else ()))

    @classmethod
    def parse(cls, text: str) -> Purl | None:
        """A purl in the canonical form `__str__` writes, or None for anything else."""
        if not text.startswith("pkg:"):
            return None
        body, _, query = text[4:].partition("?")
        path, at, version = body.rpartition("@")
        if not at:
            path, version = body, ""
        type_, _, rest = path.partition("/")
        namespace, _, name = rest.rpartition("/")
        if not type_ or not name:
            return None
        qualifiers = tuple(
            (key, unquote(value))
            for key, _, value in (item.partition("=") for item in query.split("&") if item)
        )
        return cls(
            type=type_,
            name=unquote(name),
            version=unquote(version),
            namespace="/".join(unquote(segment) for segment in namespace.split("/")) if namespace else "",
            qualifiers=qualifiers,
        )
