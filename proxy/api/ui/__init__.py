"""The web console at `/ui`: static files only, shipped in the package, read once at start.

The console is a client of the admin API like any other: the browser calls `/api/v1` with
the token the user typed (kept in `sessionStorage`, never a cookie, so no request is made
with ambient credentials and there is nothing to forge). This side serves bytes and
headers and nothing else: no templating, no session, no data.

Every answer under `/ui` (404 and 405 included) carries a strict Content-Security-Policy:
only our own scripts, styles and API; no inline script or style, no eval, no framing.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

from proxy.api.context import ROUTE

__all__ = ["PREFIX", "SECURITY_HEADERS", "setup"]

PREFIX = "/ui"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_TEXT = frozenset({"text/html", "text/javascript", "text/css", "image/svg+xml", "application/json"})


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str
    etag: str


_FILES = web.AppKey("ui_files", dict[str, _File])  # path under /ui/ -> the file, read at start


def setup(app: web.Application) -> None:
    app[_FILES] = _load(resources.files(__name__) / "static")
    app.router.add_route("*", PREFIX, _serve)
    app.router.add_route("*", PREFIX + "/{path:.*}", _serve)


def _load(root: Traversable, prefix: str = "") -> dict[str, _File]:
    files: dict[str, _File] = {}
    for entry in root.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            files.update(_load(entry, name + "/"))
        elif not entry.name.startswith("."):
            body = entry.read_bytes()
            files[name] = _File(body, _type(entry.name), '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return files


def _type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


async def _serve(request: web.Request) -> web.StreamResponse:
    request[ROUTE] = "ui"
    if request.method not in ("GET", "HEAD"):
        return _plain(405, "the console is read-only: use the admin API", {"Allow": "GET, HEAD"})
    if request.path == PREFIX:  # relative asset URLs need the trailing slash
        return web.Response(status=308, headers={**SECURITY_HEADERS, "Location": PREFIX + "/"})
    path = request.match_info.get("path", "") or "index.html"
    found = request.app[_FILES].get(path)
    if found is None:
        return _plain(404, f"no console file {path[:200]!r}")
    headers = {**SECURITY_HEADERS, "ETag": found.etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == found.etag:
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if found.content_type in _TEXT else None
    return web.Response(body=found.body, content_type=found.content_type, charset=charset, headers=headers)


def _plain(status: int, text: str, extra: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, headers={**SECURITY_HEADERS, **(extra or {})})
