"""The console's files as pullgate serves them: from the package, with the strict security
headers on every answer under /ui, switched off with the admin API or `ui.enabled: false`;
and the denial's link to the decision's console page when `ui.public_url` is set."""

from __future__ import annotations

import aiohttp
from multidict import CIMultiDict

from proxy.api.ui import SECURITY_HEADERS
from tests.integration.admin.conftest import MakeWorld
from tests.support.pullgate import MakePullgate, Pullgate, upstream_entry
from tests.support.registry import RunningRegistry

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def _get(
    pullgate: Pullgate, path: str, method: str = "GET", **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, pullgate.url + path, headers=headers, allow_redirects=False) as resp,
    ):
        return resp.status, resp.headers.copy(), await resp.read()


def _secured(headers: CIMultiDict[str]) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in headers


async def test_files_are_served_with_strict_headers(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> None:
    assert SECURITY_HEADERS["Content-Security-Policy"] == CSP
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    status, headers, _ = await _get(pullgate, "/ui")
    assert (status, headers["Location"]) == (308, "/ui/")
    _secured(headers)

    status, headers, body = await _get(pullgate, "/ui/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="app.js"></script>' in body
    _secured(headers)
    status, headers, body = await _get(pullgate, "/ui/pages/overview.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"export async function render" in body
    _secured(headers)
    again, cached, empty = await _get(pullgate, "/ui/pages/overview.js", **{"If-None-Match": headers["ETag"]})
    assert (again, empty) == (304, b"")
    _secured(cached)
    status, headers, _ = await _get(pullgate, "/ui/app.css", "HEAD")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"


async def test_errors_under_ui_are_secured_too(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> None:
    pullgate = await make_pullgate([upstream_entry(upstream_registry)])
    for path in ("/ui/nothing.js", "/ui/pages/", "/ui/pages/nothing.js", "/ui/index.html.bak"):
        status, headers, body = await _get(pullgate, path)
        assert status == 404, path
        assert b"openapi" not in body
        _secured(headers)
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = await _get(pullgate, "/ui/", method)
        assert (status, headers["Allow"]) == (405, "GET, HEAD")
        _secured(headers)


async def test_the_console_can_be_switched_off(
    make_pullgate: MakePullgate, upstream_registry: RunningRegistry
) -> None:
    upstreams = [upstream_entry(upstream_registry)]
    for overrides in ({"ui": {"enabled": False}}, {"admin": {"enabled": False}}):
        pullgate = await make_pullgate(upstreams, policy=None, **overrides)
        status, headers, _ = await _get(pullgate, "/ui/")
        assert status == 404, overrides
        assert "Content-Security-Policy" not in headers
    with_api = await make_pullgate(upstreams, policy=None, ui={"enabled": False})
    assert (await _get(with_api, "/api/v1/openapi.json"))[0] == 200  # the API stays


async def test_a_denial_links_to_its_decision_page(make_world: MakeWorld) -> None:
    policy = """
default_action: allow
rules:
  - {id: no-bad, match: {repository: "bad/*"}, action: deny}
"""
    world = await make_world(policy, ui={"public_url": "https://pullgate.example.com/"})
    await world.push("bad/app", "1")
    denied = await world.pull("bad/app", "1")
    assert denied.status == 403
    detail = denied.error["detail"]
    url = f"https://pullgate.example.com/ui/#/decisions/{detail['decision_id']}"
    assert detail["decision_url"] == url
    assert denied.error["message"].endswith(f"(decision {detail['decision_id']}, {url})")

    plain = await make_world(policy)
    await plain.push("bad/app", "1")
    refused = await plain.pull("bad/app", "1")
    assert "decision_url" not in refused.error["detail"]
    assert refused.error["message"].endswith(f"(decision {refused.error['detail']['decision_id']})")
