"""Who the caller is: the token's name and role, and whether it may change anything.

A client (the web console) asks once after login, to greet the user and to leave out the
controls an auditor cannot use; the API refuses an auditor's writes whatever a client shows.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from proxy.api.admin.auth import actor
from proxy.api.admin.http import reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import View
from proxy.gate.admin import TokenRole

__all__ = ["OPERATIONS", "WhoAmIView"]


class WhoAmIView(View):
    token_id: str
    name: str
    role: TokenRole
    writes: bool = Field(description="whether this token may change anything (admin tokens only)")
    identity: str = Field(description="how the audit log names this caller")


async def whoami(request: web.Request) -> web.Response:
    who = actor(request)
    return reply(
        WhoAmIView(
            token_id=who.token_id,
            name=who.name,
            role=who.role,
            writes=who.role is TokenRole.ADMIN,
            identity=who.identity,
        )
    )


OPERATIONS = (
    Operation(
        "GET",
        "/whoami",
        whoami,
        "The caller's token: name, role and whether it may write",
        "tokens",
        {200: Reply("the caller", WhoAmIView)},
    ),
)
