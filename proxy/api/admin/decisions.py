"""Decisions: the one a denial quoted, and a dry run of the one a pull would get now.

An image reference is parsed the way a runtime names images (`alpine`, `alpine:3.19`,
`ghcr.io/org/app@sha256:...`) and routed exactly like a pull: a first component that looks
like a registry host (it has a dot or a colon, or is `localhost`) must be a configured
upstream, as containerd's `?ns=` must; anything else goes to the default upstream, with
Docker Hub's `library/` added. So a dry run answers for the image a pull would get.
"""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, json_body, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import DryRunBody
from proxy.api.admin.views import DecisionView, DryRunView, ReasonView
from proxy.api.context import SERVICES
from proxy.api.routing import RegistryRequest
from proxy.cache.keys import RepoKey
from proxy.gate.admin import DryRun
from proxy.oci.digest import Digest
from proxy.oci.errors import RegistryError
from proxy.oci.reference import Tag

__all__ = ["OPERATIONS", "split_image"]


async def get_decision(request: web.Request) -> web.Response:
    decision = await admin(request).decisions.get(request.match_info["id"])
    return reply(DecisionView.model_validate(decision))


async def dry_run(request: web.Request) -> web.Response:
    body = await json_body(request, DryRunBody)
    key, reference = _target(request, body)
    result = await admin(request).decisions.dry_run(key, reference)
    return reply(_view(result))


def _target(request: web.Request, body: DryRunBody) -> tuple[RepoKey, Tag | Digest]:
    if body.image is not None:
        registry, repository, reference = split_image(body.image)
        field = "image"
    else:
        assert body.repository is not None  # the model requires one form or the other
        registry, repository, reference = body.registry, body.repository, body.digest or body.tag or "latest"
        field = "repository"
    try:
        target: RegistryRequest = request.app[SERVICES].router.route(
            f"{repository}/manifests/{reference}", registry
        )
        return target.key, target.manifest_reference()
    except RegistryError as exc:
        raise ApiError(Code.INVALID_FIELD, f"{field}: {exc.message}", field=field) from exc


def split_image(image: str) -> tuple[str | None, str, str]:
    """(registry or None, repository, tag or digest) of an image reference."""
    name, at, digest = image.partition("@")
    reference = digest if at else "latest"
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:  # a colon after the last slash starts a tag, not a port
        name = head
        reference = reference if at else tag  # name:tag@digest pulls the digest, as runtimes do
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest, reference
    return None, name, reference


def _view(result: DryRun) -> DryRunView:
    return DryRunView(
        upstream=result.upstream,
        repository=result.repository,
        tag=result.tag,
        digest=result.digest,
        image=result.image,
        outcome=result.outcome,
        serves=result.outcome.serves,
        reasons=[ReasonView.model_validate(reason) for reason in result.reasons],
        rule_ids=result.rule_ids,
        policy_version=result.policy_version,
    )


OPERATIONS = (
    Operation(
        "POST",
        "/decisions/dry-run",
        dry_run,
        "What the gate would decide for an image now (records nothing)",
        "decisions",
        {200: Reply("the verdict a pull would get", DryRunView)},
        body=DryRunBody,
        errors=(404, 502, 504),
    ),
    Operation(
        "GET",
        "/decisions/{id}",
        get_decision,
        "A recorded decision, by the id a denial quotes",
        "decisions",
        {200: Reply("the decision", DecisionView)},
        errors=(404,),
    ),
)
