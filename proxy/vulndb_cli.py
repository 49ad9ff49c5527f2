"""`pullgate vulndb import PATH...` and `pullgate vulndb status`: the offline OSV database.

pullgate never downloads vulnerability data itself: an operator (or a cron job beside it)
fetches OSV exports (``all.zip`` per ecosystem, or a git mirror of the JSON files) and
imports them here, straight into the database every replica matches against. An import that
changed something is audited like an admin change.

Exit status: 0 when every source was read (records refused one by one are reported, not
fatal: OSV data always has a few a given pullgate cannot use), 1 when a whole archive or
file could not be read, 2 for a path that does not exist.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.audit_queries import AuditStore, NewAuditEvent
from db.session import create_engine, read_only, session_factory
from db.vulndb_queries import DEFAULT_BATCH_SIZE, ImportResult, VulnStore
from proxy.scanning.osv.importer import ImportReport, describe_sources, import_paths
from proxy.settings import Settings

__all__ = ["add_vulndb_commands", "run_vulndb_command"]

_SHOWN_PROBLEMS = 20  # the rest are counted: a broken export must not flood the terminal


def add_vulndb_commands(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    vulndb = commands.add_parser("vulndb", help="the offline vulnerability database (OSV data)")
    sub = vulndb.add_subparsers(dest="vulndb_command", required=True)
    load = sub.add_parser("import", help="import OSV records (idempotent): all.zip, directories, JSON files")
    load.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="an all.zip, a directory of *.json, or a .json"
    )
    load.add_argument("--source", default=None, help="what to record as the source (default: the paths)")
    load.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="records per transaction")
    status = sub.add_parser("status", help="print the database version, record count and last source")
    for parser in (load, status):
        config_option(parser)


def run_vulndb_command(settings: Settings, args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[_Context, argparse.Namespace], Awaitable[int]]] = {
        "import": _import,
        "status": _status,
    }
    return asyncio.run(_with_store(settings, lambda context: handlers[args.vulndb_command](context, args)))


@dataclass(frozen=True, slots=True)
class _Context:
    store: VulnStore
    audit: AuditStore


async def _with_store(settings: Settings, action: Callable[[_Context], Awaitable[int]]) -> int:
    engine = create_engine(settings.database.url, pool_size=1)
    try:
        sessions = session_factory(engine)
        store = VulnStore(sessions, session_factory(read_only(engine)))
        return await action(_Context(store, AuditStore(sessions)))
    finally:
        await engine.dispose()


async def _import(context: _Context, args: argparse.Namespace) -> int:
    missing = [path for path in args.paths if not path.exists()]
    if missing:
        print(f"pullgate: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print("pullgate: --batch-size must be at least 1", file=sys.stderr)
        return 2
    source = args.source or describe_sources(args.paths)
    report: ImportReport[ImportResult] = await import_paths(
        args.paths, context.store, source=source, batch_size=args.batch_size
    )
    result = report.result
    _print_problems(report, result.rejected)
    if result.changed:
        await _audit(context, result, source)
    read = result.added + result.updated + result.withdrawn + result.unchanged
    print(
        f"{read} records read: {result.added} added, {result.updated} updated, {result.withdrawn} withdrawn, "
        f"{result.unchanged} unchanged, {result.rejected} rejected; "
        f"vulnerability database version {result.version}" + ("" if result.changed else " (unchanged)")
    )
    return 1 if report.sources_failed else 0


def _print_problems(report: ImportReport[ImportResult], rejected: int) -> None:
    for problem in report.problems[:_SHOWN_PROBLEMS]:
        print(f"pullgate: skipped {problem.location}: {problem.reason}", file=sys.stderr)
    if rejected > _SHOWN_PROBLEMS:
        print(f"pullgate: ... and {rejected - _SHOWN_PROBLEMS} more skipped", file=sys.stderr)


async def _audit(context: _Context, result: ImportResult, source: str) -> None:
    detail = {
        "action": "vulndb.import",
        "source": source,
        "version": result.version,
        "added": result.added,
        "updated": result.updated,
        "withdrawn": result.withdrawn,
    }
    event = NewAuditEvent(
        created_at=datetime.now(UTC), kind="admin", identity=f"cli:{getpass.getuser()}", detail=detail
    )
    await context.audit.insert_events([event])


async def _status(context: _Context, args: argparse.Namespace) -> int:
    state = await context.store.state()
    if state.version == 0:
        print("vulnerability database: empty (run `pullgate vulndb import PATH...`)")
        return 0
    print(f"version  {state.version}")
    print(f"records  {state.records}")
    print(f"updated  {state.updated_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
    print(f"source   {state.source}")
    return 0
