"""The admin HTTP API (`/api/v1`, JSON): thin handlers over `proxy.gate.admin.AdminService`.

`setup(app)` mounts every operation and the OpenAPI document; `MIDDLEWARES` must be in the
application's middleware list (after the registry's error renderer, so that they run
inside it): the admin error renderer first, then authentication. Both pass every
non-admin request straight through.
"""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin import (
    audit,
    credentials,
    decisions,
    images,
    inspect,
    policy,
    quarantine,
    robots,
    rules,
    scans,
    stats,
    system,
    trust,
    whoami,
)
from proxy.api.admin.auth import authenticate
from proxy.api.admin.errors import PREFIX, errors
from proxy.api.admin.openapi import OPENAPI, build_document, serve
from proxy.api.admin.operation import Operation, Reply

__all__ = ["MIDDLEWARES", "OPERATIONS", "setup"]

MIDDLEWARES = (errors, authenticate)

OPERATIONS: tuple[Operation, ...] = (
    *rules.OPERATIONS,
    *policy.OPERATIONS,
    *decisions.OPERATIONS,
    *images.OPERATIONS,
    *quarantine.OPERATIONS,
    *audit.OPERATIONS,
    *system.OPERATIONS,
    *credentials.OPERATIONS,
    *trust.OPERATIONS,
    *scans.OPERATIONS,
    *inspect.OPERATIONS,
    *stats.OPERATIONS,
    *whoami.OPERATIONS,
    *robots.OPERATIONS,
    Operation(
        "GET",
        "/openapi.json",
        serve,
        "This document (no token needed)",
        "meta",
        {200: Reply("the OpenAPI 3.1 document")},
        public=True,
    ),
)


def setup(app: web.Application) -> None:
    for operation in OPERATIONS:
        app.router.add_route(operation.method, PREFIX + operation.path, operation.handler)
    app[OPENAPI] = build_document(OPERATIONS)
