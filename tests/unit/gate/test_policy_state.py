"""The policy in force when its source fails: a failed load is remembered for one refresh
interval (a silent database costs one timeout per interval, not one per request), the last
snapshot stays known, and a success or an invalidation clears the failure."""

from __future__ import annotations

import asyncio

import pytest

from proxy.gate.policy_state import PolicyState, PolicyUnavailableError
from proxy.policy.model import Action, Rule


class FlakySource:
    """A policy source whose next calls fail while `down`; counts every call."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.delay = 0.0

    async def policy_state(self) -> tuple[int, Action]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionRefusedError(111, "Connect call failed")
        return 1, Action.DENY

    async def all_rules(self) -> list[Rule]:
        return []


async def test_a_failed_load_is_remembered_for_one_interval() -> None:
    source = FlakySource()
    state = PolicyState(source, refresh_interval=0.2)
    first = await state.current()
    source.down = True
    await asyncio.sleep(0.25)
    with pytest.raises(ConnectionRefusedError):
        await state.current()
    calls = source.calls
    for _ in range(20):
        with pytest.raises(PolicyUnavailableError) as caught:
            await state.current()
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert source.calls == calls, "the source was not asked again within the interval"
    assert state.last_known is first
    source.down = False
    await asyncio.sleep(0.25)
    assert (await state.current()).version == 1


async def test_requests_waiting_behind_a_failing_load_do_not_each_retry_it() -> None:
    source = FlakySource()
    state = PolicyState(source, refresh_interval=5.0)
    source.down, source.delay = True, 0.05  # a slow failure: the others queue on the lock
    results = await asyncio.gather(*(state.current() for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, (ConnectionRefusedError, PolicyUnavailableError)) for r in results)
    assert source.calls == 1


async def test_invalidate_forgets_the_failure() -> None:
    source = FlakySource()
    state = PolicyState(source, refresh_interval=5.0)
    source.down = True
    with pytest.raises(ConnectionRefusedError):
        await state.current()
    source.down = False
    state.invalidate()  # a change made through this replica: look again at once
    assert (await state.current()).version == 1
