"""`pullgate token ...`, `pullgate policy ...` and `pullgate trust ...`: bootstrap and GitOps without the HTTP API.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from db.audit_queries import NewAuditEvent
from db.session import create_engine, session_factory
from db.signing_queries import MaterialNotFound
from db.token_queries import TokenRole
from proxy.config_values import PositiveDuration
from proxy.gate.auth.assembly import secret_hasher
from proxy.gate.stores import Stores
from proxy.policy.document import PolicyDocument, parse_policy_document
from proxy.policy.errors import PolicyError
from proxy.settings import Settings
from proxy.signatures.errors import TrustMaterialError
from proxy.signatures.trust import MaterialKind, parse_material

__all__ = ["add_admin_commands", "audit", "parse_duration", "run_admin_command", "with_stores"]


def add_admin_commands(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    token = commands.add_parser("token", help="admin API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", choices=[r.value for r in TokenRole], required=True)
    create.add_argument("--name", default=None, help="what the token is for (default: user@cli)")
    create.add_argument(
        "--expires-in", type=parse_duration, default=None, help="e.g. 90d, 12h (default: never expires)"
    )
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
    trust = commands.add_parser("trust", help="trust material for signature verification").add_subparsers(
        dest="trust_command", required=True
    )
    put = trust.add_parser("put", help="create or replace trust material from a file")
    put.add_argument("name")
    put.add_argument("--kind", choices=[k.value for k in MaterialKind], required=True)
    put.add_argument(
        "-f", "--file", type=Path, required=True, help="the key, trusted_root.json, PEM bundle..."
    )
    trust_list = trust.add_parser("list", help="list trust material")
    delete = trust.add_parser("delete", help="delete trust material")
    delete.add_argument("name")
    for sub in (create, revoke, listing, apply, export, put, trust_list, delete):
        config_option(sub)


def run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    handlers: dict[tuple[str, str], Callable[[Stores, argparse.Namespace], Awaitable[int]]] = {
        ("token", "create"): _token_create,
        ("token", "revoke"): _token_revoke,
        ("token", "list"): _token_list,
        ("policy", "apply"): _policy_apply,
        ("policy", "export"): _policy_export,
        ("trust", "put"): _trust_put,
        ("trust", "list"): _trust_list,
        ("trust", "delete"): _trust_delete,
    }
    sub = {"token": "token_command", "policy": "policy_command", "trust": "trust_command"}[args.command]
    sub = getattr(args, sub)
    return asyncio.run(with_stores(settings, lambda stores: handlers[(args.command, sub)](stores, args)))


async def with_stores(settings: Settings, action: Callable[[Stores], Awaitable[int]]) -> int:
    engine = create_engine(settings.database.url, pool_size=1)
    try:
        return await action(Stores.over(session_factory(engine), hasher=secret_hasher(settings.auth)))
    finally:
        await engine.dispose()


def parse_duration(text: str) -> float:
    """An argparse type: 90d, 12h, 30m, 3600 (seconds)."""
    try:
        return float(TypeAdapter(PositiveDuration).validate_python(text))
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (examples: 90d, 12h, 30m)") from exc


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def audit(stores: Stores, action: str, detail: dict[str, Any]) -> None:
    event = NewAuditEvent(
        created_at=datetime.now(UTC), kind="admin", identity=_actor(), detail={"action": action, **detail}
    )
    await stores.audit.insert_events([event])


async def _token_create(stores: Stores, args: argparse.Namespace) -> int:
    name = args.name or f"{getpass.getuser()}@cli"
    expires_at = datetime.now(UTC) + timedelta(seconds=args.expires_in) if args.expires_in else None
    token_id, plaintext = await stores.tokens.create_token(name, TokenRole(args.role), expires_at=expires_at)
    expiry = expires_at.isoformat() if expires_at else None
    await audit(
        stores, "token.create", {"token_id": token_id, "name": name, "role": args.role, "expires_at": expiry}
    )
    print(plaintext)
    until = f"expires {expires_at:%Y-%m-%d %H:%M}Z" if expires_at else "never expires"
    print(
        f"token {token_id} ({args.role}, {name!r}, {until}) created; the secret above is shown only once",
        file=sys.stderr,
    )
    return 0


async def _token_revoke(stores: Stores, args: argparse.Namespace) -> int:
    if not await stores.tokens.revoke(args.id):
        print(f"pullgate: no active token {args.id!r}", file=sys.stderr)
        return 1
    await audit(stores, "token.revoke", {"token_id": args.id})
    print(f"token {args.id} revoked", file=sys.stderr)
    return 0


async def _token_list(stores: Stores, args: argparse.Namespace) -> int:
    at = datetime.now(UTC)
    legacy = 0
    for token in await stores.tokens.list_tokens():
        state = "revoked" if token.revoked_at else "expired" if token.expired(at) else "active"
        until = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
        mark = "  (legacy: rotate)" if token.legacy and not token.revoked_at else ""
        legacy += bool(mark)
        print(f"{token.id}  {token.role.value:8} {state:8} expires {until:10}  {token.name}{mark}")
    if legacy:
        print(
            f"{legacy} legacy token(s) are stored as unsalted SHA-256: create replacements and revoke them",
            file=sys.stderr,
        )
    return 0


async def _policy_apply(stores: Stores, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if str(args.file) == "-" else _read(args.file)
    try:
        document = parse_policy_document(text)
    except PolicyError as exc:
        print(f"pullgate: the policy was not applied: {exc}", file=sys.stderr)
        return 2
    version, changed = await stores.policies.replace_all(
        document.to_rules(), document.default_action, document.to_sections()
    )
    requirements = len(document.signature_requirements)
    if changed:
        detail = {"version": version, "rules": len(document.rules), "signature_requirements": requirements}
        await audit(stores, "policy.apply", {**detail, "file": str(args.file)})
    verb = "applied" if changed else "already in force"
    print(
        f"policy {verb}: version {version}, {len(document.rules)} rules, "
        f"{requirements} signature requirements, default {document.default_action}"
    )
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SystemExit(f"pullgate: cannot read {path}: {exc.strerror}") from exc


async def _policy_export(stores: Stores, args: argparse.Namespace) -> int:
    version, default_action = await stores.policies.policy_state()
    rules = await stores.policies.all_rules()
    document = PolicyDocument.of(default_action, rules, sections=await stores.policy_sections())
    print(json.dumps(document.export(), indent=2))
    print(f"policy version {version}", file=sys.stderr)
    return 0


async def _trust_put(stores: Stores, args: argparse.Namespace) -> int:
    kind = MaterialKind(args.kind)
    content = _read(args.file)
    try:
        parse_material(kind, content)
    except TrustMaterialError as exc:
        print(f"pullgate: {args.file} was not stored: {exc}", file=sys.stderr)
        return 2
    stored, changed, version = await stores.signing.put_material(args.name, kind.value, content)
    if changed:
        await audit(
            stores,
            "trust.put",
            {"name": args.name, "kind": kind.value, "sha256": stored.sha256, "policy_version": version},
        )
    verb = "stored" if changed else "already stored"
    print(f"{kind.value} {args.name!r} {verb} (sha256 {stored.sha256[:16]}…), policy version {version}")
    return 0


async def _trust_list(stores: Stores, args: argparse.Namespace) -> int:
    for material in await stores.signing.materials():
        print(
            f"{material.name:24} {material.kind:28} sha256:{material.sha256[:16]}  {material.updated_at:%Y-%m-%d %H:%M}Z"
        )
    return 0


async def _trust_delete(stores: Stores, args: argparse.Namespace) -> int:
    try:
        version = await stores.signing.delete_material(args.name)
    except MaterialNotFound as exc:
        print(f"pullgate: {exc}", file=sys.stderr)
        return 1
    await audit(stores, "trust.delete", {"name": args.name, "policy_version": version})
    print(f"trust material {args.name!r} deleted, policy version {version}")
    return 0
