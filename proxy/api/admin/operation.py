"""One admin API operation: its route and its contract, declared together.

Each handler module lists its operations; `proxy.api.admin` mounts them and `openapi.py`
documents them from the same list, so no route can exist undocumented (or the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp.typedefs import Handler
from pydantic import BaseModel

__all__ = ["Operation", "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    description: str
    model: type[BaseModel] | None = None  # None: no body
    headers: tuple[str, ...] = ()  # ETag, Location, ...
    yaml: bool = False  # also answered as YAML text when asked for (Accept: application/yaml)


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # under /api/v1, in aiohttp's syntax: {id}, {id:\d+}
    handler: Handler
    summary: str
    tag: str
    responses: Mapping[int, Reply]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    yaml_body: bool = False  # the body may also be YAML (Content-Type: application/yaml)
    errors: tuple[int, ...] = ()  # besides the ones every operation of its kind can answer
    public: bool = False  # no token needed
    request_headers: tuple[str, ...] = field(default=())  # If-Match, ...

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD")
