"""Upstream registries: the client that fetches from them, its authentication and retries.

The service layer uses `UpstreamRegistry` and turns `UpstreamError` into what a registry
client sees with `to_registry_error`.
"""

from proxy.upstream.auth import Credentials
from proxy.upstream.circuit import CircuitState, CircuitStatus
from proxy.upstream.client import BlobStream, UpstreamRegistry
from proxy.upstream.credentials import CredentialSource
from proxy.upstream.errors import UpstreamError, UpstreamErrorKind, to_registry_error
from proxy.upstream.responses import FetchedManifest, ManifestHead, TagPage

__all__ = [
    "BlobStream",
    "CircuitState",
    "CircuitStatus",
    "CredentialSource",
    "Credentials",
    "FetchedManifest",
    "ManifestHead",
    "TagPage",
    "UpstreamError",
    "UpstreamErrorKind",
    "UpstreamRegistry",
    "to_registry_error",
]
