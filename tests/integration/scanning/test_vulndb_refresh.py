"""The scheduled vulnerability-database refresh: from a path and from an http URL, a bad
source logged and skipped, and a refresh that changes nothing moving no version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from db.session import create_engine, session_factory
from db.vulndb_queries import VulnStore
from proxy.gate.scans.refresh import VulnDbRefresher
from proxy.scan_settings import ScanningSettings
from tests.support.osv import debian_openssl_cve_2023_5678, requests_proxy_auth_leak, write_all_zip


async def test_sources_from_paths_and_urls(
    migrated_database_url: str, aiohttp_server: Any, tmp_path: Path
) -> None:
    local = write_all_zip(tmp_path / "debian.zip", [debian_openssl_cve_2023_5678()])
    served = write_all_zip(tmp_path / "pypi.zip", [requests_proxy_auth_leak()])

    async def archive(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(served)

    app = web.Application()
    app.router.add_get("/pypi/all.zip", archive)
    server = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/pypi/all.zip"
    settings = ScanningSettings(vulndb_sources=(str(local), url, str(tmp_path / "missing.zip"), f"{url}.404"))
    engine = create_engine(migrated_database_url, pool_size=2)
    try:
        store = VulnStore(session_factory(engine))
        refresher = VulnDbRefresher(settings, store)
        assert await refresher.refresh() == 2  # the missing file and the 404 are skipped
        state = await store.state()
        assert state.records == 2 and state.version >= 1
        assert await refresher.refresh() == 2
        assert (await store.state()).version == state.version  # nothing new: no new version
    finally:
        await engine.dispose()
