"""How much of a layer the analyser is willing to read (DESIGN §2 invariant 6).

Every limit exists because the layer is untrusted input: a registry (or whoever pushed to it)
chooses the compression ratio, the number and size of entries and the length of names. When a
limit is hit the analyser says so in `LayerAnalysis.problems` and keeps what it found so far;
it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Limits"]

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


@dataclass(frozen=True, slots=True)
class Limits:
    # Decompressed bytes read from one layer, data and headers alike. Real layers reach a few
    # GiB; a gzip bomb expands about 1000:1, so this bounds the time spent on one.
    max_layer_bytes: int = 8 * _GIB
    # Tar entries in one layer, so a layer of a million empty files cannot pin a worker.
    max_entries: int = 1_000_000
    # Characters in one entry name; Linux PATH_MAX is 4096.
    max_path_length: int = 4096
    # Bytes of one package database, metadata file or os-release held in memory. rpmdb.sqlite
    # of a large RHEL image is about 30 MiB.
    max_file_bytes: int = 64 * _MIB
    # Bytes of one Java archive or executable held in memory (zip needs random access, and the
    # pre-1.18 Go build info is a pointer into the file). Larger executables are still scanned,
    # streaming, for the 1.18+ build info, which is self-contained.
    max_archive_bytes: int = 256 * _MIB
    # Archives inside archives (a jar in a war in an ear).
    max_archive_depth: int = 3
    # Entries in one zip's central directory: zipfile builds an object for each.
    max_archive_entries: int = 200_000
    # Packages reported for one layer.
    max_packages: int = 500_000
    # Problems reported for one layer; a hostile layer could otherwise make one per entry.
    max_problems: int = 1_000

    def __post_init__(self) -> None:
        for limit in fields(self):
            if getattr(self, limit.name) <= 0:
                raise ValueError(f"Limits.{limit.name} must be positive")
