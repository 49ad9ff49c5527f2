"""`analyse_layer`: one layer blob in, what it contributes to the image's inventory out."""

from __future__ import annotations

import gzip
import tarfile
import zlib
from typing import BinaryIO

import zstandard

from proxy.scanning.layers.compression import (
    Compression,
    LayerLimitReached,
    bounded,
    declared_compression,
    decompressor,
    read_prefix,
    sniff,
)
from proxy.scanning.layers.limits import Limits
from proxy.scanning.layers.walker import LimitReached, Walker
from proxy.scanning.model import LayerAnalysis

__all__ = ["ANALYZER_VERSION", "analyse_layer"]

# Stored with every analysis (LayerAnalysis.analyzer_version). Bump it when a change makes
# earlier analyses wrong or incomplete (a new extractor, a fixed parser): cached analyses of
# another version are then redone instead of reused.
ANALYZER_VERSION = 1

# What a corrupt or truncated layer raises from tarfile and the decompressors. tarfile raises
# ValueError for some malformed numeric fields in PAX and sparse headers. OSError in general
# is left alone: that is the caller's stream failing, not the layer being hostile.
_CORRUPT = (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, zstandard.ZstdError, ValueError)
_TAR_BUFFER = 64 * 1024


def analyse_layer(
    stream: BinaryIO,
    *,
    digest: str,
    media_type: str,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so one shared default is safe
) -> LayerAnalysis:
    """Read the layer once, streaming, and report its files of interest, whiteouts and opaque
    directories. Nothing is written to disk and no more than `limits` allow is held in memory.
    Malformed, hostile or oversized input never raises: it ends up in `problems`, alongside
    whatever was found before the walk had to stop."""
    walker = Walker(digest, limits)
    declared = declared_compression(media_type)
    if declared is None:
        walker.problems.add(f"not an image layer media type: {media_type[:200]!r}; not analysed")
        return walker.result(ANALYZER_VERSION)
    prefix, source = read_prefix(stream)
    if not prefix:
        walker.problems.add("empty layer blob")
        return walker.result(ANALYZER_VERSION)
    compression = sniff(prefix) or Compression.NONE
    if compression is not declared:
        walker.problems.add(
            f"media type declares {declared.value} content but it is {compression.value}; read as {compression.value}"
        )
    try:
        tar_bytes = bounded(decompressor(source, compression), limits.max_layer_bytes)
        with tarfile.open(fileobj=tar_bytes, mode="r|", bufsize=_TAR_BUFFER) as tar:
            while (member := tar.next()) is not None:
                # Stream mode keeps every header it has read; a million entries would pile up.
                # (`members` is documented only through getmembers(), which would read on.)
                tar.members = []  # type: ignore[attr-defined]
                walker.visit(tar, member)
    except (LayerLimitReached, LimitReached) as exc:
        walker.problems.add(str(exc))
    except _CORRUPT as exc:
        walker.problems.add(f"corrupt {compression.value} layer: {type(exc).__name__}: {str(exc)[:200]}")
    return walker.result(ANALYZER_VERSION)
