import asyncio
from pathlib import Path
from typing import Any

import pytest

from proxy.cache.lru import LRU
from proxy.cache.singleflight import Coalescer, Fill, FillFailedError


async def test_coalescer_runs_once_for_concurrent_callers() -> None:
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 42

    coalescer: Coalescer[str, int] = Coalescer()
    results = await asyncio.gather(*(coalescer.run("k", work) for _ in range(20)))
    assert results == [42] * 20 and calls == 1 and len(coalescer) == 0


async def test_coalescer_caller_cancellation_does_not_cancel_others() -> None:
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    coalescer: Coalescer[str, str] = Coalescer()
    first = asyncio.create_task(coalescer.run("k", work))
    second = asyncio.create_task(coalescer.run("k", work))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "done"


async def _collect(fill: Fill, **kwargs: Any) -> bytes:
    return b"".join([chunk async for chunk in fill.follow(chunk_size=7, **kwargs)])


async def test_followers_stream_while_bytes_arrive_but_not_the_last_byte(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_bytes(b"")
    fill = Fill("k")
    fill.begin(spool, 20)
    reader = asyncio.create_task(_collect(fill))
    spool.write_bytes(b"0123456789")
    fill.advance(10)
    await asyncio.sleep(0.05)
    spool.write_bytes(b"0123456789abcdefghij")
    fill.advance(20)
    await asyncio.sleep(0.05)
    assert not reader.done(), "the final byte must wait for the commit"
    fill.commit(20)
    assert await reader == b"0123456789abcdefghij"


async def test_the_last_byte_goes_out_once_verified_before_the_commit(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_bytes(b"0123456789")
    fill = Fill("k")
    fill.begin(spool, 10)
    fill.advance(10)
    reader = asyncio.create_task(_collect(fill))
    await asyncio.sleep(0.05)
    assert not reader.done(), "not verified yet: the final byte waits"
    fill.verify(10)
    assert await asyncio.wait_for(reader, 5) == b"0123456789"
    assert not fill.done, "still being committed"
    # Storing it may still fail: readers that follow from now on still get verified bytes.
    fill.fail(OSError("fsync failed"))
    assert await _collect(fill) == b"0123456789"


async def test_failed_fill_aborts_followers(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_bytes(b"abc")
    fill = Fill("k")
    fill.begin(spool, 3)
    fill.advance(3)
    received: list[bytes] = []

    async def follow() -> None:
        async for chunk in fill.follow():
            received.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.02)
    fill.fail(RuntimeError("digest mismatch"))
    with pytest.raises(FillFailedError):
        await task
    assert b"".join(received) == b"ab"


async def test_failure_before_start_raises_the_cause() -> None:
    fill = Fill("k")
    waiter = asyncio.create_task(fill.started())
    await asyncio.sleep(0)
    fill.fail(ValueError("upstream 404"))
    with pytest.raises(ValueError, match="upstream 404"):
        await waiter


async def test_finished_waits_for_commit(tmp_path: Path) -> None:
    fill = Fill("k")
    fill.begin(tmp_path / "x", None)
    waiter = asyncio.create_task(fill.finished())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    fill.commit(0)
    await waiter


def test_lru_by_weight() -> None:
    lru: LRU[str, bytes] = LRU(10, len)
    lru.put("a", b"12345")
    lru.put("b", b"12345")
    assert lru.get("a") == b"12345"  # a is now the most recent
    lru.put("c", b"1")
    assert lru.get("b") is None and lru.get("a") is not None
    lru.put("huge", b"x" * 11)
    assert lru.get("huge") is None
    lru.discard_where(lambda k: k == "a")
    assert lru.get("a") is None and len(lru) == 1


# --- storage failing mid-fill: the fill goes on in memory ------------------------------------


async def test_after_a_spill_followers_read_on_from_memory(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_bytes(b"0123456789")
    fill = Fill("k")
    fill.begin(spool, 20)
    fill.advance(7)  # announced before the last write, which reached the file only in part
    reader = asyncio.create_task(_collect(fill))
    await asyncio.sleep(0.02)
    spool.unlink()  # the upload removed its spool file when the disk filled up
    fill.spill(10, b"abc")  # 3 bytes handed to write() never reached the file
    await fill.room()
    fill.feed(b"defghij")
    await asyncio.sleep(0.02)
    assert not reader.done(), "the final byte still waits for verification"
    fill.passed()
    assert await reader == b"0123456789abcdefghij"
    fill.close()


async def test_a_fill_without_a_spool_file_streams_from_memory() -> None:
    fill = Fill("k")
    fill.begin(None, 6)
    # Reserved when the request joined, before its response started: nothing is dropped
    # from memory before it could read it.
    token = fill.reserve()
    for piece in (b"ab", b"cd", b"ef"):
        await fill.room()
        fill.feed(piece)
    reader = asyncio.create_task(_collect(fill, reader=token))
    fill.passed()
    assert await reader == b"abcdef"


async def test_memory_is_bounded_and_a_stalled_follower_is_cut_off() -> None:
    fill = Fill("k", window_cap=100, lag_timeout=0.1)  # small and quick, for the test
    fill.begin(None, None)
    stalled = fill.follow(chunk_size=10)
    await _feed(fill, b"x" * 30)
    assert await anext(stalled) == b"x" * 10  # and then it never reads again
    reader = asyncio.create_task(_collect(fill))  # keeps up
    held = []
    for _ in range(30):  # 900 bytes more than the window may hold
        await _feed(fill, b"y" * 30)
        assert fill.window is not None
        held.append(fill.window.held)
    assert max(held) <= 100 + 30, "never more than the cap and one chunk in memory"
    fill.passed()
    assert await reader == b"x" * 30 + b"y" * 900
    with pytest.raises(FillFailedError, match="fell too far behind"):
        await anext(stalled)


async def _feed(fill: Fill, data: bytes) -> None:
    await fill.room()
    fill.feed(data)
    await asyncio.sleep(0)
