"""Maven artifacts in Java archives: the `META-INF/maven/GROUP/ARTIFACT/pom.properties` that
Maven writes into every jar it builds, in the archive and in the archives it carries
(`WEB-INF/lib/*.jar` in a war, `BOOT-INF/lib/*.jar` in a Spring Boot jar, modules of an ear)."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from proxy.scanning.inventory.errors import ExtractionError
from proxy.scanning.inventory.purl import Purl
from proxy.scanning.model import OperatingSystem, Package

__all__ = ["extract_maven"]

_POM_PROPERTIES = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")
_ARCHIVE_SUFFIXES = (".jar", ".war", ".ear")
_MAX_PROPERTIES = 64 * 1024
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
# What a broken or hostile zip raises from zipfile and the decompressors behind it.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


def extract_maven(
    path: str,
    data: bytes,
    os: OperatingSystem | None,
    *,
    max_depth: int = 3,
    max_nested_bytes: int = 256 * 1024 * 1024,
    max_entries: int = 200_000,
) -> tuple[Package, ...]:
    """Each artifact once per archive it is found in; nested archives are named
    `outer.war!/WEB-INF/lib/inner.jar`, as in a jar: URL."""
    walk = _Walk(top=path, max_depth=max_depth, remaining=max_nested_bytes, max_entries=max_entries)
    walk.archive(path, data, depth=0)
    unique = tuple(dict.fromkeys(walk.packages))
    if walk.problems:
        raise ExtractionError(walk.problems, unique)
    return unique


@dataclass(slots=True)
class _Walk:
    """One archive and everything nested in it, sharing one budget of inflated bytes."""

    top: str
    max_depth: int
    remaining: int
    max_entries: int
    packages: list[Package] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def archive(self, name: str, data: bytes, *, depth: int) -> None:
        entries = _entry_count(data)
        if entries is None or entries > self.max_entries:
            self._problem(name, f"not a zip archive, or more than {self.max_entries} entries")
            return
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except _ZIP_ERRORS as exc:
            self._problem(name, f"unreadable zip archive ({type(exc).__name__}: {exc})")
            return
        with archive:
            for info in archive.infolist():
                try:
                    self._entry(name, archive, info, depth)
                except _ZIP_ERRORS as exc:
                    self._problem(f"{name}!/{info.filename}", f"unreadable ({type(exc).__name__}: {exc})")

    def _entry(self, name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, depth: int) -> None:
        if _POM_PROPERTIES.match(info.filename):
            self.packages.extend(_read_properties(name, archive, info))
            return
        if not info.filename.lower().endswith(_ARCHIVE_SUFFIXES) or info.is_dir():
            return
        inner = f"{name}!/{info.filename}"
        if depth + 1 > self.max_depth:
            self._problem(inner, f"archive nested deeper than {self.max_depth}; not read")
        elif info.file_size > self.remaining:
            self._problem(inner, f"over the {self.remaining} bytes left for nested archives; not read")
        else:
            nested = _read(archive, info, self.remaining)
            self.remaining -= len(nested)
            self.archive(inner, nested, depth=depth + 1)

    def _problem(self, name: str, message: str) -> None:
        """The caller names the outer archive; a nested one is named from there (`!/lib/a.jar`)."""
        self.problems.append(message if name == self.top else f"{name[len(self.top) :]}: {message}")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, at most `limit`. zipfile stops at the declared size and then checks
    the CRC, so an entry that inflates past its declared size fails instead of growing."""
    if info.file_size > limit:
        raise ValueError(f"declared size {info.file_size} over the {limit}-byte limit")
    with archive.open(info) as member:
        return member.read(info.file_size)


def _read_properties(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[Package]:
    properties = _properties(_read(archive, info, _MAX_PROPERTIES).decode("latin-1"))
    group, artifact, version = (properties.get(key, "") for key in ("groupId", "artifactId", "version"))
    if not group or not artifact or not version:
        return []
    purl = Purl(type="maven", namespace=group, name=artifact, version=version)
    return [
        Package(name=f"{group}:{artifact}", version=version, ecosystem="Maven", path=name, purl=str(purl))
    ]


def _properties(text: str) -> dict[str, str]:
    """java.util.Properties, as far as Maven writes it: `key=value` lines, `#` and `!`
    comments, backslash escapes (pom.properties never uses continuation lines)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"((?:\\.|[^=:\s\\])+)\s*[=:\s]\s*(.*)$", line)
        if match:
            key, value = (re.sub(r"\\(.)", r"\1", part) for part in match.groups())
            values.setdefault(key, value)
    return values


def _entry_count(data: bytes) -> int | None:
    """The entry count the end-of-central-directory record claims (zip64 when it says
    0xFFFF), read before zipfile builds an object per entry."""
    end = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    (count,) = struct.unpack_from("<H", data, end + 10)
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 40 > len(data):
            return None
        (count,) = struct.unpack_from("<Q", data, record + 32)
    return int(count)
