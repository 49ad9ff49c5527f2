"""Policy rules and the policy version, which every change bumps in the same transaction.

Replicas reload their rules when `policy_state.version` moves, and decisions record the
version they were made under, so a change that did not bump the version would go unseen
and one that bumped it without changing anything would throw every cached decision away.
Hence: every write bumps it once, and a write that changes nothing (the same rule, the same
policy document imported again) neither writes nor bumps.

Concurrency. Every writer first locks the one `policy_state` row (SELECT ... FOR UPDATE;
on SQLite, db.session's BEGIN IMMEDIATE serialises writers already), so policy writes are
serialised, always take their locks in the same order (state row, then rules) and cannot
deadlock, and a whole-policy import compares against rules nobody is changing meanwhile.
The bump itself is `UPDATE ... SET version = version + 1 RETURNING version`, so concurrent
bumps always yield distinct versions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.gate_queries import StoreError, from_db, now, page_size, to_db
from db.models import PolicyState, RuleRecord
from db.policy_lock import STATE_ID, bump_policy, lock_policy
from db.scan_queries import merge_vulnerability_sections
from db.signing_queries import merge_requirements
from proxy.policy.document import PolicySections
from proxy.policy.model import Action, Match, Mode, Rule

__all__ = [
    "DuplicateRule",
    "PolicyStore",
    "RevisionMismatch",
    "RuleNotFound",
    "StoredRule",
]


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule: Rule
    revision: int  # the rule's ETag: 1 when created, +1 on every change
    created_at: datetime
    updated_at: datetime


class RuleNotFound(StoreError, LookupError):
    def __init__(self, rule_id: str) -> None:
        super().__init__(f"no rule {rule_id!r}")
        self.rule_id = rule_id


class DuplicateRule(StoreError):
    def __init__(self, rule_id: str) -> None:
        super().__init__(f"a rule {rule_id!r} exists already")
        self.rule_id = rule_id


class RevisionMismatch(StoreError):
    """The rule changed since the caller read it (an If-Match precondition failed)."""

    def __init__(self, rule_id: str, expected: int, actual: int) -> None:
        super().__init__(f"rule {rule_id!r} is at revision {actual}, not {expected}")
        self.rule_id = rule_id
        self.expected = expected
        self.actual = actual


class PolicyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        # Reads run in read-only transactions: on SQLite they then never queue for the write
        # lock (every replica checks the policy version every second).
        self._reads = reads or sessions

    # -- reading ------------------------------------------------------------------------
    async def policy_state(self) -> tuple[int, Action]:
        """The policy version and the action taken when no rule matches."""
        query = select(PolicyState.version, PolicyState.default_action).where(PolicyState.id == STATE_ID)
        async with self._reads() as session:
            row = (await session.execute(query)).one()
        return row.version, Action(row.default_action)

    async def all_rules(self) -> list[Rule]:
        async with self._reads() as session:
            records = (await session.scalars(select(RuleRecord).order_by(RuleRecord.id))).all()
        return [_rule(record) for record in records]

    async def list_rules(self, limit: int, after_id: str | None = None) -> list[StoredRule]:
        """A page of rules in id order, starting after `after_id`."""
        query = select(RuleRecord).order_by(RuleRecord.id).limit(page_size(limit))
        if after_id is not None:
            query = query.where(RuleRecord.id > after_id)
        async with self._sessions() as session:
            records = (await session.scalars(query)).all()
        return [_stored(record) for record in records]

    async def get_rule(self, rule_id: str) -> StoredRule | None:
        async with self._sessions() as session:
            record = await session.get(RuleRecord, rule_id)
        return _stored(record) if record is not None else None

    # -- writing ------------------------------------------------------------------------
    async def create_rule(self, rule: Rule) -> StoredRule:
        """Add a rule at revision 1; raises DuplicateRule if its id is taken."""
        at = now()
        async with self._sessions.begin() as session:
            await lock_policy(session)
            if await session.get(RuleRecord, rule.id) is not None:
                raise DuplicateRule(rule.id)
            record = _new_record(rule, at)
            session.add(record)
            await bump_policy(session, at)
            return _stored(record)

    async def update_rule(self, rule: Rule, expected_revision: int) -> StoredRule:
        """Replace the rule with `rule.id`, if it is still at `expected_revision`.

        Raises RuleNotFound or RevisionMismatch. An update that changes nothing returns the
        stored rule as it is: no new revision, no new policy version.
        """
        at = now()
        async with self._sessions.begin() as session:
            await lock_policy(session)
            record = await _expect(session, rule.id, expected_revision)
            if _rule(record) == _normal(rule):
                return _stored(record)
            _assign(record, rule, at)
            await bump_policy(session, at)
            return _stored(record)

    async def delete_rule(self, rule_id: str, expected_revision: int | None = None) -> int:
        """Delete a rule (if still at `expected_revision`, when given); the new policy version."""
        async with self._sessions.begin() as session:
            await lock_policy(session)
            await session.delete(await _expect(session, rule_id, expected_revision))
            return await bump_policy(session, now())

    async def replace_all(
        self,
        rules: Sequence[Rule],
        default_action: Action,
        sections: PolicySections | None = None,
    ) -> tuple[int, bool]:
        """Make the stored policy exactly `rules` and `default_action`: (version, changed).

        The idempotent import of a policy document. Rules missing from `rules` are deleted,
        new ones created, changed ones updated (their revision moves); if nothing differs
        nothing is written and the version stays. The other `sections` (signature
        requirements, vulnerability policies and exceptions) are replaced the same way,
        unless None (left as they are).
        """
        wanted = _by_id(rules)
        at = now()
        async with self._sessions.begin() as session:
            version, current_default = await lock_policy(session)
            stored = {record.id: record for record in (await session.scalars(select(RuleRecord))).all()}
            changed = default_action != current_default
            for rule_id in stored.keys() - wanted.keys():
                await session.delete(stored[rule_id])
                changed = True
            for rule_id, rule in wanted.items():
                changed |= _merge(session, stored.get(rule_id), rule, at)
            if sections is not None:
                changed |= await merge_requirements(session, sections.requirements, at)
                changed |= await merge_vulnerability_sections(session, sections, at)
            if not changed:
                return version, False
            return await bump_policy(session, at, default_action=default_action.value), True

    async def set_default_action(self, action: Action) -> int:
        """Set the action taken when no rule matches; the policy version after it."""
        async with self._sessions.begin() as session:
            version, current = await lock_policy(session)
            if action == current:
                return version
            return await bump_policy(session, now(), default_action=action.value)

    async def bump(self) -> int:
        """Move to a new policy version without changing a rule; returns it.

        For changes outside the rules that must invalidate every cached decision (a new
        trust root, a new vulnerability database).
        """
        async with self._sessions.begin() as session:
            return await bump_policy(session, now())


async def _expect(session: AsyncSession, rule_id: str, revision: int | None) -> RuleRecord:
    record = await session.get(RuleRecord, rule_id)
    if record is None:
        raise RuleNotFound(rule_id)
    if revision is not None and record.revision != revision:
        raise RevisionMismatch(rule_id, revision, record.revision)
    return record


def _merge(session: AsyncSession, record: RuleRecord | None, rule: Rule, at: datetime) -> bool:
    """Bring one stored rule in line with `rule`; whether anything changed."""
    if record is None:
        session.add(_new_record(rule, at))
        return True
    if _rule(record) == _normal(rule):
        return False
    _assign(record, rule, at)
    return True


def _new_record(rule: Rule, at: datetime) -> RuleRecord:
    return RuleRecord(id=rule.id, revision=1, created_at=at, updated_at=at, **_columns(rule))


def _assign(record: RuleRecord, rule: Rule, at: datetime) -> None:
    for name, value in _columns(rule).items():
        setattr(record, name, value)
    record.revision += 1
    record.updated_at = at


def _by_id(rules: Sequence[Rule]) -> dict[str, Rule]:
    wanted: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in wanted:
            raise DuplicateRule(rule.id)
        wanted[rule.id] = rule
    return wanted


def _columns(rule: Rule) -> dict[str, Any]:
    match = rule.match
    return {
        "registry_pattern": match.registry,
        "repository": match.repository,
        "tag": match.tag,
        "tag_regex": match.tag_regex,
        "digest": match.digest,
        "action": Action(rule.action).value,
        "mode": Mode(rule.mode).value,
        "description": rule.description,
        "owner": rule.owner,
        "expires_at": to_db(rule.expires_at) if rule.expires_at else None,
    }


def _normal(rule: Rule) -> Rule:
    """`rule` as it reads back from the database, so that equality means "no change"."""
    expires_at = to_db(rule.expires_at) if rule.expires_at else None
    return dataclasses.replace(rule, action=Action(rule.action), mode=Mode(rule.mode), expires_at=expires_at)


def _rule(record: RuleRecord) -> Rule:
    return Rule(
        id=record.id,
        match=Match(
            repository=record.repository,
            registry=record.registry_pattern,
            tag=record.tag,
            tag_regex=record.tag_regex,
            digest=record.digest,
        ),
        action=Action(record.action),
        mode=Mode(record.mode),
        description=record.description,
        owner=record.owner,
        expires_at=from_db(record.expires_at) if record.expires_at else None,
    )


def _stored(record: RuleRecord) -> StoredRule:
    return StoredRule(_rule(record), record.revision, from_db(record.created_at), from_db(record.updated_at))
