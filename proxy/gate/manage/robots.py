"""Robot accounts: identities for CI jobs and nodes, with the repositories they may pull.

Scopes are compiled here (the same glob grammar as policy rules) before anything is stored,
so a robot never holds a scope the gate cannot match. Every change is audited; a secret
appears only in the answer that created it. Revoking or rotating tells `changed` (the pull
authenticator of this replica) at once; other replicas notice within their revocation
check interval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

from db.gate_queries import InvalidCursor, now
from db.robot_queries import RobotExists, RobotRow, RobotStore
from proxy.gate.auth.scopes import MAX_SCOPES, RepositoryScope
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.manage.paging import Page, bad_cursor, cursor_text, page_of
from proxy.policy.errors import PolicyError

__all__ = ["ROBOT_NAME", "RobotRow", "RobotsAdmin", "validate_name", "validate_scopes"]

# No colon (the Basic separator), nothing a URL path or the audit's "robot:<name>" must escape.
ROBOT_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"

Changed = Callable[[RobotRow], None]


def validate_name(name: str) -> str:
    if not re.fullmatch(ROBOT_NAME, name):
        raise AdminError(
            AdminErrorKind.INVALID,
            f"robot name {name[:80]!r} must be 1-64 of a-z 0-9 . _ - starting with a letter or digit",
            field="name",
        )
    return name


def validate_scopes(scopes: Sequence[RepositoryScope | dict[str, str]]) -> list[dict[str, str]]:
    """Scopes as stored (normalised globs); AdminError naming the first bad one."""
    if not scopes:
        raise AdminError(AdminErrorKind.INVALID, "a robot needs at least one scope", field="scopes")
    if len(scopes) > MAX_SCOPES:
        raise AdminError(AdminErrorKind.INVALID, f"at most {MAX_SCOPES} scopes", field="scopes")
    stored = []
    for position, scope in enumerate(scopes):
        try:
            compiled = scope if isinstance(scope, RepositoryScope) else RepositoryScope.parse(scope)
        except (PolicyError, KeyError) as exc:
            raise AdminError(AdminErrorKind.INVALID, str(exc), field=f"scopes.{position}") from exc
        stored.append(compiled.as_dict())
    return stored


class RobotsAdmin:
    def __init__(self, robots: RobotStore, actions: ActionLog, changed: Changed | None = None) -> None:
        self._robots = robots
        self._actions = actions
        self._changed = changed or (lambda row: None)

    async def page(self, limit: int, cursor: str | None) -> Page[RobotRow]:
        # Robots are few (one per pipeline or node pool): listed whole, paged like every list.
        robots = await self._robots.list_robots()
        start = 0
        after = cursor_text(cursor)
        if after is not None:  # robots are revoked, never deleted: the one named is still listed
            start = next((i + 1 for i, robot in enumerate(robots) if robot.name == after), -1)
            if start < 0:
                raise bad_cursor(InvalidCursor())
        return page_of(robots[start : start + limit + 1], limit, lambda robot: robot.name)

    async def get(self, name: str) -> RobotRow:
        robot = await self._robots.get(name)
        if robot is None:
            raise not_found(f"robot {name!r}")
        return robot

    async def create(
        self,
        actor: Actor,
        name: str,
        *,
        owner: str,
        scopes: Sequence[RepositoryScope | dict[str, str]],
        description: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[RobotRow, str]:
        """A new robot and its secret, shown only in this answer."""
        validate_name(name)
        stored = validate_scopes(scopes)
        if expires_at is not None and expires_at <= now():
            raise AdminError(AdminErrorKind.INVALID, "expires_at is in the past", field="expires_at")
        try:
            row, secret = await self._robots.create(
                name, owner=owner, scopes=stored, description=description, expires_at=expires_at
            )
        except RobotExists as exc:
            raise AdminError(AdminErrorKind.CONFLICT, str(exc), field="name") from exc
        await self._actions.record(
            actor,
            "robot.create",
            robot=name,
            robot_id=row.id,
            owner=owner,
            scopes=stored,
            expires_at=expires_at.isoformat() if expires_at else None,
        )
        return row, secret

    async def revoke(self, actor: Actor, name: str) -> RobotRow:
        row = await self._robots.revoke(name)
        if row is None:
            raise not_found(f"active robot {name!r}")
        self._changed(row)
        await self._actions.record(actor, "robot.revoke", robot=name, robot_id=row.id)
        return row

    async def rotate(self, actor: Actor, name: str) -> tuple[RobotRow, str]:
        """A new secret; the old one, and every token issued for it, stop working."""
        rotated = await self._robots.rotate(name)
        if rotated is None:
            raise not_found(f"active robot {name!r}")
        row, secret = rotated
        self._changed(row)
        await self._actions.record(
            actor, "robot.rotate", robot=name, robot_id=row.id, secret_version=row.secret_version
        )
        return row, secret
