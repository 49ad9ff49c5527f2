"""An admin API client for tests that checks every answer against the OpenAPI document.

Each response is matched to its operation (method and path template) and status in the
document the server itself serves, and its JSON body validated against that response's
schema (JSON Schema 2020-12, formats checked). So every test that talks to the admin API
also tests that the document tells the truth, and `seen` records which operations and
statuses were exercised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from multidict import CIMultiDict

__all__ = ["AdminClient", "Answer", "OpenAPI"]


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]  # case-insensitive, as HTTP header names are
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        body: dict[str, Any] = self.json["error"]
        return body


@dataclass
class OpenAPI:
    document: dict[str, Any]
    seen: set[tuple[str, str, int]] = field(default_factory=set)  # (method, path template, status)

    def operations(self) -> set[tuple[str, str]]:
        return {(method.upper(), path) for path, item in self.document["paths"].items() for method in item}

    def check(self, method: str, path: str, answer: Answer) -> None:
        template, operation = self._operation(method, path.partition("?")[0])
        responses = operation["responses"]
        spec = responses.get(str(answer.status), responses.get("default"))
        assert spec is not None, f"{method} {template}: status {answer.status} is not documented"
        self.seen.add((method, template, answer.status))
        media = answer.headers.get("Content-Type", "").split(";")[0].strip()
        content = spec.get("content", {})
        if not content:
            return
        assert media in content, f"{method} {template} {answer.status}: {media} is not documented"
        schema = content[media]["schema"]
        body = answer.json if media == "application/json" else answer.text
        validator = Draft202012Validator(
            {**schema, "components": self.document["components"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{method} {template} {answer.status} does not match the document: {problems}"

    def _operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path) and method.lower() in item:
                return template, item[method.lower()]
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")


class AdminClient:
    def __init__(self, base_url: str, token: str | None, openapi: OpenAPI) -> None:
        self.base_url = base_url
        self.token = token
        self.openapi = openapi

    def as_(self, token: str | None) -> AdminClient:
        return AdminClient(self.base_url, token, self.openapi)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        check: bool = True,
    ) -> Answer:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        url = f"{self.base_url}/api/v1{path}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, data=data, params=params, headers=sent) as resp,
        ):
            answer = Answer(resp.status, CIMultiDict(resp.headers), await resp.text())
        if check:
            self.openapi.check(method, path, answer)
        return answer

    async def get(self, path: str, **params: str) -> Answer:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Answer:
        return await self.request("POST", path, json_body=body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> Answer:
        return await self.request("PUT", path, json_body=body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("DELETE", path, **kwargs)
