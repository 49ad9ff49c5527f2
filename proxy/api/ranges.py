"""HTTP Range for blob GETs: one byte range, strictly parsed (RFC 9110 §14.1.2).

A malformed or unsatisfiable range answers 416 `RANGE_INVALID` instead of being ignored:
a client that sends one has a bug worth seeing. Several ranges in one request are refused
too; no registry client asks for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["ByteRange", "parse_range"]

_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str, size: int) -> ByteRange:
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise _invalid(f"malformed Range header {header[:100]!r} (expected bytes=START-END)", size)
    first, last = match.groups()
    if not first and not last:
        raise _invalid("Range names neither a start nor an end", size)
    if not first:  # suffix range: the last N bytes
        count = int(last)
        if count == 0:
            raise _invalid("a suffix range of zero bytes is unsatisfiable", size)
        return ByteRange(max(0, size - count), size)
    start = int(first)
    end = size if not last else int(last) + 1
    if end <= start:
        raise _invalid(f"range end {last} is before its start {first}", size)
    if start >= size:
        raise _invalid(f"range starts at {start}, beyond the blob's {size} bytes", size)
    return ByteRange(start, min(end, size))


def _invalid(message: str, size: int) -> RegistryError:
    return RegistryError(ErrorCode.RANGE_INVALID, message, headers={"Content-Range": f"bytes */{size}"})
