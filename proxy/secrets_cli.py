"""`pullgate upstream credentials ...` and `pullgate secrets ...`: stored credentials and their keys.

    pullgate secrets generate-key [--id ID]          print a new key ring entry (ID:KEY)
    pullgate secrets rotate                          re-seal every stored secret under the primary key
    pullgate upstream credentials set NAME --username U (--password-stdin | --password-file F)
    pullgate upstream credentials delete NAME
    pullgate upstream credentials list

The password is read from standard input or a file, never from the command line (which
other users see in `ps` and the shell keeps in its history). Changes go straight to the
database and are audited like admin API changes; running replicas use them within
`secrets.refresh_interval`.

Exit status: 0 done, 1 nothing to act on (no such credentials, a secret that cannot be
opened aborted the rotation), 2 refused (invalid input, no key ring).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.audit_queries import NewAuditEvent
from db.session import create_engine, session_factory
from proxy.gate.credentials import CredentialKeeper
from proxy.gate.manage.errors import AdminError, AdminErrorKind
from proxy.gate.stores import Stores
from proxy.secrets import CredentialError, KeyRing, KeyRingError, generate_key
from proxy.settings import Settings

__all__ = ["add_secrets_commands", "generate_key_command", "run_secrets_command"]


def add_secrets_commands(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    secrets = commands.add_parser("secrets", help="the key ring that seals stored credentials")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    generate = secrets_sub.add_parser("generate-key", help="print a new key ring entry, ID:KEY")
    generate.add_argument("--id", default=None, help="the key's id (default: key-<date>-<random>)")
    rotate = secrets_sub.add_parser("rotate", help="re-seal every stored secret under the primary key")
    upstream = commands.add_parser("upstream", help="upstream registries")
    upstream_sub = upstream.add_subparsers(dest="upstream_command", required=True)
    credentials = upstream_sub.add_parser("credentials", help="an upstream's stored credentials")
    sub = credentials.add_subparsers(dest="credentials_command", required=True)
    put = sub.add_parser("set", help="store an upstream's credentials, sealed with the key ring")
    put.add_argument("name", help="the upstream's name (upstreams[].name)")
    put.add_argument("--username", required=True)
    source = put.add_mutually_exclusive_group(required=True)
    source.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    source.add_argument("--password-file", type=Path, help="read the password from this file")
    delete = sub.add_parser("delete", help="delete an upstream's stored credentials")
    delete.add_argument("name")
    listing = sub.add_parser("list", help="list stored credentials (never their secrets)")
    for parser in (rotate, put, delete, listing):
        config_option(parser)


def generate_key_command(args: argparse.Namespace) -> int:
    """Needs no settings: a first key is made before any configuration names one."""
    try:
        print(generate_key(args.id))
    except KeyRingError as exc:
        print(f"pullgate: {exc}", file=sys.stderr)
        return 2
    print("add this line to the key ring (first line: the primary key); keep it secret", file=sys.stderr)
    return 0


def run_secrets_command(settings: Settings, args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[_Context, argparse.Namespace], Awaitable[int]]] = {
        "rotate": _rotate,
        "set": _set,
        "delete": _delete,
        "list": _list,
    }
    name = args.secrets_command if args.command == "secrets" else args.credentials_command
    try:
        ring = settings.secrets.key_ring()
    except KeyRingError as exc:
        print(f"pullgate: secrets: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_with_context(settings, ring, lambda context: handlers[name](context, args)))


class _Context:
    def __init__(self, stores: Stores, keeper: CredentialKeeper, refresh_interval: float) -> None:
        self.stores = stores
        self.keeper = keeper
        self.refresh_interval = refresh_interval

    async def audit(self, action: str, upstream: str | None = None, **detail: Any) -> None:
        event = NewAuditEvent(
            created_at=datetime.now(UTC),
            kind="admin",
            identity=f"cli:{getpass.getuser()}",
            upstream=upstream,
            detail={"action": action, **detail},
        )
        await self.stores.audit.insert_events([event])


async def _with_context(
    settings: Settings, ring: KeyRing | None, action: Callable[[_Context], Awaitable[int]]
) -> int:
    engine = create_engine(settings.database.url, pool_size=1)
    try:
        stores = Stores.over(session_factory(engine))
        keeper = CredentialKeeper(stores.credentials, ring, [u.name for u in settings.upstreams])
        return await action(_Context(stores, keeper, settings.secrets.refresh_interval))
    except AdminError as exc:
        print(f"pullgate: {exc.message}", file=sys.stderr)
        return 1 if exc.kind is AdminErrorKind.NOT_FOUND else 2
    finally:
        await engine.dispose()


async def _set(context: _Context, args: argparse.Namespace) -> int:
    password = _read_password(args)
    stored, before = await context.keeper.put(args.name, args.username, password)
    await context.audit(
        "upstream.credentials.create" if before is None else "upstream.credentials.update",
        args.name,
        username=stored.username,
        key_id=stored.key_id,
        previous_username=before.username if before else None,
    )
    print(
        f"credentials for upstream {args.name} stored (user {stored.username}, sealed with key "
        f"{stored.key_id!r}); running replicas use them within {context.refresh_interval:g}s"
    )
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin and sys.stdin.isatty():  # typed by hand: do not echo it
        return getpass.getpass(f"password for {args.username} at {args.name}: ")
    try:
        text = sys.stdin.read() if args.password_stdin else args.password_file.read_text()
    except OSError as exc:
        raise AdminError(
            AdminErrorKind.INVALID, f"cannot read {args.password_file}: {exc.strerror}", field="password"
        ) from None
    # What `echo "$TOKEN" |` and editors add; as `docker login --password-stdin` does.
    return text.removesuffix("\n").removesuffix("\r")


async def _delete(context: _Context, args: argparse.Namespace) -> int:
    removed = await context.keeper.delete(args.name)
    await context.audit(
        "upstream.credentials.delete", args.name, username=removed.username, key_id=removed.key_id
    )
    print(f"stored credentials for upstream {args.name} deleted")
    return 0


async def _list(context: _Context, args: argparse.Namespace) -> int:
    for row in await context.keeper.all():
        print(f"{row.upstream:32} {row.username:24} key {row.key_id:24} {row.updated_at:%Y-%m-%d %H:%M}Z")
    return 0


async def _rotate(context: _Context, args: argparse.Namespace) -> int:
    ring = context.keeper.key_ring
    try:
        result = await context.keeper.rotate()
    except CredentialError as exc:
        known = ", ".join(map(repr, ring.ids)) if ring else ""
        print(
            f"pullgate: rotation aborted, nothing changed: {exc.message} (the key ring holds {known})",
            file=sys.stderr,
        )
        return 1
    assert ring is not None  # rotate() refuses without one
    primary = ring.primary.id
    if result.resealed:
        await context.audit(
            "secrets.rotate", key_id=primary, resealed=result.resealed, already_current=len(result.current)
        )
    print(
        f"{len(result.resealed)} stored secrets re-sealed under key {primary!r}, "
        f"{len(result.current)} already under it; every stored secret opens with this key ring"
    )
    return 0
