"""`pullgate token ...` and `pullgate policy ...`: bootstrap and GitOps without the HTTP API.

They talk to the database directly (the same stores the admin API uses), so the first admin
token can be created before any token exists, and a policy kept in git can be applied from
a deploy job. Each change is audited like one made through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.audit_queries import NewAuditEvent
from db.session import create_engine, session_factory
from db.token_queries import TokenRole
from proxy.gate.stores import Stores
from proxy.policy.document import PolicyDocument, parse_policy_document
from proxy.policy.errors import PolicyError
from proxy.settings import Settings

__all__ = ["add_admin_commands", "run_admin_command"]


def add_admin_commands(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    token = commands.add_parser("token", help="admin API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", choices=[r.value for r in TokenRole], required=True)
    create.add_argument("--name", default=None, help="what the token is for (default: user@cli)")
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id")
    listing = token.add_parser("list", help="list tokens (never their secrets)")
    policy = commands.add_parser("policy", help="the policy as a document").add_subparsers(
        dest="policy_command", required=True
    )
    apply = policy.add_parser("apply", help="make the policy exactly this document (idempotent)")
    apply.add_argument(
        "-f", "--file", type=Path, required=True, help="YAML or JSON policy document ('-': stdin)"
    )
    export = policy.add_parser("export", help="print the policy in force as YAML-compatible JSON")
    for sub in (create, revoke, listing, apply, export):
        config_option(sub)


def run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    handlers: dict[tuple[str, str], Callable[[Stores, argparse.Namespace], Awaitable[int]]] = {
        ("token", "create"): _token_create,
        ("token", "revoke"): _token_revoke,
        ("token", "list"): _token_list,
        ("policy", "apply"): _policy_apply,
        ("policy", "export"): _policy_export,
    }
    sub = args.token_command if args.command == "token" else args.policy_command
    return asyncio.run(_with_stores(settings, lambda stores: handlers[(args.command, sub)](stores, args)))


async def _with_stores(settings: Settings, action: Callable[[Stores], Awaitable[int]]) -> int:
    engine = create_engine(settings.database.url, pool_size=1)
    try:
        return await action(Stores.over(session_factory(engine)))
    finally:
        await engine.dispose()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _audit(stores: Stores, action: str, detail: dict[str, Any]) -> None:
    event = NewAuditEvent(
        created_at=datetime.now(UTC), kind="admin", identity=_actor(), detail={"action": action, **detail}
    )
    await stores.audit.insert_events([event])


async def _token_create(stores: Stores, args: argparse.Namespace) -> int:
    name = args.name or f"{getpass.getuser()}@cli"
    token_id, plaintext = await stores.tokens.create_token(name, TokenRole(args.role))
    await _audit(stores, "token.create", {"token_id": token_id, "name": name, "role": args.role})
    print(plaintext)
    print(
        f"token {token_id} ({args.role}, {name!r}) created; the secret above is shown only once",
        file=sys.stderr,
    )
    return 0


async def _token_revoke(stores: Stores, args: argparse.Namespace) -> int:
    if not await stores.tokens.revoke(args.id):
        print(f"pullgate: no active token {args.id!r}", file=sys.stderr)
        return 1
    await _audit(stores, "token.revoke", {"token_id": args.id})
    print(f"token {args.id} revoked", file=sys.stderr)
    return 0


async def _token_list(stores: Stores, args: argparse.Namespace) -> int:
    for token in await stores.tokens.list_tokens():
        state = "revoked" if token.revoked_at else "active"
        print(f"{token.id}  {token.role.value:8} {state:8} {token.name}")
    return 0


async def _policy_apply(stores: Stores, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if str(args.file) == "-" else _read(args.file)
    try:
        document = parse_policy_document(text)
    except PolicyError as exc:
        print(f"pullgate: the policy was not applied: {exc}", file=sys.stderr)
        return 2
    version, changed = await stores.policies.replace_all(document.to_rules(), document.default_action)
    if changed:
        await _audit(
            stores, "policy.apply", {"version": version, "rules": len(document.rules), "file": str(args.file)}
        )
    verb = "applied" if changed else "already in force"
    print(f"policy {verb}: version {version}, {len(document.rules)} rules, default {document.default_action}")
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SystemExit(f"pullgate: cannot read {path}: {exc.strerror}") from exc


async def _policy_export(stores: Stores, args: argparse.Namespace) -> int:
    version, default_action = await stores.policies.policy_state()
    document = PolicyDocument.of(default_action, await stores.policies.all_rules())
    print(json.dumps(document.export(), indent=2))
    print(f"policy version {version}", file=sys.stderr)
    return 0
