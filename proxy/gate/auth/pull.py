"""Pull-side authentication: who a registry client is, and what it may pull.

A client is a robot (Basic ``robot-name:secret`` on any /v2 request, or a pull token
pullgate issued to it) or anonymous. Tokens follow distribution's token specification with
pullgate as the issuer: HS256 JWTs (`proxy.gate.auth.jwt`) whose ``access`` claim lists the
canonical repositories granted, checked on every request without the database; every
check of a robot, cached or not, also consults `RobotStates`, so revocations, expiries and
rotations made on any replica hold within `revocation_check_interval`.

`AuthFailure.counts` says whether a failure could be a guess (a wrong or malformed
credential, a forged token) and so counts against the client's address in the failure
limiter; a proven credential that is merely revoked or expired does not, or a node still
configured with an old robot would lock its own address out.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from db.pull_keys import SigningKey
from db.robot_queries import RobotRow, RobotStore
from proxy.auth_settings import PullAuthSettings
from proxy.cache.keys import RepoKey
from proxy.gate.auth import jwt
from proxy.gate.auth.cache import CredentialCache
from proxy.gate.auth.robot_states import RobotState, RobotStates
from proxy.gate.auth.scopes import Grants, ScopeSet, TokenGrants, canonical_name

__all__ = ["Access", "AuthFailure", "IssuedToken", "Principal", "PullAuth"]

_NBF_LEEWAY = 30  # seconds: replicas' clocks differ a little, tokens move between them


class AuthFailure(Exception):
    def __init__(self, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.counts = counts


class Access(Enum):
    ALLOW = "allow"
    CHALLENGE = "challenge"  # 401: (other) credentials or a token with this scope could do
    DENY = "deny"  # 403: this robot may not pull this repository, however it asks


@dataclass(frozen=True, slots=True)
class Principal:
    robot: str | None  # None: anonymous (a token asked for without credentials)
    grants: Grants = field(default_factory=ScopeSet)  # what this credential grants
    robot_id: str | None = None
    secret_version: int = 0
    expires_at: datetime | None = None
    robot_scopes: Grants = field(default_factory=ScopeSet)  # what the robot may be granted

    @property
    def identity(self) -> str | None:
        return f"robot:{self.robot}" if self.robot is not None else None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: datetime
    granted: tuple[str, ...]  # canonical names granted pull


class PullAuth:
    def __init__(
        self,
        settings: PullAuthSettings,
        *,
        robots: RobotStore,
        key: SigningKey,
        states: RobotStates,
        cache: CredentialCache[Principal],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.anonymous = ScopeSet.parse(scope.model_dump() for scope in settings.anonymous)
        self._robots = robots
        self._key = key
        self._states = states
        self._cache = cache
        self._clock = clock

    def allows(self, principal: Principal | None, key: RepoKey) -> bool:
        return self.anonymous.allows(key) or (principal is not None and principal.grants.allows(key))

    def access(self, principal: Principal | None, key: RepoKey) -> Access:
        if self.allows(principal, key):
            return Access.ALLOW
        if principal is None or principal.robot is None or principal.robot_scopes.allows(key):
            return Access.CHALLENGE
        return Access.DENY

    async def basic(self, name: str, secret: str) -> Principal:
        """The robot `name` if `secret` is its secret; raises AuthFailure."""
        cache_key = self._cache.key(name, secret)
        cached = self._cache.get(cache_key)
        if cached is not None and cached.robot_id is not None:
            state = await self._states.get(cached.robot_id)
            if state is not None and state.secret_version == cached.secret_version:
                self._check_standing(state)
                return cached
        row = await self._robots.verify(name, secret)
        if row is None:
            raise AuthFailure(f"robot {name[:64]!r} is unknown or the secret is wrong")
        self._states.changed(row)
        self._check_standing(RobotState.of(row))
        principal = _principal(row)
        self._cache.put(cache_key, row.id, principal)
        return principal

    async def bearer(self, token: str) -> Principal:
        """The principal a pull token stands for; raises AuthFailure."""
        try:
            claims = jwt.verify(token, {self._key.kid: self._key.secret})
        except jwt.InvalidToken as exc:
            raise AuthFailure(f"the bearer token is not valid: {exc}") from exc
        now = self._clock()
        self._check_claims(claims, now)
        grants = TokenGrants(frozenset(_granted_names(claims)))
        robot_id = claims.get("rid")
        if robot_id is None:
            return Principal(None, grants)
        state = await self._states.get(str(robot_id))
        if state is None:
            raise AuthFailure("the token's robot does not exist", counts=False)
        if state.secret_version != claims.get("rsv"):
            raise AuthFailure(
                f"robot {state.name!r} has a new secret since this token was issued", counts=False
            )
        self._check_standing(state)
        return Principal(state.name, grants, state.id, state.secret_version, state.expires_at, state.scopes)

    def issue(self, principal: Principal | None, wanted: Sequence[RepoKey]) -> IssuedToken:
        """A token granting pull on every repository of `wanted` the principal may pull
        (the intersection; the rest is silently left out, as the specification says)."""
        now = int(self._clock())
        ttl = int(self.settings.token_ttl)
        if principal is not None and principal.expires_at is not None:
            ttl = max(0, min(ttl, int(principal.expires_at.timestamp()) - now))
        granted = tuple(dict.fromkeys(canonical_name(k) for k in wanted if self.allows(principal, k)))
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": (principal.identity if principal else None) or "",
            "aud": self.settings.service,
            "exp": now + ttl,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [{"type": "repository", "name": name, "actions": ["pull"]} for name in granted],
        }
        if principal is not None and principal.robot_id is not None:
            claims["rid"] = principal.robot_id
            claims["rsv"] = principal.secret_version
        token = jwt.sign(claims, self._key.secret, self._key.kid)
        return IssuedToken(token, ttl, datetime.fromtimestamp(now, UTC), granted)

    def changed(self, row: RobotRow) -> None:
        """A robot was revoked or rotated on this replica: honour it at once."""
        self._cache.forget_owner(row.id)
        self._states.changed(row)

    def _check_standing(self, state: RobotState) -> None:
        if state.revoked_at is not None:
            raise AuthFailure(
                f"robot {state.name!r} was revoked at {state.revoked_at:%Y-%m-%dT%H:%M:%SZ}", counts=False
            )
        if state.expires_at is not None and state.expires_at.timestamp() <= self._clock():
            raise AuthFailure(
                f"robot {state.name!r} expired at {state.expires_at:%Y-%m-%dT%H:%M:%SZ}", counts=False
            )

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        # The signature is ours, so these fail only for a token of another configuration
        # (service or issuer renamed) or one that aged: not guesses.
        if claims.get("iss") != self.settings.issuer:
            raise AuthFailure("the token was issued by another issuer", counts=False)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.service not in audiences:
            raise AuthFailure(f"the token is not for service {self.settings.service!r}", counts=False)
        expiry, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expiry, int | float) or not isinstance(not_before, int | float):
            raise AuthFailure("the token's exp or nbf claim is not a number")
        if expiry <= now:
            raise AuthFailure("the token expired; fetch a new one", counts=False)
        if not_before > now + _NBF_LEEWAY:
            raise AuthFailure("the token is not valid yet", counts=False)


def _granted_names(claims: dict[str, Any]) -> list[str]:
    access = claims.get("access", [])
    if not isinstance(access, list):
        raise AuthFailure("the token's access claim is not a list")
    names = []
    for entry in access:
        if not isinstance(entry, dict):
            raise AuthFailure("the token's access claim is malformed")
        actions = entry.get("actions")
        if entry.get("type") == "repository" and isinstance(actions, list) and "pull" in actions:
            names.append(str(entry.get("name")))
    return names


def _principal(row: RobotRow) -> Principal:
    scopes = ScopeSet.parse(row.scopes)
    return Principal(row.name, scopes, row.id, row.secret_version, row.expires_at, scopes)
