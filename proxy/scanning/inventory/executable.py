"""Just enough of ELF and Mach-O to turn a virtual address into a file offset, which the
pre-1.18 Go build info needs (it stores pointers, not strings)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Segment", "is_executable", "segments"]

_ELF = b"\x7fELF"
_PT_LOAD = 1
_LC_SEGMENT, _LC_SEGMENT_64 = 0x1, 0x19
# Thin Mach-O magics as they appear in the file: 32/64-bit, little/big endian.
_MACHO: Mapping[bytes, tuple[str, int]] = MappingProxyType(
    {
        b"\xce\xfa\xed\xfe": ("<", 32),
        b"\xcf\xfa\xed\xfe": ("<", 64),
        b"\xfe\xed\xfa\xce": (">", 32),
        b"\xfe\xed\xfa\xcf": (">", 64),
    }
)
_MAX_COMMANDS = 4096


@dataclass(frozen=True, slots=True)
class Segment:
    address: int
    offset: int
    size: int  # bytes present in the file


def is_executable(head: bytes) -> bool:
    """Whether the first four bytes are those of an ELF or thin Mach-O file."""
    return head[:4] == _ELF or head[:4] in _MACHO


def segments(data: bytes) -> tuple[Segment, ...]:
    """The loadable segments of an ELF or Mach-O file; () for anything else or for headers that
    point outside `data` (the caller then cannot resolve addresses, and says so)."""
    try:
        if data[:4] == _ELF:
            return _elf(data)
        if data[:4] in _MACHO:
            return _macho(data)
    except struct.error:
        pass
    return ()


def _elf(data: bytes) -> tuple[Segment, ...]:
    # e_ident[EI_CLASS] 1 = 32-bit, 2 = 64-bit; e_ident[EI_DATA] 1 = little, 2 = big endian.
    bits, order = {1: 32, 2: 64}.get(data[4], 0), {1: "<", 2: ">"}.get(data[5], "")
    if not bits or not order:
        return ()
    if bits == 64:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x36)
        layout, fields = order + "IIQQQQ", (2, 3, 5)  # type, flags, offset, vaddr, paddr, filesz
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x2A)
        layout, fields = order + "IIIIII", (1, 2, 4)  # type, offset, vaddr, paddr, filesz
    if entry_size < struct.calcsize(layout) or phoff + count * entry_size > len(data):
        return ()
    found: list[Segment] = []
    for index in range(count):
        header = struct.unpack_from(layout, data, phoff + index * entry_size)
        if header[0] == _PT_LOAD:
            offset, address, size = (header[field] for field in fields)
            found.append(Segment(address=address, offset=offset, size=size))
    return tuple(found)


def _macho(data: bytes) -> tuple[Segment, ...]:
    order, bits = _MACHO[data[:4]]
    (count,) = struct.unpack_from(order + "I", data, 16)
    position = 32 if bits == 64 else 28
    found: list[Segment] = []
    for _ in range(min(count, _MAX_COMMANDS)):
        if position + 8 > len(data):
            return ()
        command, size = struct.unpack_from(order + "II", data, position)
        if command == _LC_SEGMENT_64:
            address, _, offset, file_size = struct.unpack_from(order + "QQQQ", data, position + 24)
            found.append(Segment(address=address, offset=offset, size=file_size))
        elif command == _LC_SEGMENT:
            address, _, offset, file_size = struct.unpack_from(order + "IIII", data, position + 24)
            found.append(Segment(address=address, offset=offset, size=file_size))
        if size < 8:
            return ()
        position += size
    return tuple(found)
