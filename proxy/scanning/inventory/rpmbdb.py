"""Values of a Berkeley DB hash database, the format of rpm's `Packages` before rpm 4.16.

Read page by page from bytes, without libdb (layout from libdb's dbinc/db_page.h):
  1. Page 0 is the hash metadata page: magic 0x061561 at offset 12 (in the byte order of the
     machine that wrote the file, which is how the order is told), page size at 20, page type
     8 at 25, last page number at 32.
  2. Every page starts with a 26-byte header: next page number at 16, entry count at 20,
     "high free offset" at 22 (on an overflow page: the bytes it holds), page type at 25.
  3. A hash page (type 13, or 2 when unsorted) holds key/data pairs: after the header, one
     2-byte offset per item; item i runs from its offset to the previous item's offset (or the
     page end). An item starts with its type: 1 = data inline, 3 = data on overflow pages
     (then: 3 unused bytes, 4-byte first page number, 4-byte total length).
  4. Overflow pages (type 7) chain through their next page number.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["BerkeleyDBError", "hash_values"]

_HASH_MAGIC = 0x061561
_HASH_META, _HASH, _HASH_UNSORTED, _OVERFLOW = 8, 13, 2, 7
_KEYDATA, _OFFPAGE = 1, 3
_PAGE_HEADER = 26


class BerkeleyDBError(ValueError):
    """Not a Berkeley DB hash database, or one whose pages do not hold together."""


def hash_values(data: bytes) -> Iterator[bytes]:
    """Every data item (not key) of the database, in page order."""
    order, page_size, last_page = _metadata(data)
    pages = min(last_page + 1, len(data) // page_size)
    for number in range(1, pages):
        page = memoryview(data)[number * page_size : (number + 1) * page_size]
        if page[25] in (_HASH, _HASH_UNSORTED):
            yield from _page_values(data, page, order, page_size)


def _metadata(data: bytes) -> tuple[str, int, int]:
    if len(data) < 512:
        raise BerkeleyDBError("shorter than a metadata page")
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 12)[0] == _HASH_MAGIC:
            break
    else:
        raise BerkeleyDBError("no hash database magic")
    page_size, last_page = (
        struct.unpack_from(order + "I", data, 20)[0],
        struct.unpack_from(order + "I", data, 32)[0],
    )
    if data[25] != _HASH_META or data[24] != 0:
        raise BerkeleyDBError("metadata page is not an unencrypted hash metadata page")
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise BerkeleyDBError(f"implausible page size {page_size}")
    return order, page_size, last_page


def _page_values(data: bytes, page: memoryview, order: str, page_size: int) -> Iterator[bytes]:
    (entries,) = struct.unpack_from(order + "H", page, 20)
    if _PAGE_HEADER + 2 * entries > page_size:
        raise BerkeleyDBError("hash page index runs past the page")
    offsets = struct.unpack_from(f"{order}{entries}H", page, _PAGE_HEADER)
    # Items come in key/data pairs: the data item is every second one.
    for index in range(1, entries, 2):
        start, end = offsets[index], offsets[index - 1]
        if not _PAGE_HEADER + 2 * entries <= start < end <= page_size:
            raise BerkeleyDBError("hash page item outside the page")
        if page[start] == _KEYDATA:
            yield bytes(page[start + 1 : end])
        elif page[start] == _OFFPAGE and end - start >= 12:
            first, length = struct.unpack_from(order + "II", page, start + 4)
            yield _overflow(data, first, length, order, page_size)


def _overflow(data: bytes, first: int, length: int, order: str, page_size: int) -> bytes:
    if length > len(data):
        raise BerkeleyDBError("overflow item longer than the database")
    chunks: list[bytes] = []
    seen: set[int] = set()
    number, total = first, 0
    while number and total < length:
        if number in seen or (number + 1) * page_size > len(data):
            raise BerkeleyDBError(f"broken overflow chain at page {number}")
        seen.add(number)
        page = memoryview(data)[number * page_size : (number + 1) * page_size]
        if page[25] != _OVERFLOW:
            raise BerkeleyDBError(f"page {number} in an overflow chain is not an overflow page")
        next_page, used = (
            struct.unpack_from(order + "I", page, 16)[0],
            struct.unpack_from(order + "H", page, 22)[0],
        )
        chunk = bytes(page[_PAGE_HEADER : _PAGE_HEADER + min(used, page_size - _PAGE_HEADER)])
        chunks.append(chunk)
        total += len(chunk)
        number = next_page
    value = b"".join(chunks)
    if len(value) < length:
        raise BerkeleyDBError("overflow chain ends before the item does")
    return value[:length]
