"""Go modules compiled into an executable, from the build info the Go linker embeds
(the format `go version -m` and debug/buildinfo read).

The build info starts with a 32-byte header, 16-byte aligned, in the data segment:
  1. the 14-byte magic "\\xff Go buildinf:", then the pointer size (4 or 8), then flags:
     bit 0 set = big endian, bit 1 set = strings inline (Go 1.18 and later).
  2. Go 1.18+: after the header, two strings (Go version, module info), each a uvarint length
     followed by the bytes.
     Go 1.13-1.17: at offset 16, two pointers (pointer size, file byte order) to Go string
     headers (data pointer, length), which point to the bytes; addresses are virtual, so the
     ELF or Mach-O segments map them to file offsets.
  3. The module info is framed by 16 bytes on each side; inside, tab-separated lines:
     `path`, `mod` (main module), `dep` (a dependency), `=>` (replaces the line before).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.executable import Segment, segments
from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["BUILDINFO_MAGIC", "BuildInfo", "extract_go", "find_build_info", "stdlib_version"]

BUILDINFO_MAGIC = b"\xff Go buildinf:"
_ALIGN = 16
_HEADER = 32
_INLINE = 0x2
_BIG_ENDIAN = 0x1
_MAX_STRING = 1 << 20  # debug/buildinfo's own cap on either string
_GO_VERSION = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?")


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str  # "go1.22.5"
    modinfo: str  # unframed module info; "" for a binary built outside module mode


def extract_go(path: str, data: bytes, os: OperatingSystem | None) -> tuple[Package, ...]:
    """The Go standard library and the modules of a Go executable; () for any other file.
    `data` is the whole file, or (for a file too large to hold) the bytes from the build info
    header on."""
    info = find_build_info(data)
    if info is None:
        if _aligned_magic(data):
            raise ExtractionError(
                ["Go build info present but unreadable (pre-1.18 pointers outside the bytes read?)"]
            )
        return ()
    packages: list[Package] = []
    version = stdlib_version(info.go_version)
    if version is not None:
        packages.append(_package("stdlib", version, path, purl_name="stdlib"))
    for module_path, module_version in _modules(info.modinfo):
        packages.append(_package(module_path, module_version, path))
    return tuple(packages)


def stdlib_version(go_version: str) -> str | None:
    """OSV's version of the standard library: go1.22.5 -> 1.22.5, go1.22 -> 1.22.0,
    go1.21rc2 -> 1.21.0-rc.2; None for a development toolchain ("devel go1.23-abcdef")."""
    match = _GO_VERSION.match(go_version)
    if match is None:
        return None
    major, minor, patch, pre, number = match.groups()
    version = f"{major}.{minor}.{patch or 0}"
    return f"{version}-{pre}.{number}" if pre else version


def find_build_info(data: bytes) -> BuildInfo | None:
    """The first aligned header that decodes to a plausible Go version. A binary that links
    debug/buildinfo carries the magic in its read-only data too, so a hit is not proof."""
    segs: tuple[Segment, ...] | None = None
    for index in _aligned_magic(data):
        flags = data[index + 15]
        if flags & _INLINE:
            info = _inline(data, index + _HEADER)
        else:
            segs = segments(data) if segs is None else segs
            info = _pointers(data, index, segs)
        if info is not None and info.go_version.startswith(("go", "devel")):
            return info
    return None


def _aligned_magic(data: bytes) -> list[int]:
    found: list[int] = []
    index = data.find(BUILDINFO_MAGIC)
    while index >= 0:
        if index % _ALIGN == 0 and len(data) - index >= _HEADER:
            found.append(index)
        index = data.find(BUILDINFO_MAGIC, index + 1)
    return found


def _inline(data: bytes, position: int) -> BuildInfo | None:
    version, position = _varint_string(data, position)
    modinfo, _ = _varint_string(data, position)
    if version is None or modinfo is None:
        return None
    return BuildInfo(version, _unframe(modinfo))


def _varint_string(data: bytes, position: int) -> tuple[str | None, int]:
    length, shift = 0, 0
    for _ in range(10):
        if position >= len(data):
            return None, position
        byte = data[position]
        position += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > _MAX_STRING or position + length > len(data):
        return None, position
    return data[position : position + length].decode("utf-8", "replace"), position + length


def _pointers(data: bytes, index: int, segs: tuple[Segment, ...]) -> BuildInfo | None:
    size, order = data[index + 14], ">" if data[index + 15] & _BIG_ENDIAN else "<"
    if size not in (4, 8) or not segs:
        return None
    pointers = order + ("QQ" if size == 8 else "II")  # two pointers: two string headers
    version_header, modinfo_header = struct.unpack_from(pointers, data, index + 16)
    version = _go_string(data, segs, pointers, size, version_header)
    modinfo = _go_string(data, segs, pointers, size, modinfo_header)
    if version is None or modinfo is None:
        return None
    return BuildInfo(version, _unframe(modinfo))


def _go_string(data: bytes, segs: tuple[Segment, ...], pointers: str, size: int, address: int) -> str | None:
    """A Go string at `address`: its header is a data pointer and a length."""
    header = _read(data, segs, address, 2 * size)
    if header is None:
        return None
    string_address, length = struct.unpack_from(pointers, header)
    if length > _MAX_STRING:
        return None
    text = _read(data, segs, string_address, length)
    return None if text is None else text.decode("utf-8", "replace")


def _read(data: bytes, segs: tuple[Segment, ...], address: int, length: int) -> bytes | None:
    for seg in segs:
        if seg.address <= address and address + length <= seg.address + seg.size:
            start = seg.offset + (address - seg.address)
            return data[start : start + length] if start + length <= len(data) else None
    return None


def _unframe(modinfo: str) -> str:
    # cmd/go/internal/modload's infoStart and infoEnd: 16 bytes each, the last of the start
    # being a newline.
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        return modinfo[16:-16]
    return ""


def _modules(modinfo: str) -> list[tuple[str, str]]:
    """(module path, version) of the main module and every dependency. A replacement with a
    version stands for the module it replaces; a replacement by a local directory has none,
    so the original is kept: what was replaced is at least as vulnerable as what it claims to
    be, as far as anyone can tell from outside."""
    modules: list[tuple[str, str]] = []
    for line in modinfo.split("\n"):
        fields = line.split("\t")
        kind, module_path = fields[0], fields[1] if len(fields) > 1 else ""
        version = fields[2] if len(fields) > 2 else ""
        if kind in ("mod", "dep") and module_path:
            modules.append((module_path, version))
        elif kind == "=>" and modules and module_path and version:
            modules[-1] = (module_path, version)
    # A main module built from a work tree says "(devel)": no version to match.
    return [(name, version) for name, version in modules if version and version != "(devel)"]


def _package(name: str, version: str, path: str, *, purl_name: str | None = None) -> Package:
    namespace, _, last = (purl_name or name).rpartition("/")
    purl = Purl(type="golang", namespace=namespace, name=last, version=version)
    return Package(name=name, version=version, ecosystem="Go", path=path, purl=str(purl))
