"""Trust material for signature verification: list, read, create or replace, delete.

    PUT /api/v1/trust/{name}  {"kind": "public_key", "content": "-----BEGIN PUBLIC KEY-----..."}

The content is the file an admin already has (a cosign.pub, a trusted_root.json, a
trustpolicy.oci.json, a PEM bundle of CA certificates), as text. It is parsed before it is
stored; a file that cannot be used answers 400 naming the problem. Any change bumps the
policy version: cached decisions are re-made with the new material.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import PREFIX
from proxy.api.admin.http import admin, json_body, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import View
from proxy.gate.admin import MaterialView
from proxy.signatures.trust import MAX_MATERIAL_CHARS, MaterialKind

__all__ = ["OPERATIONS", "TrustBody", "TrustMaterialView"]

TRUST_BODY_LIMIT = 2 * MAX_MATERIAL_CHARS  # JSON escaping of PEM newlines and quotes


class TrustBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MaterialKind
    content: str = Field(min_length=1, max_length=MAX_MATERIAL_CHARS)


class TrustMaterialView(View):
    name: str
    kind: MaterialKind
    sha256: str = Field(description="sha256 of the content, hex")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    content: str | None = Field(description="the material itself; null in listings")


class TrustListView(View):
    items: list[TrustMaterialView]


class TrustChangeView(View):
    material: TrustMaterialView
    created: bool
    changed: bool = Field(description="false: the same material was stored already; nothing was written")
    policy_version: int


class TrustDeletedView(View):
    name: str
    policy_version: int


async def list_trust(request: web.Request) -> web.Response:
    materials = await admin(request).trust.list()
    return reply(TrustListView(items=[_view(m, content=False) for m in materials]))


async def get_trust(request: web.Request) -> web.Response:
    return reply(_view(await admin(request).trust.get(_name(request))))


async def put_trust(request: web.Request) -> web.Response:
    name = _name(request)
    # Trusted roots and trust stores are larger than other admin bodies.
    body = await json_body(request, TrustBody, limit=TRUST_BODY_LIMIT)
    change = await admin(request).trust.put(actor(request), name, body.kind, body.content)
    view = TrustChangeView(
        material=_view(change.material, content=False),
        created=change.created,
        changed=change.changed,
        policy_version=change.policy_version,
    )
    if change.created:
        return reply(view, 201, {"Location": f"{PREFIX}/trust/{name}"})
    return reply(view)


async def delete_trust(request: web.Request) -> web.Response:
    name = _name(request)
    version = await admin(request).trust.delete(actor(request), name)
    return reply(TrustDeletedView(name=name, policy_version=version))


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _view(material: MaterialView, *, content: bool = True) -> TrustMaterialView:
    return TrustMaterialView(
        name=material.name,
        kind=material.kind,
        sha256=material.sha256,
        created_at=material.created_at,
        updated_at=material.updated_at,
        content=material.content if content else None,
    )


_PATH = "/trust/{name:[A-Za-z0-9][A-Za-z0-9._-]{0,63}}"
OPERATIONS = (
    Operation(
        "GET",
        "/trust",
        list_trust,
        "List trust material (without content)",
        "trust",
        {200: Reply("every piece of trust material", TrustListView)},
    ),
    Operation(
        "GET",
        _PATH,
        get_trust,
        "Read one piece of trust material",
        "trust",
        {200: Reply("the material with its content", TrustMaterialView)},
        errors=(404,),
    ),
    Operation(
        "PUT",
        _PATH,
        put_trust,
        "Create or replace trust material (validated; bumps the policy version if it changed)",
        "trust",
        {
            200: Reply("replaced, or unchanged", TrustChangeView),
            201: Reply("created", TrustChangeView, headers=("Location",)),
        },
        body=TrustBody,
    ),
    Operation(
        "DELETE",
        _PATH,
        delete_trust,
        "Delete trust material (bumps the policy version)",
        "trust",
        {200: Reply("deleted", TrustDeletedView)},
        errors=(404,),
    ),
)
