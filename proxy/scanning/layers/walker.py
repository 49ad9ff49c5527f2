"""One pass over a layer's tar entries: what each entry is, and what it contributes."""

from __future__ import annotations

import tarfile
from dataclasses import replace

from proxy.scanning.inventory import ExtractionError, parse_os_release
from proxy.scanning.inventory.distro import restamp
from proxy.scanning.inventory.executable import is_executable
from proxy.scanning.layers.extractors import UNSUPPORTED, extractor_for
from proxy.scanning.layers.interest import Kind, classify
from proxy.scanning.layers.limits import Limits
from proxy.scanning.layers.paths import UnsafeName, normalise, parse_whiteout
from proxy.scanning.layers.problems import Problems
from proxy.scanning.layers.reading import read_bounded, scan_build_info
from proxy.scanning.model import LayerAnalysis, OperatingSystem, Package

__all__ = ["LimitReached", "Walker"]

_OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
_DATABASES = frozenset({Kind.DPKG, Kind.APK, Kind.RPM_SQLITE, Kind.RPM_BDB, Kind.RPM_NDB})
_MIN_EXECUTABLE = 64  # smaller than any ELF or Mach-O header: a script, not a binary
_SHOWN = 200


class LimitReached(Exception):
    """A per-layer count limit: the walk stops, and the message becomes a problem."""


def _shown(name: str) -> str:
    return repr(name[:_SHOWN]) + ("..." if len(name) > _SHOWN else "")


class Walker:
    def __init__(self, digest: str, limits: Limits) -> None:
        self.digest = digest
        self.limits = limits
        self.problems = Problems(limits.max_problems)
        self._files: dict[str, tuple[Package, ...]] = {}
        self._kinds: dict[str, Kind] = {}  # of each file read in this layer, for hard links
        self._releases: dict[str, OperatingSystem] = {}
        self._whiteouts: dict[str, None] = {}
        self._opaque: dict[str, None] = {}
        self._entries = 0
        self._packages = 0

    def visit(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self._entries += 1
        if self._entries > self.limits.max_entries:
            raise LimitReached(
                f"limit reached: more than {self.limits.max_entries} entries; analysis stopped"
            )
        try:
            path = normalise(member.name, max_length=self.limits.max_path_length)
            whiteout = parse_whiteout(path)
        except UnsafeName as exc:
            self.problems.add(f"refused entry {_shown(member.name)}: {exc}")
            return
        if whiteout is not None:
            (self._opaque if whiteout.opaque else self._whiteouts)[whiteout.path] = None
        elif not path or member.isdir():
            return
        elif member.issym():
            self._symlink(path, member.linkname)
        elif member.islnk():
            self._hardlink(path, member.linkname)
        elif member.isreg():  # devices and fifos hold nothing a package manager reads
            kind = classify(path)
            if kind is not None:
                self._file(tar, member, path, kind)
            elif member.mode & 0o111 and member.size >= _MIN_EXECUTABLE:
                self._executable(tar, member, path)

    def _symlink(self, path: str, target: str) -> None:
        kind = classify(path)
        if kind is None:
            return
        # Recorded as a file with no packages: it hides whatever the layers below had here.
        self._forget(path)
        self._files[path] = ()
        # A package database is never a link in an image a package manager built. Links to
        # jars (Debian's /usr/share/java) and etc/os-release -> ../usr/lib/os-release are
        # normal: their targets are read where they are.
        if kind in _DATABASES:
            self.problems.add(f"{path}: symbolic link to {_shown(target)}; not followed")

    def _hardlink(self, path: str, target: str) -> None:
        kind = classify(path)
        if kind is None:
            return
        self._forget(path)
        try:
            source = normalise(target, max_length=self.limits.max_path_length)
        except UnsafeName as exc:
            self.problems.add(f"{path}: hard link to {_shown(target)} refused: {exc}")
            self._files[path] = ()
            return
        # Only an earlier entry of this layer, of the same kind, already read: the stream
        # cannot go back, and a link into a lower layer is not this layer's to resolve.
        if self._kinds.get(source) is not kind or source not in self._files:
            self.problems.add(
                f"{path}: hard link to {_shown(target)}, not an earlier file of its kind in this layer; not followed"
            )
            self._files[path] = ()
            return
        self._kinds[path] = kind
        self._files[path] = tuple(replace(p, path=path + p.path[len(source) :]) for p in self._files[source])
        if source in self._releases:
            self._releases[path] = self._releases[source]

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, kind: Kind) -> None:
        self._forget(path)
        self._files[path] = ()
        if kind in UNSUPPORTED:
            self.problems.add(f"{path}: {UNSUPPORTED[kind]}")
            return
        limit = self.limits.max_archive_bytes if kind is Kind.JAVA else self.limits.max_file_bytes
        source = tar.extractfile(member)
        data = read_bounded(source, member.size) if source is not None and member.size <= limit else None
        if data is None:
            self.problems.add(
                f"{path}: {member.size} bytes, over the {limit}-byte limit for one file; skipped"
            )
            return
        self._extract(path, kind, data)

    def _executable(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        source = tar.extractfile(member)
        head = source.read(4) if source is not None else b""
        if source is None or not is_executable(head):
            return
        # Not recorded unless it has Go build info: every ELF file of an image would otherwise
        # be stored with each analysis. So a Go binary overwritten by a non-Go one in a later
        # layer stays listed: over-reporting, the safe side for a gate.
        self._forget(path)
        if member.size <= self.limits.max_archive_bytes:
            data = read_bounded(source, member.size - len(head))
            data = head + data if data is not None else None
        else:
            data = scan_build_info(source, head)
        if data is not None:
            self._extract(path, Kind.GO, data)

    def _extract(self, path: str, kind: Kind, data: bytes) -> None:
        self._kinds[path] = kind
        if kind is Kind.OS_RELEASE:
            release = parse_os_release(data)
            if release is None:
                self.problems.add(f"{path}: no ID or VERSION_ID")
            else:
                self._releases[path] = release
            return
        extractor = extractor_for(kind, self.limits)
        if extractor is None:
            return
        try:
            packages = extractor(path, data, self._os())
        except ExtractionError as exc:
            packages = exc.packages
            for problem in exc.problems:
                self.problems.add(f"{path}: {problem}")
        if kind is Kind.GO and not packages:
            return  # an executable, but not Go's
        room = self.limits.max_packages - self._packages
        self._packages += len(packages)
        self._files[path] = tuple(replace(package, layer=self.digest) for package in packages[:room])
        if len(packages) > room:
            raise LimitReached(
                f"limit reached: more than {self.limits.max_packages} packages; analysis stopped"
            )

    def _forget(self, path: str) -> None:
        """A later entry at the same path replaces an earlier one, as tar extraction does."""
        self._kinds.pop(path, None)
        self._releases.pop(path, None)

    def _os(self) -> OperatingSystem | None:
        return next((self._releases[path] for path in _OS_RELEASE_PATHS if path in self._releases), None)

    def result(self, analyzer_version: int) -> LayerAnalysis:
        os = self._os()
        files = self._files
        if os is not None:
            # The os-release may come after the package database in the tar stream.
            files = {path: tuple(restamp(p, os) for p in packages) for path, packages in files.items()}
        return LayerAnalysis(
            digest=self.digest,
            files=files,
            os=os,
            os_path=next((path for path in _OS_RELEASE_PATHS if path in self._releases), None),
            whiteouts=tuple(self._whiteouts),
            opaque_dirs=tuple(self._opaque),
            problems=self.problems.result(),
            analyzer_version=analyzer_version,
        )
