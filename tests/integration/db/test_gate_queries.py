"""Policy rules and the policy version: every change bumps it once, a no-op never does."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.policy_queries import DuplicateRule, PolicyStore, RevisionMismatch, RuleNotFound
from db.session import session_factory
from proxy.policy.model import Action, Match, Mode, Rule

CEST = timezone(timedelta(hours=2))


@pytest.fixture
def store(engine: AsyncEngine) -> PolicyStore:
    return PolicyStore(session_factory(engine))


def _rule(rule_id: str, action: Action = Action.ALLOW, **match: str) -> Rule:
    return Rule(rule_id, Match(**match) if match else Match(repository="library/*"), action)


FULL = Rule(
    "pin-alpine",
    Match(
        repository="library/alpine",
        registry="docker.io",
        tag="3.*",
        digest="sha256:" + "c" * 64,
    ),
    Action.QUARANTINE,
    Mode.WARN,
    description="alpine 3 only, reviewed",
    owner="platform",
    expires_at=datetime(2027, 1, 1, 12, 0, tzinfo=CEST),
)


async def test_a_fresh_database_denies_by_default(store: PolicyStore) -> None:
    assert await store.policy_state() == (1, Action.DENY)
    assert await store.all_rules() == []


async def test_every_change_bumps_the_version_once(store: PolicyStore) -> None:
    created = await store.create_rule(_rule("a"))
    assert (created.revision, await _version(store)) == (1, 2)
    updated = await store.update_rule(_rule("a", Action.DENY), expected_revision=1)
    assert (updated.revision, await _version(store)) == (2, 3)
    assert updated.created_at == created.created_at < updated.updated_at
    assert await store.set_default_action(Action.ALLOW) == 4
    assert await store.policy_state() == (4, Action.ALLOW)
    assert await store.delete_rule("a") == 5
    assert await store.bump() == 6
    assert await store.policy_state() == (6, Action.ALLOW)


async def test_writes_that_change_nothing_keep_the_version(store: PolicyStore) -> None:
    await store.create_rule(FULL)
    assert await store.set_default_action(Action.DENY) == 2  # already deny
    same = await store.update_rule(FULL, expected_revision=1)
    assert same.revision == 1
    assert await _version(store) == 2


async def test_a_rule_reads_back_as_written(store: PolicyStore) -> None:
    stored = await store.create_rule(FULL)
    assert stored.rule == FULL  # expires_at: the same instant, now in UTC
    assert stored.rule.expires_at is not None and stored.rule.expires_at.tzinfo is not None
    fetched = await store.get_rule(FULL.id)
    assert fetched == stored
    assert await store.all_rules() == [FULL]
    assert await store.get_rule("nope") is None


async def test_a_stale_revision_is_refused(store: PolicyStore) -> None:
    await store.create_rule(_rule("a"))
    await store.update_rule(_rule("a", Action.DENY), expected_revision=1)
    with pytest.raises(RevisionMismatch) as raised:
        await store.update_rule(_rule("a", Action.QUARANTINE), expected_revision=1)
    assert (raised.value.rule_id, raised.value.expected, raised.value.actual) == ("a", 1, 2)
    with pytest.raises(RevisionMismatch):
        await store.delete_rule("a", expected_revision=1)
    stored = await store.get_rule("a")
    assert stored is not None and stored.rule.action is Action.DENY
    assert await _version(store) == 3  # the refused writes bumped nothing
    assert await store.delete_rule("a", expected_revision=2) == 4


async def test_a_duplicate_id_is_refused(store: PolicyStore) -> None:
    await store.create_rule(_rule("a"))
    with pytest.raises(DuplicateRule, match="'a'"):
        await store.create_rule(_rule("a", Action.DENY))
    with pytest.raises(DuplicateRule):
        await store.replace_all([_rule("b"), _rule("b", Action.DENY)], Action.DENY)
    assert await store.all_rules() == [_rule("a")]
    assert await _version(store) == 2


async def test_a_missing_rule_is_reported(store: PolicyStore) -> None:
    with pytest.raises(RuleNotFound):
        await store.update_rule(_rule("ghost"), expected_revision=1)
    with pytest.raises(RuleNotFound):
        await store.delete_rule("ghost")
    assert await _version(store) == 1


async def test_importing_a_policy_is_idempotent(store: PolicyStore) -> None:
    document = [FULL, _rule("b"), _rule("c", Action.DENY)]
    assert await store.replace_all(document, Action.DENY) == (2, True)
    assert await store.replace_all(list(reversed(document)), Action.DENY) == (2, False)
    assert [stored.revision for stored in await store.list_rules(10)] == [1, 1, 1]
    assert await store.replace_all(document, Action.ALLOW) == (3, True)  # the default alone


async def test_importing_a_policy_makes_the_rules_exactly_the_document(store: PolicyStore) -> None:
    await store.replace_all([FULL, _rule("b"), _rule("c")], Action.DENY)
    changed_c = _rule("c", Action.QUARANTINE, repository="team/**")
    assert await store.replace_all([changed_c, _rule("b"), _rule("d")], Action.DENY) == (3, True)
    stored = {s.rule.id: s for s in await store.list_rules(10)}
    assert {rule_id: (s.rule, s.revision) for rule_id, s in stored.items()} == {
        "b": (_rule("b"), 1),
        "c": (changed_c, 2),
        "d": (_rule("d"), 1),
    }
    assert await store.replace_all([], Action.DENY) == (4, True)
    assert await store.all_rules() == []


async def test_rules_page_by_id(store: PolicyStore) -> None:
    for rule_id in ("e", "a", "d", "b", "c"):
        await store.create_rule(_rule(rule_id))
    pages, after = [], None
    while page := await store.list_rules(2, after_id=after):
        pages.append([stored.rule.id for stored in page])
        after = page[-1].rule.id
    assert pages == [["a", "b"], ["c", "d"], ["e"]]


async def test_concurrent_bumps_yield_distinct_versions(store: PolicyStore) -> None:
    versions = await asyncio.gather(*(store.bump() for _ in range(20)))
    assert sorted(versions) == list(range(2, 22))
    assert await _version(store) == 21


async def test_concurrent_writers_each_bump_once(store: PolicyStore) -> None:
    # Creates, imports and defaults interleaved: serialised, none lost, no deadlock.
    imports, _, defaults = await asyncio.gather(
        asyncio.gather(*(store.replace_all([_rule("imported")], Action.DENY) for _ in range(3))),
        asyncio.gather(*(store.create_rule(_rule(f"r{number:02}")) for number in range(10))),
        asyncio.gather(*(store.set_default_action(Action.DENY) for _ in range(3))),
    )
    changed = sum(1 for _, import_changed in imports if import_changed)
    assert changed >= 1
    assert await _version(store) == 1 + 10 + changed  # the defaults were deny already
    assert max(version for version, _ in imports) <= 1 + 10 + changed
    assert max(defaults) <= 1 + 10 + changed  # each saw the version of its time
    assert "imported" in {rule.id for rule in await store.all_rules()}


async def _version(store: PolicyStore) -> int:
    version, _ = await store.policy_state()
    return version
