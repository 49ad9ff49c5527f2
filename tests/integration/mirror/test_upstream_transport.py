"""Upstream transport faults over real sockets: a slow trickle, TCP resets at each point of
an answer, certificates a client must refuse, and a host name that does not resolve.

For each fault: what the client sees, what is stored (nothing bad), what is kept (nothing
good lost) and what the upstream saw (counted at the fake). These faults are not about the
database, so the tests run on SQLite only; the database outage tests cover both backends.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.faulty import Fault, FaultyRegistry, ResetPoint
from tests.support.http import http_get
from tests.support.images import Image, ImageFactory
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.push import MANIFEST_ACCEPT
from tests.support.tls import TestCA, server_context

pytestmark = pytest.mark.parametrize("app_database", ["sqlite"], indirect=True)

CLIENT = {"retries": 2, "backoff_initial": 0.01, "read_timeout": 0.5, "connect_timeout": 5}


def _stored(pullgate: Pullgate) -> set[str]:
    return {p.name for p in (pullgate.store_root / "blobs").rglob("*") if p.is_file()}


def _spooled(pullgate: Pullgate) -> list[Path]:
    return list((pullgate.store_root / "_uploads").iterdir())


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


async def _manifest(
    pullgate: Pullgate, reference: str, prefix: str = ""
) -> tuple[int, dict[str, str], bytes]:
    return await http_get(
        f"{pullgate.url}/v2/{prefix}library/demo/manifests/{reference}", Accept=MANIFEST_ACCEPT
    )


async def _blob(pullgate: Pullgate, digest: str) -> tuple[int, bytes]:
    status, _, body = await http_get(f"{pullgate.url}/v2/library/demo/blobs/{digest}")
    return status, body


def _error(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["errors"][0]
    return error


# -- slow trickle -------------------------------------------------------------------------


async def test_a_slow_trickle_is_followed_to_the_end_shared_and_slows_nobody_else(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> None:
    slow, other = image_factory.image(12 * 1024), image_factory.image(4096)
    faulty_registry.add("library/demo", slow, "slow")
    faulty_registry.add("library/demo", other, "other")
    pullgate = await make_pullgate([upstream_entry(faulty_registry)], upstream_client=CLIENT)
    layer = slow.layer_digests[0]
    # Never silent for longer than 0.1 s, but 12 KiB take ~2.4 s: several read_timeouts.
    faulty_registry.inject(layer, Fault.trickle(piece=512, interval=0.1))
    faulty_registry.inject(f"/manifests/{slow.digest}", Fault.trickle(piece=64, interval=0.1))
    status, _, body = await _manifest(pullgate, slow.digest)
    assert status == 200 and body == slow.manifest_bytes, "a trickled manifest arrives whole"

    readers = [asyncio.create_task(_blob(pullgate, layer)) for _ in range(5)]
    await asyncio.sleep(0.3)  # let the fill start; the readers are following it
    # Meanwhile other work is not held up behind the slow fill: it finishes first.
    status, _, body = await _manifest(pullgate, "other")
    assert status == 200 and body == other.manifest_bytes
    assert await _blob(pullgate, other.layer_digests[0]) == (200, other.all_blobs[other.layer_digests[0]])
    assert not all(reader.done() for reader in readers), "the trickle was still under way"

    results = await asyncio.gather(*readers)
    assert results == [(200, slow.all_blobs[layer])] * 5
    assert faulty_registry.count("GET", layer) == 1, "five clients, one fill"
    await pullgate.fills_done()
    assert _hex(layer) in _stored(pullgate) and _spooled(pullgate) == []


# -- connection resets --------------------------------------------------------------------


@pytest.fixture
async def reset_setup(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> tuple[Pullgate, FaultyRegistry, Image]:
    image = image_factory.image(256 * 1024)
    faulty_registry.add("library/demo", image, "1")
    pullgate = await make_pullgate([upstream_entry(faulty_registry)], upstream_client=CLIENT)
    assert (await _manifest(pullgate, image.digest))[0] == 200  # blobs are served for an allowed image
    return pullgate, faulty_registry, image


@pytest.mark.parametrize("at", list(ResetPoint))
async def test_a_manifest_reset_at_any_point_is_retried_then_answers_502(reset_setup, at: ResetPoint) -> None:
    pullgate, faulty, _image = reset_setup
    faulty.inject("/manifests/1", Fault.reset(at))
    status, _, body = await _manifest(pullgate, "1")
    error = _error(body)
    assert status == 502 and error["code"] == "UPSTREAM_ERROR" and faulty.host in error["message"]
    # Nothing was handed on, so every attempt is retried: one try and two retries. A reset
    # before the status line is also retried once, at once, by aiohttp itself (RFC 9112
    # 9.3.1: an idempotent request on a connection that closed), which is what a stale
    # keep-alive connection needs; it never multiplies further.
    per_attempt = 2 if at is ResetPoint.BEFORE_STATUS else 1
    assert faulty.count("GET", "/manifests/1") == (1 + CLIENT["retries"]) * per_attempt
    faulty.clear_faults()
    assert (await _manifest(pullgate, "1"))[0] == 200, "the next pull works"


@pytest.mark.parametrize("at", [ResetPoint.BEFORE_STATUS, ResetPoint.AFTER_HEADERS])
async def test_a_blob_reset_before_any_body_byte_is_retried_unnoticed(reset_setup, at: ResetPoint) -> None:
    pullgate, faulty, image = reset_setup
    layer = image.layer_digests[0]
    faulty.inject(layer, Fault.reset(at, times=1))
    assert await _blob(pullgate, layer) == (200, image.all_blobs[layer])
    assert faulty.count("GET", layer) == 2  # the failed attempt and its retry (aiohttp's or ours)
    await pullgate.fills_done()
    assert _hex(layer) in _stored(pullgate)


async def test_a_blob_reset_mid_body_cuts_the_client_and_stores_nothing(reset_setup) -> None:
    pullgate, faulty, image = reset_setup
    layer = image.layer_digests[0]
    faulty.inject(layer, Fault.reset(ResetPoint.MID_BODY, times=1))
    received = 0
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(f"{pullgate.url}/v2/library/demo/blobs/{layer}") as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_any():
                    received += len(chunk)
    assert received < len(image.all_blobs[layer]), "never a complete-looking body"
    # Bytes had already gone to the client: not retried behind its back.
    assert faulty.count("GET", layer) == 1
    await asyncio.sleep(0.1)  # the fill's clean-up runs after the client was cut
    await pullgate.fills_done()
    assert _hex(layer) not in _stored(pullgate) and _spooled(pullgate) == []
    assert await _blob(pullgate, layer) == (200, image.all_blobs[layer]), "the next pull works"


# -- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate", "trust_ca", "problem"),
    [
        ("good", False, "TLS certificate not trusted (unable to get local issuer certificate)"),
        ("wrong-host", True, "TLS certificate not trusted (IP address mismatch, certificate is not valid"),
        ("expired", True, "TLS certificate not trusted (certificate has expired)"),
    ],
)
async def test_a_certificate_the_client_must_refuse_answers_502_and_stores_nothing(
    make_pullgate: MakePullgate,
    image_factory: ImageFactory,
    tmp_path: Path,
    certificate: str,
    trust_ca: bool,
    problem: str,
) -> None:
    ca = TestCA(tmp_path / "tls")
    leaf = {
        "good": ca.issue("good"),
        "wrong-host": ca.issue("wrong", host="registry.example"),
        "expired": ca.issue("expired", expired=True),
    }[certificate]
    image = image_factory.image()
    with FaultyRegistry(ssl=server_context(leaf)) as registry:
        registry.add("library/demo", image, "1")
        tls = {"ca_file": str(ca.ca_file)} if trust_ca else {}
        pullgate = await make_pullgate([upstream_entry(registry, tls=tls)], upstream_client=CLIENT)
        status, _, body = await _manifest(pullgate, "1")
        error = _error(body)
        assert status == 502 and error["code"] == "UPSTREAM_ERROR", body
        assert registry.host in error["message"] and problem in error["message"], error["message"]
        assert registry.count() == 0, "the handshake failed: no request reached the upstream"
    await pullgate.fills_done()
    assert _stored(pullgate) == set()


async def test_with_its_ca_trusted_a_tls_upstream_serves(
    make_pullgate: MakePullgate, image_factory: ImageFactory, tmp_path: Path
) -> None:
    ca = TestCA(tmp_path / "tls")
    image = image_factory.image()
    with FaultyRegistry(ssl=server_context(ca.issue("good"))) as registry:
        registry.add("library/demo", image, "1")
        assert registry.url.startswith("https://")
        entry = upstream_entry(registry, tls={"ca_file": str(ca.ca_file)})
        pullgate = await make_pullgate([entry], upstream_client=CLIENT)
        status, _, body = await _manifest(pullgate, "1")
        assert status == 200 and body == image.manifest_bytes
        layer = image.layer_digests[0]
        assert await _blob(pullgate, layer) == (200, image.all_blobs[layer])


# -- DNS ----------------------------------------------------------------------------------


async def test_an_upstream_whose_name_does_not_resolve_fails_alone(
    make_pullgate: MakePullgate, faulty_registry: FaultyRegistry, image_factory: ImageFactory
) -> None:
    image = image_factory.image()
    faulty_registry.add("library/demo", image, "1")
    broken = upstream_entry("http://registry.invalid:5000", name="broken.invalid", default=False)
    pullgate = await make_pullgate([upstream_entry(faulty_registry), broken], upstream_client=CLIENT)
    # Five different tags: five lookups of their own (the same tag would share one).
    through_broken = [_manifest(pullgate, f"t{n}", prefix="broken.invalid/") for n in range(5)]
    through_good = [_manifest(pullgate, "1") for _ in range(5)]
    results = await asyncio.gather(*through_broken, *through_good)
    for status, _, body in results[:5]:
        error = _error(body)
        assert status == 502 and error["code"] == "UPSTREAM_ERROR"
        assert (
            "broken.invalid" in error["message"]
            and "cannot resolve host registry.invalid" in error["message"]
        )
    assert [(status, body) for status, _, body in results[5:]] == [(200, image.manifest_bytes)] * 5
    # An upstream outage is not a readiness failure: pullgate still serves what it can.
    assert (await http_get(f"{pullgate.url}/readyz"))[0] == 200
    listed = await _upstreams(pullgate)
    assert (
        listed[faulty_registry.host]["healthy"]
        and listed[faulty_registry.host]["circuit"]["state"] == "closed"
    )
    dead = listed["broken.invalid"]
    assert not dead["healthy"] and "cannot resolve host registry.invalid" in dead["error"]
    # Five failed attempts in a row opened the breaker; what came after was not even tried.
    assert dead["circuit"]["state"] == "open" and dead["circuit"]["opened"] == 1
    assert dead["circuit"]["rejected"] >= 1 and "cannot resolve" in dead["circuit"]["last_error"]
    assert (
        await pullgate.metric("pullgate_upstream_circuit_state", upstream="broken.invalid", state="open") == 1
    )
    assert (
        await pullgate.metric(
            "pullgate_upstream_circuit_state", upstream=faulty_registry.host, state="closed"
        )
        == 1
    )


async def _upstreams(pullgate: Pullgate) -> dict[str, dict[str, Any]]:
    _, token = await pullgate.services.stores.tokens.create_token("faults", "admin")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{pullgate.url}/api/v1/upstreams", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        assert resp.status == 200
        return {item["name"]: item for item in (await resp.json())["items"]}
