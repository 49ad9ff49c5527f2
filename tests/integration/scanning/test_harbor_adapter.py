"""The Harbor scanner adapter client against an adapter speaking the protocol over HTTP.

The adapter (``tests.support.harbor_adapter``) pulls the manifest from a real
``docker-registry`` with the credential pullgate handed it, so a round trip proves the
scan request carried usable access, not just well-formed JSON.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from proxy.scanning.backends.base import ScannerError, ScanTarget
from proxy.scanning.backends.harbor import HarborAdapterBackend, HarborAdapterConfig
from proxy.scanning.model import Finding, Severity
from tests.support.fixtures import PushTo
from tests.support.harbor_adapter import VULN_1_1, Fault, HarborAdapter
from tests.support.images import DOCKER_MANIFEST, ImageFactory
from tests.support.registry import RunningRegistry

ADAPTER_TOKEN = "adapter-secret"
REPOSITORY = "team/app"


@pytest.fixture
def adapter() -> Iterator[HarborAdapter]:
    with HarborAdapter(authorization=f"Bearer {ADAPTER_TOKEN}") as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def client(adapter: HarborAdapter, session: aiohttp.ClientSession, **options: object) -> HarborAdapterBackend:
    settings: dict[str, object] = {"min_poll_interval": 0.0, "poll_interval": 0.01, "request_timeout": 5.0}
    settings.update(options)
    config = HarborAdapterConfig(name="trivy", url=adapter.url, bearer_token=ADAPTER_TOKEN, **settings)  # type: ignore[arg-type]
    return HarborAdapterBackend(config, session=session)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
async def pushed(
    upstream_registry: RunningRegistry, push_to: PushTo, image_factory: ImageFactory
) -> ScanTarget:
    image = image_factory.image()
    await push_to(upstream_registry, REPOSITORY, image)
    return ScanTarget(upstream_registry.url, REPOSITORY, image.digest, None, image.media_type)


async def test_a_full_round_trip_hands_over_usable_registry_access(
    adapter: HarborAdapter,
    session: aiohttp.ClientSession,
    htpasswd_registry: RunningRegistry,
    push_to: PushTo,
    image_factory: ImageFactory,
) -> None:
    image = image_factory.image()
    await push_to(htpasswd_registry, REPOSITORY, image)
    assert htpasswd_registry.credentials is not None
    authorization = basic(*htpasswd_registry.credentials)
    target = ScanTarget(htpasswd_registry.url, REPOSITORY, image.digest, authorization, image.media_type)

    report = await client(adapter, session).scan(target)

    (record,) = adapter.records
    assert (record.registry_url, record.authorization) == (htpasswd_registry.url, authorization)
    assert (record.repository, record.digest, record.mime_type) == (
        REPOSITORY,
        image.digest,
        image.media_type,
    )
    assert record.content_type == "application/vnd.scanner.adapter.scan.request+json; version=1.1"
    assert (record.manifest_status, record.manifest_verified) == (200, True)
    assert record.accepts == [VULN_1_1]
    assert report.scanner == "harbor:trivy"
    assert report.db_version == "Trivy 0.76.0, DB updated 2024-06-01T00:00:00Z"
    assert report.inventory is None
    assert report.findings == (
        Finding(
            vulnerability="CVE-2023-5678",
            aliases=(),
            package="libssl3",
            installed_version="3.0.11-1~deb12u2",
            ecosystem="",
            fixed_version="3.0.13-1~deb12u1",
            severity=Severity.MEDIUM,
            cvss_score=7.5,
            cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            summary="Generating excessively long X9.42 DH keys may be very slow.",
            layer="sha256:" + "77" * 32,
        ),
        Finding(
            vulnerability="CVE-2023-45853",
            aliases=(),
            package="zlib1g",
            installed_version="1:1.2.13.dfsg-1",
            ecosystem="",
            fixed_version=None,
            severity=Severity.CRITICAL,
            cvss_score=7.5,
            cvss_vector="AV:N/AC:L/Au:N/C:P/I:P/A:P",
            summary="MiniZip in zlib through 1.3 has an integer overflow.",
            layer="sha256:" + "77" * 32,
        ),
        Finding(
            vulnerability="CVE-2005-2541",
            aliases=(),
            package="tar",
            installed_version="1.34+dfsg-1.2",
            ecosystem="",
            fixed_version=None,
            severity=Severity.LOW,  # Negligible
            summary="Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files.",
        ),
    )


async def test_an_adapter_that_cannot_pull_fails_the_scan(
    adapter: HarborAdapter,
    session: aiohttp.ClientSession,
    htpasswd_registry: RunningRegistry,
    push_to: PushTo,
    image_factory: ImageFactory,
) -> None:
    image = image_factory.image()
    await push_to(htpasswd_registry, REPOSITORY, image)
    target = ScanTarget(
        htpasswd_registry.url, REPOSITORY, image.digest, basic("alice", "nope"), image.media_type
    )

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session).scan(target)

    assert adapter.records[0].manifest_status == 401
    assert caught.value.temporary is True  # the spec's 500: the scan job failed
    assert "registry answered 401" in caught.value.message
    assert "nope" not in caught.value.message


async def test_a_clean_image_is_a_clean_report(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.vulnerabilities = ()

    report = await client(adapter, session).scan(pushed)

    assert report.findings == ()


async def test_polling_honours_refresh_after(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.pending_polls, adapter.refresh_after = 2, "1"
    started = time.monotonic()

    report = await client(adapter, session).scan(pushed)

    assert time.monotonic() - started >= 1.9
    assert adapter.records[0].polls == 3
    assert len(report.findings) == 3


async def test_refresh_after_is_bounded(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.pending_polls, adapter.refresh_after = 2, "3600"
    started = time.monotonic()

    await client(adapter, session, max_poll_interval=0.2).scan(pushed)

    assert time.monotonic() - started < 3


async def test_a_302_without_refresh_after_uses_the_default_interval(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.pending_polls, adapter.refresh_after = 3, None

    await client(adapter, session, poll_interval=0.05).scan(pushed)

    assert adapter.records[0].polls == 4


async def test_the_deadline_ends_a_scan_that_never_finishes(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.pending_polls = 10**9
    started = time.monotonic()

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session, deadline=0.5).scan(pushed)

    assert time.monotonic() - started < 3
    assert caught.value.temporary is True
    assert "deadline" in caught.value.message


async def test_a_request_that_stalls_times_out(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.report_fault = "stall"

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session, request_timeout=0.3).scan(pushed)

    assert caught.value.temporary is True
    assert "report" in caught.value.message


@pytest.mark.parametrize(
    ("endpoint", "fault", "temporary", "message"),
    [
        ("metadata", "error", True, "metadata answered HTTP 500: injected error"),
        ("metadata", "garbage", False, "metadata is garbled"),
        ("scan", "bad-request", False, "scan request answered HTTP 400: injected bad-request"),
        ("scan", "error", True, "scan request answered HTTP 500"),
        ("scan", "not-implemented", False, "scan request answered HTTP 501"),
        ("scan", "garbage", False, "scan response is garbled"),
        ("report", "unknown-id", True, "does not know scan"),
        ("report", "error", True, "scan failed: injected error"),
        ("report", "bad-request", False, "report answered HTTP 400"),
        ("report", "garbage", False, "report is garbled"),
    ],
)
async def test_each_error_mode_is_classified(
    adapter: HarborAdapter,
    session: aiohttp.ClientSession,
    pushed: ScanTarget,
    endpoint: str,
    fault: Fault,
    temporary: bool,
    message: str,
) -> None:
    setattr(adapter, f"{endpoint}_fault", fault)

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session).scan(pushed)

    assert caught.value.temporary is temporary
    assert message in caught.value.message
    assert caught.value.message.startswith("harbor:trivy: ")


async def test_a_report_for_another_artifact_is_refused(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.report_digest = "sha256:" + "00" * 32

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session).scan(pushed)

    assert caught.value.temporary is False
    assert "is for sha256:0000" in caught.value.message


async def test_wrong_adapter_credentials_are_permanent(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    config = HarborAdapterConfig(name="trivy", url=adapter.url, username="harbor", password="wrong")

    with pytest.raises(ScannerError) as caught:
        await HarborAdapterBackend(config, session=session).scan(pushed)

    assert caught.value.temporary is False
    assert "HTTP 401" in caught.value.message
    assert adapter.refused == [401]


async def test_an_artifact_the_adapter_cannot_read_is_not_submitted(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.consumes = (DOCKER_MANIFEST,)

    with pytest.raises(ScannerError) as caught:
        await client(adapter, session).scan(pushed)

    assert caught.value.temporary is False
    assert "no supported report" in caught.value.message
    assert adapter.records == []


async def test_an_adapter_with_only_raw_reports_is_refused(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.produces = ("application/vnd.scanner.adapter.vuln.report.raw",)

    with pytest.raises(ScannerError, match="no supported report"):
        await client(adapter, session).scan(pushed)


async def test_the_older_harbor_report_type_is_used_when_it_is_the_only_one(
    adapter: HarborAdapter, session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    adapter.produces = ("application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",)

    report = await client(adapter, session).scan(pushed)

    assert adapter.records[0].accepts == [
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
    ]
    assert len(report.findings) == 3


async def test_an_unreachable_adapter_is_temporary(
    session: aiohttp.ClientSession, pushed: ScanTarget
) -> None:
    config = HarborAdapterConfig(name="gone", url="http://127.0.0.1:1", request_timeout=2)

    with pytest.raises(ScannerError) as caught:
        await HarborAdapterBackend(config, session=session).scan(pushed)

    assert caught.value.temporary is True
    assert "metadata" in caught.value.message


async def test_metadata_describes_the_adapter(adapter: HarborAdapter, session: aiohttp.ClientSession) -> None:
    info = await client(adapter, session).metadata()

    assert info["name"] == "harbor:trivy"
    assert (info["scanner"], info["vendor"], info["version"]) == ("Trivy", "Aqua Security", "0.76.0")
    assert info["db_updated_at"] == "2024-06-01T00:00:00Z"
    assert isinstance(info["db_age_seconds"], int)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"registry": "http://x", "artifact": {}}', 400),
        (
            b'{"registry": {"url": "ftp://x"}, "artifact": {"repository": "a", "digest": "sha256:'
            + b"0" * 64
            + b'"}}',
            422,
        ),
        (b'{"registry": {"url": "http://x"}, "artifact": {"repository": "a", "digest": "latest"}}', 422),
        (
            b'{"registry": {"url": "http://x"}, "artifact": {"repository": "a", "digest": "sha256:'
            + b"0" * 64
            + b'", "mime_type": "application/vnd.oci.image.index.v1+json"}}',
            501,
        ),
    ],
)
async def test_the_adapter_validates_scan_requests_as_the_spec_says(
    adapter: HarborAdapter, session: aiohttp.ClientSession, body: bytes, status: int
) -> None:
    """The fake is only worth testing against if it refuses what a real adapter refuses."""
    headers = {"Authorization": f"Bearer {ADAPTER_TOKEN}", "Content-Type": "application/json"}
    async with session.post(f"{adapter.url}/api/v1/scan", data=body, headers=headers) as response:
        assert response.status == status
        assert "message" in (await response.json(content_type=None))["error"]
    async with session.get(f"{adapter.url}/api/v1/scan/unknown/report", headers=headers) as response:
        assert response.status == 404
