"""The OpenAPI document is valid OpenAPI 3.1, lists exactly the routes served, and every
operation's real answer matches it (the client checks each answer against the document)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from openapi_spec_validator import validate

from proxy.api.admin.openapi import openapi_path
from proxy.secrets import generate_key as generate_secrets_key
from tests.integration.admin.conftest import MakeWorld
from tests.support.cosign import generate_key, public_pem

POLICY = """
default_action: allow
rules:
  - {id: hold, match: {repository: "library/held"}, action: quarantine}
vulnerability_policies:
  - {id: scanned, match: {repository: "library/ok"}, max_severity: high, hold_seconds: 20}
"""


async def test_document_is_valid_and_lists_every_route(make_world: MakeWorld) -> None:
    world = await make_world()
    document = world.admin.openapi.document
    validate(document)  # the OpenAPI 3.1 meta-schema
    app: web.Application = world.pullgate.server.app
    served = {
        (route.method, openapi_path(route.resource.canonical.removeprefix("/api/v1")))
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/v1/")
    }
    assert served == world.admin.openapi.operations()


async def test_every_operation_answers_as_documented(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(POLICY, secrets={"keys": generate_secrets_key("k1")})
    api = world.admin
    image = await world.push("library/held", "1")
    ok = await world.push("library/ok", "1")
    assert (await world.pull("library/ok", "1")).status == 200
    denied = await world.pull("library/held", "1")
    decision_id = denied.error["detail"]["decision_id"]

    await api.get("/openapi.json")
    await api.get("/rules")
    await api.post("/rules", {"id": "extra", "match": {"repository": "x/*"}, "action": "deny"})
    await api.get("/rules/extra")
    await api.put("/rules/extra", {"id": "extra", "action": "allow"}, headers={"If-Match": '"1"'})
    await api.delete("/rules/extra")
    await api.get("/policy")
    await api.request("GET", "/policy", headers={"Accept": "application/yaml"})
    await api.put(
        "/policy",
        {
            "default_action": "allow",
            "rules": [{"id": "hold", "match": {"repository": "library/held"}, "action": "quarantine"}],
        },
    )
    await api.put("/policy/default-action", {"default_action": "allow"})
    await api.post("/decisions/dry-run", {"repository": "library/ok", "tag": "1"})
    await api.get(f"/decisions/{decision_id}")
    await api.get("/images")
    await api.get(f"/images/{image.digest}")
    entries = (await api.get("/quarantine")).json["items"]
    await api.get(f"/quarantine/{entries[0]['id']}")
    await api.post(f"/quarantine/{entries[0]['id']}/release", {"reason": "ok"})
    await api.post(f"/quarantine/{entries[0]['id']}/reject", {"reason": "not ok"})
    await world.audited(2, kind="pull")
    await api.get("/audit")
    await api.get("/audit/pulls", digest=image.digest)
    await api.get("/upstreams")
    await api.get("/cache")
    await api.post("/cache/purge", {"target_bytes": 0})
    await api.get("/tokens")
    token = (await api.post("/tokens", {"name": "temp", "role": "auditor"})).json
    await api.delete(f"/tokens/{token['id']}")
    await api.get("/robots")
    scopes = [{"registry": "*", "repository": "team/**"}]
    await api.post("/robots", {"name": "ci", "owner": "platform", "scopes": scopes})
    await api.get("/robots/ci")
    await api.post("/robots/ci/secret", None)
    await api.delete("/robots/ci")
    key = {"kind": "public_key", "content": public_pem(generate_key())}
    await api.put("/trust/ci-key", key)
    await api.put("/trust/ci-key", key)  # unchanged: 200
    await api.get("/trust")
    await api.get("/trust/ci-key")
    await api.delete("/trust/ci-key")
    credentials = f"/upstreams/{world.upstream_name}/credentials"
    await api.put(credentials, {"username": "robot", "password": "not-needed-here"})
    await api.put(credentials, {"username": "robot", "password": "replaced"})  # 200
    await api.get(credentials)
    await api.delete(credentials)
    # library/ok was pulled above under a vulnerability policy, so it was scanned (held until then).
    await api.get(f"/scans/{ok.digest}")
    await api.post(f"/scans/{ok.digest}/rescan", {"image": f"{world.upstream_name}/library/ok"})
    await api.get("/vulnerabilities/CVE-2024-0001/images")
    await api.get(f"/images/{ok.digest}/sbom")
    await api.get(f"/images/{ok.digest}/contents")
    await api.get(f"/images/{ok.digest}/signatures")
    await api.get(f"/images/{ok.digest}/vulnerabilities")
    await api.get("/vulndb")
    await api.get("/whoami")
    await api.get("/stats/pulls")
    await api.get("/stats/denials")
    # And the error envelope, through a few doors.
    await api.get("/rules/none")
    await api.post("/rules", {"bogus": True})
    await world.anonymous.get("/cache")

    succeeded = {(method, path) for method, path, status in api.openapi.seen if status < 300}
    assert succeeded == api.openapi.operations()
    assert {status for _, _, status in api.openapi.seen} >= {200, 201, 401, 404, 422}
