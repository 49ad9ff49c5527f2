"""What upstream responses say: the value types the client returns and the header readers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import aiohttp
from aiohttp import hdrs
from yarl import URL

from proxy.oci.digest import Digest, InvalidDigestError

__all__ = [
    "FetchedManifest",
    "ManifestHead",
    "TagPage",
    "content_length",
    "declared_digest",
    "manifest_head",
    "media_type",
    "next_last",
]

_LINK_RE = re.compile(r"<([^>]*)>([^,]*)")
_REL_NEXT_RE = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    data: bytes = field(repr=False)
    media_type: str
    digest: Digest | None  # Docker-Content-Digest as the upstream declared it; not verified


@dataclass(frozen=True, slots=True)
class ManifestHead:
    digest: Digest | None
    media_type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class TagPage:
    tags: list[str]
    next_last: str | None  # pass as `last` to fetch the next page; None when this is the last one


async def manifest_head(response: aiohttp.ClientResponse) -> ManifestHead:
    return ManifestHead(declared_digest(response), media_type(response), response.content_length)


async def content_length(response: aiohttp.ClientResponse) -> int | None:
    return response.content_length


def media_type(response: aiohttp.ClientResponse) -> str | None:
    value = response.headers.get(hdrs.CONTENT_TYPE, "").split(";", 1)[0].strip()
    return value or None


def declared_digest(response: aiohttp.ClientResponse) -> Digest | None:
    try:
        return Digest.parse(response.headers.get("Docker-Content-Digest", "").strip())
    except InvalidDigestError:
        return None


def next_last(links: list[str]) -> str | None:
    """The `last` parameter of the Link header's rel="next" URL (distribution spec, tag listing)."""
    for value in links:
        for target, attributes in _LINK_RE.findall(value):
            rels = {rel.lower() for m in _REL_NEXT_RE.finditer(attributes) for rel in m.group(1).split()}
            if "next" in rels:
                try:
                    return URL(target).query.get("last")
                except ValueError:
                    return None  # a broken link ends the listing rather than failing this page
    return None
