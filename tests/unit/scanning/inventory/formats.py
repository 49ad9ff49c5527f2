"""The file formats the extractors read, built from scratch for tests: Go build info in a
minimal ELF or Mach-O executable (the Go 1.18+ inline format and the 1.13-1.17 pointer format,
byte for byte as debug/buildinfo reads them: there is no Go toolchain on this machine), rpm
header blobs and an rpmdb.sqlite with rpm's schema, and Java archives laid out as Maven and
Spring Boot lay them out."""

from __future__ import annotations

import io
import sqlite3
import struct
import zipfile
from collections.abc import Iterable, Mapping

__all__ = ["go_binary", "jar", "modinfo", "rpm_header", "rpmdb_sqlite"]

# --- Go build info ---------------------------------------------------------------------------

_MAGIC = b"\xff Go buildinf:"
# cmd/go/internal/modload: the 16-byte frames around the module info.
_INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
_BASE = 0x400000


def modinfo(path: str, main: tuple[str, str], deps: Iterable[tuple[str, ...]] = ()) -> str:
    """Module info as `go version -m` prints it. A dep of four fields carries a replacement:
    (path, version, replacement path, replacement version)."""
    lines = [f"path\t{path}", f"mod\t{main[0]}\t{main[1]}\t"]
    for dep in deps:
        lines.append(f"dep\t{dep[0]}\t{dep[1]}\th1:fake=")
        if len(dep) == 4:
            lines.append(f"=>\t{dep[2]}\t{dep[3]}\t" + ("h1:fake=" if dep[3] else ""))
    lines.append("build\t-compiler=gc")
    return "\n".join(lines) + "\n"


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


_MACHO_BASE = 0x100000000


def _macho_header(total: int) -> bytes:
    """mach_header_64 (x86_64 executable) and one LC_SEGMENT_64 mapping the whole file."""
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 2, 1, 72, 0, 0)
    segment = struct.pack("<II16sQQQQiiII", 0x19, 72, b"__DATA", _MACHO_BASE, total, 0, total, 3, 3, 0, 0)
    return header + segment


def _elf_header(total: int) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1]) + b"\x00" * 9
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, _BASE, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, total, total, 0x1000)
    return header + segment


def _align(data: bytearray, alignment: int = 16) -> None:
    data += b"\x00" * (-len(data) % alignment)


def go_binary(
    go_version: str,
    info: str,
    *,
    inline: bool = True,
    decoy: bool = True,
    padding: int = 0,
    macho: bool = False,
) -> bytes:
    """A minimal 64-bit little-endian executable (ELF, or Mach-O with `macho`) carrying Go
    build info. With `decoy`, the magic also appears, aligned, in its "read-only data" followed
    by garbage (as in a binary that links debug/buildinfo). `padding` zero bytes come before
    the build info."""
    base = _MACHO_BASE if macho else _BASE
    framed = (_INFO_START + info.encode() + _INFO_END) if info else b""
    body = bytearray(b"\x00" * 120)  # room for the file and segment headers, patched at the end
    if decoy:
        body += _MAGIC + b"\x07\x09" + b"\xee" * 16
    body += b"\x00" * padding
    if inline:
        _align(body)
        body += _MAGIC + bytes([8, 0x2]) + b"\x00" * 16
        body += _uvarint(len(go_version)) + go_version.encode() + _uvarint(len(framed)) + framed
    else:
        # Go 1.13-1.17: the strings live elsewhere; string headers point to them; the build
        # info header points to the string headers.
        version_at = len(body)
        body += go_version.encode()
        info_at = len(body)
        body += framed
        _align(body, 8)
        headers_at = len(body)
        body += struct.pack("<QQQQ", base + version_at, len(go_version), base + info_at, len(framed))
        _align(body)
        body += _MAGIC + bytes([8, 0]) + struct.pack("<QQ", base + headers_at, base + headers_at + 16)
    body += b"\x00" * 64
    header = _macho_header(len(body)) if macho else _elf_header(len(body))
    body[: len(header)] = header
    return bytes(body)


# --- rpm -------------------------------------------------------------------------------------


def rpm_header(
    name: str,
    version: str,
    release: str,
    *,
    epoch: int | None = None,
    arch: str = "x86_64",
    source_rpm: str | None = None,
) -> bytes:
    """An rpm header blob as the rpm database stores it (no lead magic): a region tag first,
    then NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM, as rpmbuild orders them."""
    entries: list[tuple[int, int, bytes, int]] = [(63, 7, b"\x00" * 16, 16)]  # HEADER_IMMUTABLE
    strings = {1000: name, 1001: version, 1002: release, 1022: arch}
    for tag, value in strings.items():
        entries.append((tag, 6, value.encode() + b"\x00", 1))
    if epoch is not None:
        entries.append((1003, 4, struct.pack(">i", epoch), 1))
    source = source_rpm if source_rpm is not None else f"{name}-{version}-{release}.src.rpm"
    entries.append((1044, 6, source.encode() + b"\x00", 1))
    entries.sort(key=lambda entry: entry[0])
    index, store = b"", b""
    for tag, kind, data, count in entries:
        if kind == 4:
            store += b"\x00" * (-len(store) % 4)
        index += struct.pack(">iIiI", tag, kind, len(store), count)
        store += data
    return struct.pack(">iI", len(entries), len(store)) + index + store


def rpmdb_sqlite(blobs: Iterable[bytes]) -> bytes:
    """An rpmdb.sqlite with rpm's own Packages table schema, as bytes."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(blob,) for blob in blobs])
    connection.commit()
    data = connection.serialize()
    connection.close()
    return data


# --- Java ------------------------------------------------------------------------------------


def jar(
    artifacts: Iterable[tuple[str, str, str]] = (),
    *,
    nested: Mapping[str, bytes] | None = None,
    extra: Mapping[str, bytes] | None = None,
) -> bytes:
    """A Java archive with one pom.properties per (groupId, artifactId, version), the given
    nested archives (name -> bytes) and other entries, as Maven and Spring Boot lay them out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: Maven\r\n")
        for group, artifact, version in artifacts:
            properties = (
                f"#Created by Apache Maven 3.9.6\nartifactId={artifact}\ngroupId={group}\nversion={version}\n"
            )
            archive.writestr(f"META-INF/maven/{group}/{artifact}/pom.properties", properties)
            archive.writestr(f"META-INF/maven/{group}/{artifact}/pom.xml", "<project/>")
        for name, data in (nested or {}).items():
            # Spring Boot stores nested jars uncompressed; so do wars built by Maven.
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_STORED)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()
