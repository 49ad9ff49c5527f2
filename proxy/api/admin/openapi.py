"""The OpenAPI 3.1 document of the admin API, generated from the operations it serves.

Paths come from the same `Operation` list that mounts the routes; request and response
schemas from the same pydantic models that parse requests and render answers; so the
document describes exactly what runs (and a test checks real answers against it). OpenAPI
3.1 schemas are JSON Schema 2020-12, which pydantic generates directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from proxy.api.admin.errors import PREFIX, Code
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import ErrorView

__all__ = ["OPENAPI", "build_document", "openapi_path"]

OPENAPI = web.AppKey("admin_openapi", dict)  # the document, built once when the routes are mounted

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::((?:[^{}]|\{[^{}]*\})*))?\}")
_ERROR_TEXT = {
    status: " | ".join(code.value.code for code in Code if code.status == status)
    for status in {c.status for c in Code}
}
_HEADERS = {
    "ETag": "the resource's revision, quoted; send it back in If-Match",
    "Location": "where the new resource lives",
    "X-Policy-Version": "the policy version the document is",
    "If-Match": 'the ETag read ("<revision>"), or *',
}


def build_document(operations: Iterable[Operation]) -> dict[str, Any]:
    operations = list(operations)
    schemas = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pullgate admin API",
            "version": "1",
            "description": "Rules, policy, decisions, quarantine review, audit, cache and tokens. "
            "Authenticate with `Authorization: Bearer pgt_...` (`pullgate token create`). "
            "Lists page with `limit` and an opaque `cursor` (the previous page's `next_cursor`).",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "pgt_..."}},
        },
    }


def openapi_path(path: str) -> str:
    """aiohttp's `/quarantine/{id:\\d+}` as OpenAPI's `/quarantine/{id}`."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


async def serve(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def _schemas(operations: list[Operation]) -> dict[str, Any]:
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorView, "serialization"): None}
    for op in operations:
        # Query models too: their parameters' schemas refer to shared enums (Outcome, ...).
        for model in (op.body, op.query):
            if model is not None:
                models[(model, "validation")] = None
        for reply in op.responses.values():
            if reply.model is not None:
                models[(reply.model, "serialization")] = None
    _, document = models_json_schema(list(models), ref_template=_REF)
    return dict(document.get("$defs", {}))


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    # pydantic names a model whose input and output schemas differ "<Name>-Input"/"-Output".
    name = model.__name__.replace("[", "_").replace("]", "_").replace(",", "_").replace(" ", "")
    for candidate in (name, f"{name}-Output", f"{name}-Input"):
        if candidate in schemas:
            return {"$ref": _REF.format(model=candidate)}
    raise KeyError(f"no schema generated for {model.__name__}")


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.handler.__name__,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": _responses(op, schemas),
    }
    if op.public:
        spec["security"] = []
    if op.body is not None:
        content = {"application/json": {"schema": _body_ref(op.body, schemas)}}
        if op.yaml_body:
            content["application/yaml"] = {"schema": _body_ref(op.body, schemas)}
        spec["requestBody"] = {"required": True, "content": content}
    return spec


def _body_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    name = model.__name__
    candidate = f"{name}-Input" if f"{name}-Input" in schemas else name
    return {"$ref": _REF.format(model=candidate)}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    parameters = [
        {"name": m.group(1), "in": "path", "required": True, "schema": _path_schema(m.group(2))}
        for m in _PARAM.finditer(op.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": _HEADERS[name],
        }
        for name in op.request_headers
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            description = prop.pop("description", None)
            parameter = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _query_schema(prop),
            }
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    return parameters


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """pydantic's schema of an optional field, as a query parameter: absent, never null.

    ``anyOf: [{...}, {"type": "null"}]`` with ``default: null`` would tell a client (and a
    generator) that a null can be sent; a query string has no null, only a missing parameter.
    """
    prop = {key: value for key, value in prop.items() if key != "title"}
    branches = prop.get("anyOf")
    if branches is None:
        return prop
    kept = [branch for branch in branches if branch != {"type": "null"}]
    prop.pop("anyOf")
    if prop.get("default", ...) is None:
        prop.pop("default")
    return {**kept[0], **prop} if len(kept) == 1 else {"anyOf": kept, **prop}


def _path_schema(pattern: str | None) -> dict[str, Any]:
    if pattern is not None and pattern.startswith(r"\d"):
        return {"type": "integer", "minimum": 0}
    return {"type": "string"}


def _responses(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    responses = {str(status): _reply(reply, schemas) for status, reply in op.responses.items()}
    for status in _error_statuses(op):
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "error"),
            "content": {"application/json": {"schema": _ref(ErrorView, schemas)}},
        }
    responses["default"] = {
        "description": "any other error (500 internal, 503 unavailable, ...)",
        "content": {"application/json": {"schema": _ref(ErrorView, schemas)}},
    }
    return responses


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors)
    if not op.public:
        statuses |= {401, 429}  # 429: too many failed authentications from the address
    if op.writes:
        statuses.add(403)
    if op.body is not None:
        statuses |= {400, 408, 413, 415, 422}
    if op.query is not None:
        statuses.add(422)
    return sorted(statuses)


def _reply(reply: Reply, schemas: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        spec["headers"] = {
            name: {"description": _HEADERS[name], "schema": {"type": "string"}} for name in reply.headers
        }
    if reply.model is not None:
        spec["content"] = {"application/json": {"schema": _ref(reply.model, schemas)}}
        if reply.yaml:
            spec["content"]["application/yaml"] = {"schema": {"type": "string"}}
    return spec
