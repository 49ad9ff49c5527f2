"""`pullgate robot create|list|revoke|rotate`: robot accounts without the HTTP API.

Like `pullgate token`, it talks to the database directly and audits each change as
``cli:<user>``. Running replicas notice a revocation or rotation within
`pull_auth.revocation_check_interval`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from db.robot_queries import RobotExists, RobotRow
from proxy.admin_cli import audit, parse_duration, with_stores
from proxy.gate.auth.scopes import parse_scope_argument
from proxy.gate.manage.errors import AdminError
from proxy.gate.manage.robots import validate_name, validate_scopes
from proxy.gate.stores import Stores
from proxy.policy.errors import PolicyError
from proxy.settings import Settings

__all__ = ["add_robot_commands", "run_robot_command"]

_SCOPE_HELP = (
    "REGISTRY:REPOSITORY glob it may pull, e.g. docker.io:library/** or 127.0.0.1:5001:team/*; "
    "a bare REPOSITORY means any registry; repeat for more"
)


def add_robot_commands(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    robot = commands.add_parser("robot", help="robot accounts that pull through pullgate").add_subparsers(
        dest="robot_command", required=True
    )
    create = robot.add_parser("create", help="create a robot and print its secret once")
    create.add_argument("name")
    create.add_argument("--scope", action="append", required=True, help=_SCOPE_HELP)
    create.add_argument("--owner", default=None, help="who answers for it (default: user@cli)")
    create.add_argument("--description", default="")
    create.add_argument("--expires-in", type=parse_duration, default=None, help="e.g. 90d (default: never)")
    listing = robot.add_parser("list", help="list robots (never their secrets)")
    revoke = robot.add_parser("revoke", help="revoke a robot: its secret and tokens stop working")
    revoke.add_argument("name")
    rotate = robot.add_parser(
        "rotate", help="give a robot a new secret (printed once); the old one stops working"
    )
    rotate.add_argument("name")
    for sub in (create, listing, revoke, rotate):
        config_option(sub)


def run_robot_command(settings: Settings, args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[Stores, argparse.Namespace], Awaitable[int]]] = {
        "create": _create,
        "list": _list,
        "revoke": _revoke,
        "rotate": _rotate,
    }
    return asyncio.run(with_stores(settings, lambda stores: handlers[args.robot_command](stores, args)))


async def _create(stores: Stores, args: argparse.Namespace) -> int:
    try:
        validate_name(args.name)
        scopes = validate_scopes([parse_scope_argument(text) for text in args.scope])
    except (PolicyError, AdminError) as exc:
        print(f"pullgate: the robot was not created: {exc}", file=sys.stderr)
        return 2
    owner = args.owner or f"{getpass.getuser()}@cli"
    expires_at = datetime.now(UTC) + timedelta(seconds=args.expires_in) if args.expires_in else None
    try:
        row, secret = await stores.robots.create(
            args.name, owner=owner, scopes=scopes, description=args.description, expires_at=expires_at
        )
    except RobotExists as exc:
        print(f"pullgate: {exc}", file=sys.stderr)
        return 1
    expiry = expires_at.isoformat() if expires_at else None
    detail = {"robot": row.name, "robot_id": row.id, "owner": owner, "scopes": scopes, "expires_at": expiry}
    await audit(stores, "robot.create", detail)
    print(secret)
    print(
        f"robot {row.name!r} created; log in as {row.name} with the secret above (shown only once)",
        file=sys.stderr,
    )
    return 0


async def _list(stores: Stores, args: argparse.Namespace) -> int:
    at = datetime.now(UTC)
    for row in await stores.robots.list_robots():
        scopes = " ".join(f"{s['registry']}:{s['repository']}" for s in row.scopes)
        print(
            f"{row.name:24} {_state(row, at):8} owner={row.owner} {_until(row)} used={_used(row)}  {scopes}"
        )
    return 0


def _state(row: RobotRow, at: datetime) -> str:
    return "revoked" if row.revoked_at else "expired" if row.expired(at) else "active"


def _until(row: RobotRow) -> str:
    return f"expires={row.expires_at:%Y-%m-%d}" if row.expires_at else "expires=never"


def _used(row: RobotRow) -> str:
    return f"{row.last_used_at:%Y-%m-%dT%H:%MZ}" if row.last_used_at else "never"


async def _revoke(stores: Stores, args: argparse.Namespace) -> int:
    row = await stores.robots.revoke(args.name)
    if row is None:
        print(f"pullgate: no active robot {args.name!r}", file=sys.stderr)
        return 1
    await audit(stores, "robot.revoke", {"robot": row.name, "robot_id": row.id})
    print(f"robot {row.name!r} revoked", file=sys.stderr)
    return 0


async def _rotate(stores: Stores, args: argparse.Namespace) -> int:
    rotated = await stores.robots.rotate(args.name)
    if rotated is None:
        print(f"pullgate: no active robot {args.name!r}", file=sys.stderr)
        return 1
    row, secret = rotated
    await audit(
        stores, "robot.rotate", {"robot": row.name, "robot_id": row.id, "secret_version": row.secret_version}
    )
    print(secret)
    print(
        f"robot {row.name!r} has a new secret (above, shown only once); the old one no longer works",
        file=sys.stderr,
    )
    return 0
