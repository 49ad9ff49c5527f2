"""Rules one by one and the policy as one document, each change seen by the next pull.

Every write goes through `PolicyStore`, which bumps the policy version in the same
transaction; then `gate.forget()` drops this replica's cached decisions and makes it reload
the policy at once (other replicas see the new version within `policy_refresh_interval`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from db.policy_queries import DuplicateRule, RevisionMismatch, RuleNotFound, StoredRule
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.manage.paging import Page, cursor_text, page_of
from proxy.gate.service import Gate
from proxy.gate.stores import Stores
from proxy.policy.document import PolicyDocument, RuleSpec
from proxy.policy.model import Action, Rule

__all__ = ["PolicyChange", "PolicyExport", "RulesAdmin"]


@dataclass(frozen=True, slots=True)
class PolicyExport:
    version: int
    document: PolicyDocument


@dataclass(frozen=True, slots=True)
class PolicyChange:
    version: int
    changed: bool


class RulesAdmin:
    def __init__(self, stores: Stores, gate: Gate, actions: ActionLog) -> None:
        self._stores = stores
        self._policies = stores.policies
        self._signing = stores.signing
        self._gate = gate
        self._actions = actions

    # -- rules ----------------------------------------------------------------------------
    async def page(self, limit: int, cursor: str | None) -> Page[StoredRule]:
        rows = await self._policies.list_rules(limit + 1, cursor_text(cursor))
        return page_of(rows, limit, lambda stored: stored.rule.id)

    async def get(self, rule_id: str) -> StoredRule:
        stored = await self._policies.get_rule(rule_id)
        if stored is None:
            raise not_found(f"rule {rule_id!r}")
        return stored

    async def create(self, actor: Actor, rule: Rule) -> StoredRule:
        try:
            stored = await self._policies.create_rule(rule)
        except DuplicateRule as exc:
            raise AdminError(AdminErrorKind.CONFLICT, str(exc), field="id") from exc
        version = await self._changed()
        await self._actions.record(
            actor, "rule.create", policy_version=version, rule_id=rule.id, rule=_spec(stored.rule)
        )
        return stored

    async def update(self, actor: Actor, rule: Rule, expected_revision: int | None) -> StoredRule:
        """Replace a rule if it is at `expected_revision` (None: whatever revision it is at)."""
        before = await self.get(rule.id)
        # For "*", the revision just read: a change landing in between answers 412, never lost.
        expected = before.revision if expected_revision is None else expected_revision
        try:
            stored = await self._policies.update_rule(rule, expected)
        except RuleNotFound as exc:
            raise not_found(f"rule {rule.id!r}") from exc
        except RevisionMismatch as exc:
            raise AdminError(AdminErrorKind.PRECONDITION_FAILED, str(exc)) from exc
        if stored.revision != before.revision:  # an update that changes nothing is no change
            version = await self._changed()
            changes = _changes(_spec(before.rule), _spec(stored.rule))
            await self._actions.record(
                actor,
                "rule.update",
                policy_version=version,
                rule_id=rule.id,
                revision=stored.revision,
                changes=changes,
            )
        return stored

    async def delete(self, actor: Actor, rule_id: str, expected_revision: int | None) -> int:
        """Delete a rule (if still at `expected_revision`, when given); the new policy version."""
        before = await self.get(rule_id)
        try:
            version = await self._policies.delete_rule(rule_id, expected_revision)
        except RuleNotFound as exc:
            raise not_found(f"rule {rule_id!r}") from exc
        except RevisionMismatch as exc:
            raise AdminError(AdminErrorKind.PRECONDITION_FAILED, str(exc)) from exc
        self._gate.forget()
        await self._actions.record(
            actor, "rule.delete", policy_version=version, rule_id=rule_id, rule=_spec(before.rule)
        )
        return version

    # -- the whole policy -----------------------------------------------------------------
    async def export(self) -> PolicyExport:
        # Version first: rules read after it are at least that new, never older.
        version, default_action = await self._policies.policy_state()
        rules = await self._policies.all_rules()
        sections = await self._stores.policy_sections()
        return PolicyExport(version, PolicyDocument.of(default_action, rules, sections=sections))

    async def replace(self, actor: Actor, document: PolicyDocument) -> PolicyChange:
        """Make the policy exactly `document`; importing the policy in force changes nothing."""
        before = {rule.id: _spec(rule) for rule in await self._policies.all_rules()}
        required_before = {r.id for r in await self._signing.requirements()}
        version, changed = await self._policies.replace_all(
            document.to_rules(), document.default_action, document.to_sections()
        )
        if changed:
            self._gate.forget()
            after = {rule.id: _spec(rule) for rule in document.to_rules()}
            await self._actions.record(
                actor,
                "policy.import",
                policy_version=version,
                default_action=document.default_action.value,
                added=sorted(after.keys() - before.keys()),
                removed=sorted(before.keys() - after.keys()),
                updated=sorted(i for i in after.keys() & before.keys() if after[i] != before[i]),
                signature_requirements=[r.id for r in document.signature_requirements],
                signature_requirements_removed=sorted(
                    required_before - {r.id for r in document.signature_requirements}
                ),
            )
        return PolicyChange(version, changed)

    async def set_default_action(self, actor: Actor, action: Action) -> PolicyChange:
        _, before = await self._policies.policy_state()
        version = await self._policies.set_default_action(action)
        changed = action != before
        if changed:
            self._gate.forget()
            await self._actions.record(
                actor,
                "policy.default_action",
                policy_version=version,
                before=before.value,
                after=action.value,
            )
        return PolicyChange(version, changed)

    async def _changed(self) -> int:
        """After a rule write: forget cached decisions; the version now in force (for the record)."""
        self._gate.forget()
        version, _ = await self._policies.policy_state()
        return version


def _spec(rule: Rule) -> dict[str, Any]:
    # In UTC, as the store keeps it: the same instant written with another offset is no change.
    expires_at = rule.expires_at.astimezone(UTC) if rule.expires_at is not None else None
    spec = RuleSpec.from_rule(dataclasses.replace(rule, expires_at=expires_at))
    return spec.model_dump(mode="json", exclude_none=True)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field by field, what an update changed: {"action": {"from": "allow", "to": "deny"}}."""
    return {
        name: {"from": before.get(name), "to": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    }
