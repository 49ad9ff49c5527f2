"""The policy as one document: export it, import it (YAML or JSON), set the default action.

Import is idempotent, so a policy kept in git can be applied by every deploy: the same
document again answers `changed: false` and leaves the policy version alone (cached
decisions survive). YAML aliases are refused: a few hundred bytes of nested aliases expand
into billions of nodes for the validator to walk.
"""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from aiohttp import web

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import ApiError, Code
from proxy.api.admin.http import admin, etag, json_body, parse_json, read_body, reply, validated
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import DefaultActionBody
from proxy.api.admin.views import PolicyChangeView, PolicyView
from proxy.policy.document import PolicyDocument

__all__ = ["OPERATIONS"]

POLICY_LIMIT = 8 * 1024 * 1024  # a policy of tens of thousands of rules, as YAML
_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


async def export_policy(request: web.Request) -> web.Response:
    exported = await admin(request).rules.export()
    headers = {"ETag": etag(exported.version), "X-Policy-Version": str(exported.version)}
    if _wants_yaml(request):
        text = yaml.safe_dump(exported.document.export(), sort_keys=False)
        text = f"# pullgate policy, version {exported.version}\n{text}"
        return web.Response(text=text, content_type="application/yaml", headers=headers)
    return reply(PolicyView(version=exported.version, document=exported.document), headers=headers)


async def import_policy(request: web.Request) -> web.Response:
    raw = await read_body(request, POLICY_LIMIT)
    if request.content_type in _YAML_TYPES:
        data = await asyncio.to_thread(_parse_yaml, raw)
    elif request.content_type == "application/json":
        data = parse_json(raw)
    else:
        raise ApiError(
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"send application/json or application/yaml, not {request.content_type}",
        )
    # Every rule is compiled while validating; a large policy takes a moment: not on the loop.
    document = await asyncio.to_thread(validated, PolicyDocument, data)
    change = await admin(request).rules.replace(actor(request), document)
    return reply(PolicyChangeView(version=change.version, changed=change.changed))


async def set_default_action(request: web.Request) -> web.Response:
    body = await json_body(request, DefaultActionBody)
    change = await admin(request).rules.set_default_action(actor(request), body.default_action)
    return reply(PolicyChangeView(version=change.version, changed=change.changed))


def _wants_yaml(request: web.Request) -> bool:
    accepted = [part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")]
    return any(kind in _YAML_TYPES for kind in accepted)


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases (*name) are not accepted in a policy document")
        return super().compose_node(parent, index)


def _parse_yaml(raw: bytes) -> Any:
    try:
        data = yaml.load(raw, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader, minus aliases
    except yaml.YAMLError as exc:
        raise ApiError(Code.MALFORMED_REQUEST, f"the body is not valid YAML: {exc}") from exc
    if data is None:
        raise ApiError(Code.MALFORMED_REQUEST, "a policy document is required")
    return data


_CHANGE = Reply("the policy version after the call, and whether anything changed", PolicyChangeView)
OPERATIONS = (
    Operation(
        "GET",
        "/policy",
        export_policy,
        "Export the policy (JSON, or YAML with Accept: application/yaml)",
        "policy",
        {
            200: Reply(
                "the policy and its version", PolicyView, headers=("ETag", "X-Policy-Version"), yaml=True
            )
        },
    ),
    Operation(
        "PUT",
        "/policy",
        import_policy,
        "Make the policy exactly this document (idempotent)",
        "policy",
        {200: _CHANGE},
        body=PolicyDocument,
        yaml_body=True,
    ),
    Operation(
        "PUT",
        "/policy/default-action",
        set_default_action,
        "Set the action for images no rule matches",
        "policy",
        {200: _CHANGE},
        body=DefaultActionBody,
    ),
)
