"""The platform an image's config blob names (OCI image spec, "Image Configuration":
`os`, `architecture` and the optional `variant` are required of every image config).

A single-platform image carries its platform only there: an index names it for its
children, but an image pulled by itself has nothing else to say what it runs on.
"""

from __future__ import annotations

import json

from proxy.oci.manifest import Platform

__all__ = ["CONFIG_TYPES", "MAX_CONFIG_BYTES", "config_platform"]

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
# Configs hold history and environment; a few hundred KiB is already generous. Anything
# larger is not read to answer a question about four short strings.
MAX_CONFIG_BYTES = 1 << 20


def config_platform(data: bytes) -> Platform | None:
    """The config's platform, or None when the bytes are not a config naming one."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    os_name, architecture, variant = value.get("os"), value.get("architecture"), value.get("variant")
    if not isinstance(os_name, str) or not isinstance(architecture, str) or not os_name or not architecture:
        return None
    return Platform(os_name, architecture, variant if isinstance(variant, str) and variant else None)
