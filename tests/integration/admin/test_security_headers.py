"""The admin API's answers, errors included, tell a browser to render, frame, sniff, cache
and refer nothing; the registry API's answers are left as container runtimes expect them."""

from __future__ import annotations

from tests.integration.admin.client import Answer
from tests.integration.admin.conftest import World

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _secured(answer: Answer) -> None:
    for name, value in EXPECTED.items():
        assert answer.headers.get(name) == value, (answer.status, name)
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP here: see test_tls


async def test_admin_answers_carry_security_headers_and_registry_answers_do_not(world: World) -> None:
    answers = [
        await world.admin.get("/rules"),  # success
        await world.anonymous.get("/rules"),  # 401
        await world.admin.get("/rules/missing"),  # 404 from the service
        await world.admin.request("GET", "/no/such/operation", check=False),  # 404 from the router
        await world.admin.post("/rules", {"id": "bad id"}),  # 422
        await world.admin.get("/openapi.json"),  # public
    ]
    assert [a.status for a in answers] == [200, 401, 404, 404, 422, 200]
    for answer in answers:
        _secured(answer)
    image = await world.push("library/demo", "1")
    pull = await world.pull("library/demo", "1")
    assert pull.status == 200 and pull.body == image.manifest_bytes
    denied = await world.pull("library/demo", "missing")
    for registry_answer in (pull, denied):
        assert not set(EXPECTED) & set(registry_answer.headers), registry_answer.headers
