"""Reading OSV exports: ``all.zip`` archives, directories of ``*.json``, single JSON files.

OSV publishes each ecosystem as an ``all.zip`` of one ``<id>.json`` per record; its git
mirrors are directories of the same files; a single file may hold one record or a JSON
array of them. Everything read is untrusted: archive members are streamed one at a time and
never extracted, each read is capped, and an archive whose members inflate far beyond their
compressed size, or beyond a total budget, is refused as a zip bomb. What cannot be used is
reported as a `RecordProblem` (``whole_source`` when a whole archive or file is lost) and
the rest is imported.

`read_records` is synchronous (zipfile and json are); `import_paths` drives it from a
worker thread, one batch at a time, and feeds the batches to a store's ``import_records``,
so the event loop never waits on inflating or parsing.
"""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, Protocol, TypeVar

from proxy.scanning.osv.record import OsvRecord, RecordError, RecordProblem, parse_record

__all__ = ["ImportLimits", "ImportReport", "RecordSink", "describe_sources", "import_paths", "read_records"]

Item = OsvRecord | RecordProblem
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_record_bytes: int = 8 << 20  # one record; OSV's largest are a few hundred KiB
    max_file_bytes: int = 256 << 20  # a single JSON file, which may hold an array of records
    max_total_bytes: int = 32 << 30  # everything one archive inflates to (all of OSV: ~10 GiB)
    max_members: int = 2_000_000
    max_ratio: int = 100  # inflated/compressed beyond this, for members above 1 MiB: a bomb
    kept_problems: int = 1_000  # problems an ImportReport lists (all are counted)


@dataclass(frozen=True, slots=True)
class ImportReport(Generic[R]):
    result: R  # what the store answered (db.vulndb_queries.ImportResult)
    problems: tuple[RecordProblem, ...]  # the first `kept_problems` of them
    sources_failed: int  # archives or files that could not be read at all


class RecordSink(Protocol[R_co]):
    """What imports records: db.vulndb_queries.VulnStore."""

    async def import_records(self, records: AsyncIterable[Item], source: str, *, batch_size: int) -> R_co: ...


def read_records(path: Path, limits: ImportLimits = ImportLimits()) -> Iterator[Item]:
    """Every record (or problem) of an archive, directory or JSON file, in a stable order."""
    if path.is_dir():
        yield from _directory(path, limits)
    elif path.suffix.lower() == ".zip" or (path.is_file() and zipfile.is_zipfile(path)):
        yield from _archive(path, limits)
    else:
        yield from _json_file(path, limits.max_file_bytes, allow_array=True)


def _directory(root: Path, limits: ImportLimits) -> Iterator[Item]:
    # os.walk does not follow symbolic links to directories: a link cannot make it loop.
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            if name.lower().endswith(".json"):
                yield from _json_file(Path(directory) / name, limits.max_record_bytes, allow_array=False)


def _json_file(path: Path, cap: int, *, allow_array: bool) -> Iterator[Item]:
    try:
        with path.open("rb") as stream:
            data = _read_capped(stream, cap)
    except OSError as exc:
        yield RecordProblem(str(path), f"cannot read: {exc.strerror or exc}", whole_source=True)
        return
    if data is None:
        yield RecordProblem(str(path), f"larger than {cap} bytes", whole_source=True)
        return
    yield from _decode(str(path), data, allow_array=allow_array)


def _archive(path: Path, limits: ImportLimits) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        yield RecordProblem(str(path), f"not a readable zip archive: {exc}", whole_source=True)
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            yield RecordProblem(
                str(path), f"{len(members)} members, more than {limits.max_members}", whole_source=True
            )
            return
        budget = limits.max_total_bytes
        for member in members:
            location = f"{path}!{member.filename}"
            if member.is_dir() or not member.filename.lower().endswith(".json"):
                continue
            if member.file_size > budget:
                reason = f"inflates beyond {limits.max_total_bytes} bytes in all: a zip bomb?"
                yield RecordProblem(location, reason, whole_source=True)
                return
            refusal = _refuse_member(member, limits)
            if refusal is not None:
                yield RecordProblem(location, refusal)
                continue
            try:
                with archive.open(member) as stream:
                    data = _read_capped(stream, limits.max_record_bytes)
            except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                yield RecordProblem(location, f"cannot inflate: {exc}")  # RuntimeError: encrypted
                continue
            if data is None:  # the header understated the size
                yield RecordProblem(location, f"inflates beyond {limits.max_record_bytes} bytes")
                continue
            budget -= len(data)
            yield from _decode(location, data, allow_array=False)


def _refuse_member(member: zipfile.ZipInfo, limits: ImportLimits) -> str | None:
    if member.file_size > limits.max_record_bytes:
        return f"{member.file_size} bytes, more than {limits.max_record_bytes} for one record"
    if member.file_size > 1 << 20 and member.file_size > limits.max_ratio * max(member.compress_size, 1):
        return f"compressed {member.file_size // max(member.compress_size, 1)}:1, a zip bomb?"
    return None


def _read_capped(stream: IO[bytes], cap: int) -> bytes | None:
    """At most `cap` bytes; None if there were more (whatever sizes a header declared)."""
    data = stream.read(cap + 1)
    return None if len(data) > cap else data


def _decode(location: str, data: bytes, *, allow_array: bool) -> Iterator[Item]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        # A file named on its own is then lost whole; one file of a directory or archive is not.
        yield RecordProblem(location, f"not JSON: {exc}", whole_source=allow_array)
        return
    values = value if allow_array and isinstance(value, list) else [value]
    for item in values:
        try:
            yield parse_record(item)
        except RecordError as exc:
            record_id = item.get("id") if isinstance(item, dict) else None
            yield RecordProblem(location, str(exc), record_id if isinstance(record_id, str) else None)


def describe_sources(paths: Sequence[Path]) -> str:
    """What an import read, for the database state ("last source")."""
    return ", ".join(str(path) for path in paths)


async def import_paths(
    paths: Sequence[Path],
    store: RecordSink[R],
    *,
    source: str | None = None,
    batch_size: int = 500,
    limits: ImportLimits = ImportLimits(),
) -> ImportReport[R]:
    """Import every record under `paths` into `store`, reading off the event loop."""
    problems: list[RecordProblem] = []
    failed = 0

    def watched(items: Iterable[Item]) -> Iterator[Item]:
        nonlocal failed
        for item in items:
            if isinstance(item, RecordProblem):
                failed += item.whole_source
                if len(problems) < limits.kept_problems:
                    problems.append(item)
            yield item

    items = watched(item for path in paths for item in read_records(path, limits))
    result = await store.import_records(
        _in_thread(items, batch_size), source or describe_sources(paths), batch_size=batch_size
    )
    return ImportReport(result, tuple(problems), failed)


async def _in_thread(items: Iterator[Item], batch_size: int) -> AsyncIterator[Item]:
    # One batch per worker-thread hop: the generator is only ever advanced by one thread at
    # a time, because each hop is awaited before the next starts.
    while True:
        batch = await asyncio.to_thread(_take, items, batch_size)
        if not batch:
            return
        for item in batch:
            yield item


def _take(items: Iterator[Item], count: int) -> list[Item]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= count:
            break
    return batch
