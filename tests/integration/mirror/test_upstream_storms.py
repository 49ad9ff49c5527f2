"""Storms: an upstream answering 5xx or 429 to everything while 50 clients pull at once.

What must hold: retries stay bounded (counted at the fake: at most 1 + retries upstream
requests per client request, however many clients), the circuit breaker then spares the
upstream entirely, other upstreams and cached content are served meanwhile, known tags are
served stale with ``Warning: 110``, a 429's Retry-After is honoured and passed on, and when
the storm ends pulls work again without a restart. Not about the database: SQLite only.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.support.faulty import Fault, FaultyRegistry
from tests.support.http import http_get
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT

pytestmark = pytest.mark.parametrize("app_database", ["sqlite"], indirect=True)

CLIENTS = 50
RETRIES = 2
OPEN_FOR = 2.0
RECOVERY = 15.0  # seconds: a safety net, not a speed assertion


def _client(**breaker: Any) -> dict[str, Any]:
    return {
        "retries": RETRIES,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "retry_after_max": 2,
        "circuit_breaker": {"open_for": OPEN_FOR, **breaker},
    }


async def _manifest(
    pullgate: Pullgate, reference: str, prefix: str = ""
) -> tuple[int, dict[str, str], bytes]:
    url = f"{pullgate.url}/v2/{prefix}library/demo/manifests/{reference}"
    return await http_get(url, Accept=MANIFEST_ACCEPT)


def _code(body: bytes) -> str:
    return str(json.loads(body)["errors"][0]["code"])


async def _until_served(pullgate: Pullgate, reference: str) -> None:
    async with asyncio.timeout(RECOVERY):
        while (await _manifest(pullgate, reference))[0] != 200:
            await asyncio.sleep(0.1)


async def test_a_5xx_storm_is_retried_boundedly_then_the_circuit_opens_and_recovers(
    make_pullgate: MakePullgate, image_factory: ImageFactory
) -> None:
    known, fresh, elsewhere = image_factory.image(), image_factory.image(), image_factory.image()
    with FaultyRegistry() as stormy, FaultyRegistry() as calm:
        stormy.add("library/demo", known, "1")
        stormy.add("library/demo", fresh, "2")
        calm.add("library/demo", elsewhere, "1")
        pullgate = await make_pullgate(
            [upstream_entry(stormy), upstream_entry(calm, name="calm.example", default=False)],
            upstream_client=_client(),
            cache={"tag_ttl": 0},  # every pull of a tag asks the upstream: the worst case
        )
        assert (await _manifest(pullgate, "1"))[0] == 200
        layer = known.layer_digests[0]
        assert (await http_get(f"{pullgate.url}/v2/library/demo/blobs/{layer}"))[0] == 200

        stormy.inject("", Fault.storm((500, 502, 503)))
        stormy.log.clear()
        pulls = [_manifest(pullgate, "1") for _ in range(CLIENTS)] + [
            _manifest(pullgate, "2") for _ in range(CLIENTS)
        ]
        others = [_manifest(pullgate, "1", prefix="calm.example/") for _ in range(10)]
        results = await asyncio.gather(*pulls, *others)
        # The known tag is served stale; the tag never seen fails clearly; the other upstream
        # and cached content are untouched by the storm.
        for status, headers, body in results[:CLIENTS]:
            assert status == 200 and body == known.manifest_bytes and headers["Warning"].startswith("110 ")
        for status, _, body in results[CLIENTS : 2 * CLIENTS]:
            assert status == 502 and _code(body) == "UPSTREAM_ERROR"
        assert all(r[0] == 200 and r[2] == elsewhere.manifest_bytes for r in results[2 * CLIENTS :])
        assert (await http_get(f"{pullgate.url}/v2/library/demo/blobs/{layer}"))[0] == 200
        during, opened_by = stormy.count(), time.monotonic()
        assert 0 < during <= 2 * CLIENTS * (1 + RETRIES), "never more than 1 + retries per client request"

        # The breaker is open now: another wave costs the upstream nothing at all.
        status, _, body = await _manifest(pullgate, "2")
        assert status == 502 and "circuit open" in json.loads(body)["errors"][0]["message"]
        wave = await asyncio.gather(*(_manifest(pullgate, "1") for _ in range(CLIENTS)))
        assert all(status == 200 for status, _, _ in wave)
        # Nothing reached the upstream, but the one trial the breaker lets out once open_for
        # is over (a loaded machine can take that long over the wave).
        trials = 1 if time.monotonic() - opened_by >= OPEN_FOR else 0
        assert during <= stormy.count() <= during + trials
        assert (
            await pullgate.metric("pullgate_upstream_circuit_state", upstream=stormy.host, state="open") == 1
        )
        # (Clients asking for the same tag at once share one revalidation, so fewer than 51.)
        assert await pullgate.metric("pullgate_upstream_short_circuited", upstream=stormy.host) >= 2

        stormy.clear_faults()  # the storm ends: within open_for, a trial goes through and closes it
        await _until_served(pullgate, "2")
        status, headers, _ = await _manifest(pullgate, "1")
        assert status == 200 and "Warning" not in headers
        assert (
            await pullgate.metric("pullgate_upstream_circuit_state", upstream=stormy.host, state="closed")
            == 1
        )


async def test_without_a_breaker_each_client_request_costs_at_most_1_plus_retries(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> None:
    images: list[Image] = [image_factory.image() for _ in range(CLIENTS)]
    for image in images:
        faulty_registry.add("library/demo", image)
    pullgate = await make_pullgate([upstream_entry(faulty_registry)], upstream_client=_client(failures=0))
    faulty_registry.inject("", Fault.storm((503, 500, 502)))
    # Fifty different images at once: nothing to share, nothing short-circuited.
    results = await asyncio.gather(*(_manifest(pullgate, image.digest) for image in images))
    assert all(status == 502 and _code(body) == "UPSTREAM_ERROR" for status, _, body in results)
    for image in images:
        assert faulty_registry.count("GET", f"/manifests/{image.digest}") == 1 + RETRIES
    faulty_registry.clear_faults()
    status, _, body = await _manifest(pullgate, images[0].digest)
    assert status == 200 and body == images[0].manifest_bytes, "no restart needed"


@pytest.mark.parametrize("retry_after", [1, 60], ids=["short", "long"])
async def test_a_429_storm_is_honoured_passed_on_and_not_hammered(
    make_pullgate: MakePullgate,
    faulty_registry: FaultyRegistry,
    image_factory: ImageFactory,
    retry_after: int,
) -> None:
    known, fresh = image_factory.image(), image_factory.image()
    faulty_registry.add("library/demo", known, "1")
    faulty_registry.add("library/demo", fresh, "2")
    pullgate = await make_pullgate(
        [upstream_entry(faulty_registry)], upstream_client=_client(hold_max=2), cache={"tag_ttl": 0}
    )
    assert (await _manifest(pullgate, "1"))[0] == 200
    faulty_registry.inject("", Fault.too_many_requests(retry_after=retry_after))
    faulty_registry.log.clear()
    results = await asyncio.gather(*(_manifest(pullgate, fresh.digest) for _ in range(CLIENTS)))
    for status, headers, body in results:
        assert status == 429 and _code(body) == "TOOMANYREQUESTS"
        assert 0 <= int(headers["Retry-After"]) <= retry_after
    # A Retry-After within retry_after_max (2 s) is waited out, each attempt in turn; a longer
    # one is passed on at once. Either way the clients share the upstream's one answer, and
    # the pause it asked for (capped by hold_max) keeps everyone else from asking meanwhile.
    expected = 1 + RETRIES if retry_after <= 2 else 1
    assert faulty_registry.count() == expected, faulty_registry.log.entries
    before = faulty_registry.count()
    status, headers, _ = await _manifest(pullgate, "1")
    assert status == 200 and headers["Warning"].startswith("110 "), "a known tag is served stale"
    # Held by a long pause, its revalidation is not even sent; a short one is waited out,
    # within the same bound as any request.
    asked = faulty_registry.count() - before
    assert (asked == 0) if retry_after > 2 else (0 < asked <= 1 + RETRIES)
    faulty_registry.clear_faults()
    await _until_served(pullgate, "2")  # recovers once the pause (at most hold_max) is over
