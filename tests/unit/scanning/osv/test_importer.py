"""Reading OSV exports: archives, directories and files; bad data reported, bombs refused."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import AsyncIterable
from pathlib import Path

import pytest

from proxy.scanning.osv.importer import ImportLimits, import_paths, read_records
from proxy.scanning.osv.record import OsvRecord, RecordProblem
from tests.support.osv import (
    debian_openssl_cve_2023_5678,
    ecdsa_minerva_last_affected,
    requests_proxy_auth_leak,
    write_all_zip,
    write_json_tree,
)

RECORDS = [debian_openssl_cve_2023_5678(), requests_proxy_auth_leak(), ecdsa_minerva_last_affected()]


def _split(items: object) -> tuple[list[str], list[RecordProblem]]:
    records, problems = [], []
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, OsvRecord):
            records.append(item.id)
        else:
            problems.append(item)
    return records, problems


def test_an_all_zip_yields_its_records_in_member_order(tmp_path: Path) -> None:
    archive = write_all_zip(tmp_path / "all.zip", RECORDS)
    assert _split(read_records(archive)) == ([r["id"] for r in RECORDS], [])


def test_bad_members_are_reported_and_the_rest_imported(tmp_path: Path) -> None:
    broken = {**requests_proxy_auth_leak(), "id": "GHSA-bad"}
    broken["affected"][0]["ranges"][0]["events"].append({"fixed": 3})
    extra = {"GHSA-truncated.json": b'{"id": "GHSA-trunc', "README.md": b"not a record", "nested/": b""}
    archive = write_all_zip(tmp_path / "all.zip", [*RECORDS, broken], extra=extra)
    records, problems = _split(read_records(archive))
    assert records == [r["id"] for r in RECORDS]
    assert [(p.location.split("!")[1], p.record_id, p.whole_source) for p in problems] == [
        ("GHSA-bad.json", "GHSA-bad", False),
        ("GHSA-truncated.json", None, False),
    ]
    assert "fixed must be a string" in problems[0].reason and "not JSON" in problems[1].reason


def test_a_member_that_inflates_far_beyond_its_size_is_refused_as_a_bomb(tmp_path: Path) -> None:
    # Two MiB of one byte deflates about 1000:1; no OSV record compresses like that.
    bomb = b'{"id": "BOMB-1", "modified": "2024-01-01T00:00:00Z", "details": "' + b"A" * (2 << 20) + b'"}'
    archive = write_all_zip(tmp_path / "all.zip", RECORDS, extra={"BOMB-1.json": bomb})
    records, problems = _split(read_records(archive))
    assert len(records) == 3
    assert len(problems) == 1 and "zip bomb" in problems[0].reason and not problems[0].whole_source


def test_an_archive_beyond_the_total_budget_is_abandoned(tmp_path: Path) -> None:
    archive = write_all_zip(tmp_path / "all.zip", RECORDS)
    first = len(json.dumps(RECORDS[0], indent=2))
    records, problems = _split(read_records(archive, ImportLimits(max_total_bytes=first + 10)))
    assert records == [RECORDS[0]["id"]]
    assert len(problems) == 1 and problems[0].whole_source and "in all" in problems[0].reason


def test_oversized_records_and_too_many_members_are_refused(tmp_path: Path) -> None:
    archive = write_all_zip(tmp_path / "all.zip", RECORDS)
    sizes = [len(json.dumps(record, indent=2)) for record in RECORDS]
    records, problems = _split(read_records(archive, ImportLimits(max_record_bytes=min(sizes))))
    assert records == [RECORDS[sizes.index(min(sizes))]["id"]]
    assert len(problems) == 2 and all("for one record" in p.reason for p in problems)
    _, problems = _split(read_records(archive, ImportLimits(max_members=2)))
    assert len(problems) == 1 and problems[0].whole_source


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really", b""])
def test_a_file_named_zip_that_is_not_one_is_a_lost_source(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "all.zip"
    path.write_bytes(content)
    _, problems = _split(read_records(path))
    assert len(problems) == 1 and problems[0].whole_source


def test_a_missing_path_is_a_lost_source(tmp_path: Path) -> None:
    for name in ("gone.zip", "gone.json"):
        _, problems = _split(read_records(tmp_path / name))
        assert len(problems) == 1 and problems[0].whole_source


def test_a_directory_is_read_recursively_in_a_stable_order(tmp_path: Path) -> None:
    root = write_json_tree(tmp_path / "osv", RECORDS)
    (root / "notes.txt").write_text("ignored")
    (root / "GHSA" / "broken.json").write_text("{")
    os.symlink(root, root / "GHSA" / "loop")  # os.walk does not follow it
    records, problems = _split(read_records(root))
    assert records == ["DEBIAN-CVE-2023-5678", "GHSA-j8r2-6x86-q33q", "GHSA-wj6h-64fc-37mp"]
    assert [Path(p.location).name for p in problems] == ["broken.json"]


def test_a_directory_file_over_the_record_limit_is_refused(tmp_path: Path) -> None:
    root = write_json_tree(tmp_path / "osv", RECORDS[:1])
    _, problems = _split(read_records(root, ImportLimits(max_record_bytes=100)))
    assert len(problems) == 1 and "larger than 100 bytes" in problems[0].reason


def test_a_single_file_holds_a_record_or_an_array_of_them(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(RECORDS[0]))
    assert _split(read_records(one)) == (["DEBIAN-CVE-2023-5678"], [])
    many = tmp_path / "many.json"
    many.write_text(json.dumps([*RECORDS, {"id": "NO-MODIFIED"}]))
    records, problems = _split(read_records(many))
    assert len(records) == 3 and [p.record_id for p in problems] == ["NO-MODIFIED"]
    assert not problems[0].whole_source


def test_a_single_file_that_is_not_json_is_a_lost_source(tmp_path: Path) -> None:
    tarball = tmp_path / "osv.tar.gz"
    tarball.write_bytes(b"\x1f\x8b\x08\x00")
    _, problems = _split(read_records(tarball))
    assert len(problems) == 1 and problems[0].whole_source and "not JSON" in problems[0].reason


class RecordingSink:
    """A store stand-in that consumes the records as VulnStore does and remembers them."""

    def __init__(self) -> None:
        self.items: list[OsvRecord | RecordProblem] = []
        self.sources: list[str] = []

    async def import_records(
        self, records: AsyncIterable[OsvRecord | RecordProblem], source: str, *, batch_size: int
    ) -> int:
        async for item in records:
            self.items.append(item)
        self.sources.append(source)
        return len(self.items)


async def test_import_paths_feeds_every_source_to_the_store(tmp_path: Path) -> None:
    archive = write_all_zip(tmp_path / "all.zip", RECORDS[:2], extra={"x.json": b"["})
    single = tmp_path / "one.json"
    single.write_text(json.dumps(RECORDS[2]))
    sink = RecordingSink()
    report = await import_paths([archive, single, tmp_path / "missing.zip"], sink, batch_size=2)
    assert report.result == 5  # three records, the bad member and the missing archive
    assert [i.id for i in sink.items if isinstance(i, OsvRecord)] == [r["id"] for r in RECORDS]
    assert len(report.problems) == 2 and report.sources_failed == 1
    assert sink.sources == [f"{archive}, {single}, {tmp_path / 'missing.zip'}"]


async def test_import_paths_keeps_a_bounded_list_of_problems(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for n in range(30):
            out.writestr(f"BAD-{n}.json", b"{")
    report = await import_paths(
        [archive], RecordingSink(), source="nightly", limits=ImportLimits(kept_problems=5)
    )
    assert len(report.problems) == 5 and report.result == 30
