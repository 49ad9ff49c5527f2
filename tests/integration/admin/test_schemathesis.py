"""Schemathesis against the admin API's own OpenAPI 3.1 document: generated calls, valid
(positive) and invalid (negative), for every operation the served document lists, so new
operations are covered as soon as they are documented.

Every answer must be documented: no 5xx, a status code listed for that operation, the
documented content type and schema, the documented headers; and a call with invalid data
must be refused with a 4xx. Failures are collected rather than raised (no shrinking, so the
run keeps its time budget) and reported together, each with a curl command to reproduce it.

The calls run in a worker thread (schemathesis speaks `requests`), while pullgate serves them
on the test's event loop. Destructive operations are safe: the app is fresh for the run, and
if a generated call ever revokes the run's own token a new one is made, so the rest of the
run still means something.

``SCHEMATHESIS_EXAMPLES`` (default 20) sets the examples per operation and mode: the suite's
budget; a campaign sets it high (see docs/testing.md).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.admin.conftest import MakeWorld, World
from tests.support.cosign import generate_key, public_pem

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Invalid data is refused with a documented 4xx, a precondition (412, 428) being one: RFC 9110
# §13.2.1 evaluates If-Match before the request content is processed.
REFUSALS = [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 428]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)
POLICY = """
default_action: allow
rules:
  - {id: hold, match: {repository: "library/held"}, action: quarantine}
"""


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    """SQLite only: the HTTP contract is under test here, and the admin tests cover PostgreSQL."""
    return sqlite_url


@dataclass
class Run:
    base_url: str
    token: str
    renew: Callable[[], str]
    calls: dict[str, int] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    renewed: int = 0
    parser_refusals: int = 0
    vanished: int = 0

    def call(self, case: schemathesis.Case, mode: GenerationMode) -> None:
        if mode is GenerationMode.NEGATIVE and _vanishes_on_the_wire(case):
            self.vanished += 1
            return
        headers = {"Authorization": f"Bearer {self.token}"}
        response = case.call(base_url=self.base_url, headers=headers, timeout=30)
        label = f"{case.operation.label} [{mode.value}]"
        self.calls[label] = self.calls.get(label, 0) + 1
        self.statuses[(mode.value, response.status_code)] += 1
        if mode is GenerationMode.NEGATIVE and _refused_by_the_http_parser(response):
            self.parser_refusals += 1
            return
        checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # failed checks: collected, reported at the end
            found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
            key = (label, " + ".join(sorted(getattr(f, "title", type(f).__name__) for f in found)))
            self.failures.setdefault(key, f"{label}: HTTP {response.status_code}\n{exc}")
        if case.operation.method.upper() == "DELETE" and not self._token_works():
            self.token = self.renew()  # a generated call revoked our own token
            self.renewed += 1

    def _token_works(self) -> bool:
        answer = requests.get(
            f"{self.base_url}/cache", headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        return answer.status_code != 401


def _vanishes_on_the_wire(case: schemathesis.Case) -> bool:
    """A query parameter whose value is an empty list or object is not sent at all (requests
    drops it), so the request that reaches pullgate is not the invalid one generated: the
    campaign saw ``?client=0`` "accepted" for an unknown parameter ``'': []``."""
    return any(value in ([], {}) for value in (case.query or {}).values())


def _refused_by_the_http_parser(response: schemathesis.Response) -> bool:
    """aiohttp's own 400 for a request line or header past its 8190-byte limit, sent before
    any of pullgate runs: only an invalid request (longer than the document allows) gets it."""
    return (
        response.status_code == 400
        and response.headers.get("content-type", [""])[0].startswith("text/plain")
        and response.text.startswith("Got more than 8190 bytes")
    )


def _exercise(run: Run, document: dict[str, Any], known: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_dict(document, config=CONFIG)
    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (positive, negative):
            try:
                _examples(
                    operation.as_strategy(generation_mode=mode), lambda case, mode=mode: run.call(case, mode)
                )
            except Unsatisfiable:  # nothing to make invalid: no parameter, no body, no header
                assert mode is negative, operation.label
        # Generated ids name nothing: once more with ids of real resources, so the answers
        # about something (200s, 409s of the review state machine) are checked too.
        names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"]
        if names and all(f"{operation.path} {name}" in known for name in names):
            fixed = {name: known[f"{operation.path} {name}"] for name in names}
            strategy = operation.as_strategy(generation_mode=positive, path_parameters=fixed)
            _examples(strategy, lambda case: run.call(case, positive))


def _examples(strategy: Any, test: Callable[[schemathesis.Case], None]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def examples(case: schemathesis.Case) -> None:
        test(case)

    examples()


async def _renewer(world: World) -> Callable[[], str]:
    loop = asyncio.get_running_loop()
    tokens = world.pullgate.services.stores.tokens

    def renew() -> str:
        created = asyncio.run_coroutine_threadsafe(tokens.create_token("schemathesis", "admin"), loop)
        return created.result(timeout=30)[1]

    return renew


async def _resources(world: World) -> dict[str, str]:
    """Real ids for the path parameters ("<path template> <parameter>"): an allowed image, a
    quarantined one with its decision, a rule, trust material and a token nobody uses."""
    ok = await world.push("library/ok", "1")
    assert (await world.pull("library/ok", "1")).status == 200
    await world.push("library/held", "1")
    held = await world.pull("library/held", "1")
    entry = (await world.admin.get("/quarantine")).json["items"][0]
    key = {"kind": "public_key", "content": public_pem(generate_key())}
    assert (await world.admin.put("/trust/ci-key", key)).status == 201
    token_id, _ = await world.pullgate.services.stores.tokens.create_token("spare", "auditor")
    digest_paths = ("/images/{digest}", "/scans/{digest}", "/scans/{digest}/rescan", "/images/{digest}/sbom")
    return {
        "/rules/{id} id": "hold",
        "/decisions/{id} id": held.error["detail"]["decision_id"],
        "/tokens/{id} id": token_id,
        "/trust/{name} name": "ci-key",
        "/vulnerabilities/{id}/images id": "CVE-2024-0001",
        **{f"/quarantine/{{id}}{tail} id": str(entry["id"]) for tail in ("", "/release", "/reject")},
        **{f"{path} digest": ok.digest for path in digest_paths},
    }


async def test_generated_calls_get_only_documented_answers(make_world: MakeWorld) -> None:
    world = await make_world(POLICY)
    known = await _resources(world)
    run = Run(f"{world.pullgate.url}/api/v1", world.admin.token or "", await _renewer(world))
    document = world.admin.openapi.document
    await asyncio.to_thread(_exercise, run, document, known)

    listed = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    called = {label.rsplit(" [", 1)[0] for label in run.calls}
    assert called == listed, f"operations never called: {sorted(listed - called)}"
    print(
        f"schemathesis: {sum(run.calls.values())} calls, {len(listed)} operations, "
        f"{run.parser_refusals} refused by the HTTP parser, {run.vanished} negative cases not sendable, "
        f"token renewed {run.renewed}x; "
        f"statuses {dict(sorted(run.statuses.items()))}"
    )
    assert not run.failures, "\n\n".join(run.failures.values())
