"""The RPM header blob, as the rpm database stores one per installed package.

Layout (rpm's lib/header.c, "headerImport"; all integers big-endian):
  1. int32 il: number of index entries; int32 dl: bytes in the data store.
  2. il index entries of 16 bytes: int32 tag, uint32 type, int32 offset (into the data store),
     uint32 count.
  3. dl bytes of data store. STRING / I18NSTRING data are NUL-terminated (I18NSTRING holds one
     string per language, the first being the default), INT32 data are 4-byte big-endian.
The first entry is usually a region tag (HEADER_IMMUTABLE) covering the rest; it is skipped
like any tag this reader does not want.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["HeaderError", "RpmHeader", "parse_header"]

_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_WANTED = {_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM}
# rpm refuses headers with more than 0xffff entries or a data store over 256 MiB.
_MAX_ENTRIES = 0xFFFF
_MAX_DATA = 256 * 1024 * 1024


class HeaderError(ValueError):
    """A header blob that does not hold together."""


@dataclass(frozen=True, slots=True)
class RpmHeader:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str
    source_rpm: str


def parse_header(blob: bytes) -> RpmHeader:
    if len(blob) < 8:
        raise HeaderError("shorter than its 8-byte preamble")
    entries, data_length = struct.unpack_from(">iI", blob)
    if not 0 < entries <= _MAX_ENTRIES or data_length > _MAX_DATA:
        raise HeaderError(f"implausible sizes: {entries} entries, {data_length} data bytes")
    store_start = 8 + 16 * entries
    if store_start + data_length > len(blob):
        raise HeaderError("index and data store run past the end of the blob")
    store = blob[store_start : store_start + data_length]
    values: dict[int, str | int] = {}
    for tag, kind, offset, count in struct.iter_unpack(">iIiI", blob[8:store_start]):
        if tag in _WANTED and tag not in values:
            values[tag] = _value(store, kind, offset, count)
    name = values.get(_NAME)
    version = values.get(_VERSION)
    release = values.get(_RELEASE)
    if not isinstance(name, str) or not isinstance(version, str) or not isinstance(release, str):
        raise HeaderError("no NAME, VERSION or RELEASE string")
    epoch = values.get(_EPOCH)
    arch = values.get(_ARCH, "")
    source_rpm = values.get(_SOURCERPM, "")
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epoch if isinstance(epoch, int) else None,
        arch=arch if isinstance(arch, str) else "",
        source_rpm=source_rpm if isinstance(source_rpm, str) else "",
    )


def _value(store: bytes, kind: int, offset: int, count: int) -> str | int:
    if not 0 <= offset < len(store):
        raise HeaderError(f"entry offset {offset} outside the data store")
    if kind in (_STRING, _I18NSTRING):
        end = store.find(b"\x00", offset)
        if end < 0:
            raise HeaderError("unterminated string")
        return store[offset:end].decode("utf-8", "replace")
    if kind == _INT32 and count >= 1 and offset + 4 <= len(store):
        value: int = struct.unpack_from(">i", store, offset)[0]
        return value
    raise HeaderError(f"unexpected type {kind} for a wanted tag")
