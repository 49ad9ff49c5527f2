"""Which upstream and repository a /v2 request is for, parsed and validated once.

Routing order (DESIGN.md §1): containerd's ``?ns=<registry>``; else a first path segment
naming a configured upstream (``/v2/ghcr.io/org/app/...``, podman mirrors with a path);
else the default upstream, with Docker Hub's ``alpine`` -> ``library/alpine``. An ``ns``
naming no configured upstream is refused: sending it to the default would pull an image
from a registry the client did not ask for.

Names are read from the raw (still percent-encoded) path, and any percent-encoding in a name
is refused: the grammar allows no character that needs it, so an encoded name can only be
an attempt to make two spellings of one repository look different.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from proxy.cache.keys import RepoKey
from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.reference import (
    InvalidNameError,
    InvalidReferenceError,
    RegistryHost,
    RepositoryName,
    Tag,
    parse_reference,
)
from proxy.settings import UpstreamSettings

__all__ = ["Endpoint", "RegistryRequest", "Router"]

Endpoint = Literal["manifests", "blobs", "tags", "referrers", "uploads"]
_WITH_REFERENCE = ("manifests", "blobs", "referrers")


@dataclass(frozen=True, slots=True)
class RegistryRequest:
    endpoint: Endpoint
    key: RepoKey
    display_name: str  # the name as the client spelled it, for answers and links
    reference: str | None = None

    def manifest_reference(self) -> Tag | Digest:
        assert self.reference is not None
        try:
            return parse_reference(self.reference)
        except InvalidReferenceError as exc:
            code = ErrorCode.DIGEST_INVALID if ":" in self.reference else ErrorCode.MANIFEST_INVALID
            raise RegistryError(code, f"invalid manifest reference: {exc}") from exc

    def digest(self) -> Digest:
        assert self.reference is not None
        try:
            return Digest.parse(self.reference)
        except InvalidDigestError as exc:
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid digest: {exc}") from exc


class Router:
    def __init__(self, upstreams: Sequence[UpstreamSettings]) -> None:
        self._by_label = {label: u for u in upstreams for label in (u.name, *u.aliases)}
        self._default = next(u for u in upstreams if u.default)

    def route(self, raw_tail: str, ns: str | None) -> RegistryRequest:
        """Parse the raw path after ``/v2/`` (and containerd's ``ns``) into a request."""
        parts = raw_tail.split("/")
        endpoint, name_parts, reference = _split(parts)
        raw_name = "/".join(name_parts)
        if "%" in raw_name:
            raise RegistryError(ErrorCode.NAME_INVALID, "percent-encoded repository names are not accepted")
        try:
            name = RepositoryName.parse(raw_name)
        except InvalidNameError as exc:
            raise RegistryError(ErrorCode.NAME_INVALID, str(exc)) from exc
        upstream, upstream_name = self._select(name, ns)
        key = RepoKey(upstream.name, _normalise(upstream, upstream_name))
        return RegistryRequest(endpoint, key, raw_name, unquote(reference) if reference is not None else None)

    def scope_key(self, name: str) -> RepoKey:
        """The repository a token scope names: ``<upstream>/<repository>`` (how pullgate's own
        challenges name it, which may carry a ``host:port``), or a name as a /v2 path spells
        it (what skopeo and podman ask for), routed like that path without ``ns``."""
        first, _, rest = name.partition("/")
        upstream = self._by_label.get(first)
        if upstream is not None and rest:
            return RepoKey(upstream.name, _normalise(upstream, rest))
        try:
            parsed = RepositoryName.parse(name)
        except InvalidNameError as exc:
            raise RegistryError(ErrorCode.NAME_INVALID, str(exc)) from exc
        upstream, upstream_name = self._select(parsed, None)
        return RepoKey(upstream.name, _normalise(upstream, upstream_name))

    def _select(self, name: RepositoryName, ns: str | None) -> tuple[UpstreamSettings, str]:
        if ns is not None:
            try:
                host = RegistryHost.parse(ns)
            except InvalidNameError as exc:
                raise RegistryError(ErrorCode.NAME_INVALID, f"invalid ns parameter: {exc}") from exc
            upstream = self._by_label.get(host.value)
            if upstream is None:
                raise RegistryError(
                    ErrorCode.NAME_UNKNOWN,
                    f"registry {host.value!r} (ns parameter) is not a configured upstream of this pullgate",
                )
            return upstream, name.value
        first, _, rest = name.value.partition("/")
        if rest and first in self._by_label:
            return self._by_label[first], rest
        return self._default, name.value


def _split(parts: list[str]) -> tuple[Endpoint, list[str], str | None]:
    if len(parts) >= 3 and parts[-2:] == ["tags", "list"]:
        return "tags", parts[:-2], None
    # Push endpoints: <name>/blobs/uploads, <name>/blobs/uploads/ and <name>/blobs/uploads/<id>.
    if len(parts) >= 3 and parts[-2:] == ["blobs", "uploads"]:
        return "uploads", parts[:-2], None
    if len(parts) >= 4 and parts[-3:-1] == ["blobs", "uploads"]:
        return "uploads", parts[:-3], None
    if len(parts) >= 3 and parts[-2] in _WITH_REFERENCE and parts[-1]:
        endpoint: Endpoint = parts[-2]  # type: ignore[assignment]
        return endpoint, parts[:-2], parts[-1]
    raise RegistryError(ErrorCode.UNSUPPORTED, "not a registry API endpoint pullgate serves")


def _normalise(upstream: UpstreamSettings, name: str) -> RepositoryName:
    if upstream.is_docker_hub and "/" not in name:
        name = f"library/{name}"
    try:
        return RepositoryName.parse(name)
    except InvalidNameError as exc:
        raise RegistryError(ErrorCode.NAME_INVALID, str(exc)) from exc
