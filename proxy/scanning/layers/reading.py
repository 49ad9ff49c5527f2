"""Reading one entry's bytes, never more than a limit."""

from __future__ import annotations

from typing import IO

from proxy.scanning.inventory.golang import BUILDINFO_MAGIC, find_build_info

__all__ = ["read_bounded", "scan_build_info"]

_CHUNK = 1024 * 1024
# Header plus two strings of at most 1 MiB with their uvarint lengths: all of a Go 1.18+
# build info, which needs nothing outside itself.
_BUILDINFO_SPAN = 32 + 2 * (10 + 1024 * 1024)
_ALIGN = 16


def read_bounded(source: IO[bytes], size: int) -> bytes | None:
    """The `size` bytes of an entry whose header says it has `size` (checked against the
    limits before), or None if there are more. Never read(limit): a buffered reader allocates
    what it is asked for before it knows how much there is."""
    data = source.read(size + 1)
    return None if len(data) > size else data


def scan_build_info(source: IO[bytes], head: bytes) -> bytes | None:
    """The bytes of the Go build info (from its header on) in an executable too large to hold,
    found streaming with a window of about 3 MiB; None if there is none.

    A 1.18+ build info is returned once it decodes. A pre-1.18 one (pointers into the rest of
    the file, which is gone) cannot decode from a window; the first plausible such header is
    returned anyway, so the extractor reports it rather than the binary passing for not-Go.
    `head` holds the bytes already read from the start of the file."""
    window = bytearray(head)
    base = 0  # file offset of window[0]
    exhausted = False
    undecodable: bytes | None = None
    while True:
        index = window.find(BUILDINFO_MAGIC)
        while index >= 0:
            if (base + index) % _ALIGN == 0:
                while len(window) - index < _BUILDINFO_SPAN and not exhausted:
                    chunk = source.read(_CHUNK)
                    exhausted = not chunk
                    window += chunk
                candidate = bytes(window[index : index + _BUILDINFO_SPAN])
                if find_build_info(candidate) is not None:
                    return candidate
                if undecodable is None and _pointer_header(candidate):
                    undecodable = candidate
            index = window.find(BUILDINFO_MAGIC, index + 1)
        if exhausted:
            return undecodable
        # Keep just less than a magic's length: a magic split across two reads is still found.
        keep = len(BUILDINFO_MAGIC) - 1
        dropped = max(0, len(window) - keep)
        del window[:dropped]
        base += dropped
        chunk = source.read(_CHUNK)
        exhausted = not chunk
        window += chunk


def _pointer_header(candidate: bytes) -> bool:
    """A pre-1.18 header: pointer size 4 or 8, and no flags but the byte order."""
    return len(candidate) >= 32 and candidate[14] in (4, 8) and candidate[15] in (0, 1)
