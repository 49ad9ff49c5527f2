"""The policy in force: an engine built once per policy version, shared by every request.

Rules, signature requirements, trust material and vulnerability policies live in the database so every replica
decides alike; one version covers them all. Each replica checks the version
at most every `policy_refresh_interval`; a change made through this replica's admin API is
seen at once (`invalidate`). If the policy cannot be loaded the gate fails closed: the error
propagates and the request is denied (DESIGN.md invariant 2).

A failed load is not retried by every request: for `policy_refresh_interval` after it,
`current` raises `PolicyUnavailableError` at once. Against a database that stopped
answering, one request per interval waits for the timeout rather than every request in turn
behind the lock. `last_known` keeps the snapshot in force before the failure, which the gate
uses only to recognise decisions it made under it (see `Gate._decide`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proxy.policy.engine import PolicyEngine
from proxy.policy.model import Action, Rule
from proxy.policy.signing import RequirementSet, SignatureRequirement
from proxy.policy.vulnerability import ExceptionSet, PolicySet, VulnerabilityException, VulnerabilityPolicy
from proxy.signatures.trust import MaterialKind, TrustMaterial, TrustSet

__all__ = ["PolicySnapshot", "PolicySource", "PolicyState", "PolicyUnavailableError", "SigningSource"]


class PolicyUnavailableError(Exception):
    """The policy could not be loaded a moment ago; `__cause__` is why."""


class PolicySource(Protocol):
    async def policy_state(self) -> tuple[int, Action]: ...
    async def all_rules(self) -> list[Rule]: ...


class SigningSource(Protocol):
    async def requirements(self) -> list[SignatureRequirement]: ...
    async def materials(self) -> Sequence[MaterialRow]: ...


class ScanPolicySource(Protocol):
    async def vulnerability_policies(self) -> list[VulnerabilityPolicy]: ...
    async def vulnerability_exceptions(self) -> list[VulnerabilityException]: ...


class MaterialRow(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def content(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    version: int
    default_action: Action
    engine: PolicyEngine
    rule_count: int
    requirements: RequirementSet = field(default_factory=RequirementSet)
    trust: TrustSet = field(default_factory=TrustSet)
    vulnerability_policies: PolicySet = field(default_factory=PolicySet)
    vulnerability_exceptions: ExceptionSet = field(default_factory=ExceptionSet)


class PolicyState:
    def __init__(
        self,
        source: PolicySource,
        refresh_interval: float,
        signing: SigningSource | None = None,
        scans: ScanPolicySource | None = None,
    ) -> None:
        self._source = source
        self._signing = signing
        self._scans = scans
        self._refresh_interval = refresh_interval
        self._snapshot: PolicySnapshot | None = None
        self._checked_at = 0.0
        self._failure: Exception | None = None
        self._failed_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def last_known(self) -> PolicySnapshot | None:
        """The snapshot last loaded, however long ago (None before the first load)."""
        return self._snapshot

    async def current(self) -> PolicySnapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self._refresh_interval:
            return snapshot
        self._raise_recent_failure()
        async with self._lock:  # one reload at a time; the others wait for it
            if self._snapshot is not None and time.monotonic() - self._checked_at < self._refresh_interval:
                return self._snapshot
            self._raise_recent_failure()  # the reload we waited for failed
            try:
                return await self._refresh()
            except Exception as exc:
                self._failure, self._failed_at = exc, time.monotonic()
                raise

    def _raise_recent_failure(self) -> None:
        failure = self._failure
        if failure is not None and time.monotonic() - self._failed_at < self._refresh_interval:
            raise PolicyUnavailableError(f"the policy could not be loaded: {failure}") from failure

    async def _refresh(self) -> PolicySnapshot:
        version, default_action = await self._source.policy_state()
        snapshot = self._snapshot
        if snapshot is None or snapshot.version != version or snapshot.default_action != default_action:
            rules = await self._source.all_rules()
            requirements = await self._signing.requirements() if self._signing else []
            materials = await self._signing.materials() if self._signing else []
            vulnerability = (
                (await self._scans.vulnerability_policies(), await self._scans.vulnerability_exceptions())
                if self._scans
                else ([], [])
            )
            # Rules and version are read in two steps; re-read the version so a change in
            # between cannot pair new rules with an old version (or the reverse).
            again, default_action = await self._source.policy_state()
            if again != version:
                return await self._refresh()
            snapshot = await asyncio.to_thread(
                _build, version, default_action, rules, requirements, materials, vulnerability
            )
            self._snapshot = snapshot
        self._checked_at = time.monotonic()
        self._failure = None
        return snapshot

    def invalidate(self) -> None:
        self._checked_at = 0.0
        self._failure = None


def _build(  # noqa: PLR0917 - called once, by to_thread, which passes positionally
    version: int,
    default_action: Action,
    rules: list[Rule],
    requirements: list[SignatureRequirement],
    materials: Sequence[MaterialRow],
    vulnerability: tuple[list[VulnerabilityPolicy], list[VulnerabilityException]],
) -> PolicySnapshot:
    """Compile one policy version (in a worker thread: large policies take a moment)."""
    trust = TrustSet(TrustMaterial(m.name, MaterialKind(m.kind), m.content) for m in materials)
    return PolicySnapshot(
        version,
        default_action,
        PolicyEngine(rules, default_action),
        len(rules),
        RequirementSet(requirements),
        trust,
        PolicySet(vulnerability[0]),
        ExceptionSet(vulnerability[1]),
    )
