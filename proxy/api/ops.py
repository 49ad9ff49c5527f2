"""Operations endpoints: liveness, readiness (database and storage reachable), Prometheus."""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxy.api.context import SERVICES

__all__ = ["routes"]

routes = web.RouteTableDef()
_PROBE_TIMEOUT = 5.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    for name, probe in request.app[SERVICES].readiness.items():
        try:
            await asyncio.wait_for(probe(), _PROBE_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            checks[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
