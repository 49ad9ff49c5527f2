"""Security headers for answers a browser may load: set in one place, per path prefix.

The admin API answers JSON that no browser should render, frame, cache or send a referrer
from, so it gets a policy that allows nothing (`ADMIN_CSP`). Strict-Transport-Security is
added only on a TLS connection: over plain HTTP a browser ignores it anyway.

The registry API (/v2) gets none of these: its clients are container runtimes, and
`no-store` on immutable blobs would only defeat caches in front of pullgate. A web console
under its own prefix appends its own `SecurityHeaders(csp=..., applies=...)` to its
sub-application's `on_response_prepare`; this hook never touches its paths.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from proxy.api.admin.errors import is_admin_path

__all__ = ["ADMIN_CSP", "HSTS", "SecurityHeaders", "admin_headers"]

ADMIN_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"  # a year; no includeSubDomains: pullgate cannot speak for other hosts


class SecurityHeaders:
    """An `on_response_prepare` hook: these headers on every answer (errors too) it `applies` to."""

    def __init__(self, csp: str, applies: Callable[[str], bool] | None = None) -> None:
        self._applies = applies
        self._headers = {
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": csp,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }

    async def __call__(self, request: web.Request, response: web.StreamResponse) -> None:
        if self._applies is not None and not self._applies(request.path):
            return
        response.headers.update(self._headers)
        if request.secure:
            response.headers["Strict-Transport-Security"] = HSTS


def admin_headers() -> SecurityHeaders:
    return SecurityHeaders(ADMIN_CSP, applies=is_admin_path)
