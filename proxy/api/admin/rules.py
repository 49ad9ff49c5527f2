"""Rules, one at a time: list, create, read, replace (If-Match), delete.

A rule's ETag is its revision (`"3"`). PUT requires If-Match, so two admins editing the
same rule cannot silently overwrite each other: a stale ETag answers 412, a missing one
428. DELETE honours If-Match when given.
"""

from __future__ import annotations

from aiohttp import web

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import PREFIX, ApiError, Code
from proxy.api.admin.http import admin, etag, expected_revision, json_body, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import Paging
from proxy.api.admin.views import DeletedRuleView, PageView, RuleResource
from proxy.gate.admin import StoredRule
from proxy.policy.document import MatchSpec

__all__ = ["OPERATIONS"]


async def list_rules(request: web.Request) -> web.Response:
    paging = query(request, Paging)
    page = await admin(request).rules.page(paging.limit, paging.cursor)
    return reply(
        PageView[RuleResource](items=[_resource(s) for s in page.items], next_cursor=page.next_cursor)
    )


async def create_rule(request: web.Request) -> web.Response:
    spec = await json_body(request, RuleResource)
    stored = await admin(request).rules.create(actor(request), spec.to_rule())
    headers = {"Location": f"{PREFIX}/rules/{stored.rule.id}", "ETag": etag(stored.revision)}
    return reply(_resource(stored), 201, headers)


async def get_rule(request: web.Request) -> web.Response:
    stored = await admin(request).rules.get(request.match_info["id"])
    return reply(_resource(stored), headers={"ETag": etag(stored.revision)})


async def replace_rule(request: web.Request) -> web.Response:
    rule_id = request.match_info["id"]
    expected = expected_revision(request, required=True)
    spec = await json_body(request, RuleResource, id=rule_id)
    if spec.id != rule_id:
        raise ApiError(
            Code.INVALID_FIELD, f"id {spec.id!r} differs from the rule in the path ({rule_id!r})", field="id"
        )
    stored = await admin(request).rules.update(actor(request), spec.to_rule(), expected)
    return reply(_resource(stored), headers={"ETag": etag(stored.revision)})


async def delete_rule(request: web.Request) -> web.Response:
    rule_id = request.match_info["id"]
    expected = expected_revision(request, required=False)
    version = await admin(request).rules.delete(actor(request), rule_id, expected)
    return reply(DeletedRuleView(id=rule_id, policy_version=version))


def _resource(stored: StoredRule) -> RuleResource:
    rule = stored.rule
    return RuleResource(
        id=rule.id,
        match=MatchSpec.from_match(rule.match),
        action=rule.action,
        mode=rule.mode,
        description=rule.description,
        owner=rule.owner,
        expires_at=rule.expires_at,
        revision=stored.revision,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


_RULE = Reply("the rule", RuleResource, headers=("ETag",))
OPERATIONS = (
    Operation(
        "GET",
        "/rules",
        list_rules,
        "List rules in id order",
        "rules",
        {200: Reply("a page of rules", PageView[RuleResource])},
        query=Paging,
    ),
    Operation(
        "POST",
        "/rules",
        create_rule,
        "Create a rule (bumps the policy version)",
        "rules",
        {201: Reply("the rule, at revision 1", RuleResource, headers=("ETag", "Location"))},
        body=RuleResource,
        errors=(409,),
    ),
    Operation(
        "GET", "/rules/{id}", get_rule, "Read a rule and its ETag", "rules", {200: _RULE}, errors=(404,)
    ),
    Operation(
        "PUT",
        "/rules/{id}",
        replace_rule,
        "Replace a rule; If-Match is required",
        "rules",
        {
            200: Reply(
                "the rule; its revision moves only if something changed", RuleResource, headers=("ETag",)
            )
        },
        body=RuleResource,
        errors=(404, 412, 428),
        request_headers=("If-Match",),
    ),
    Operation(
        "DELETE",
        "/rules/{id}",
        delete_rule,
        "Delete a rule; If-Match is honoured when given",
        "rules",
        {200: Reply("the rule is gone", DeletedRuleView)},
        errors=(404, 412),
        request_headers=("If-Match",),
    ),
)
