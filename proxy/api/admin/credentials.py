"""An upstream's stored credentials: read (never the secret), set, delete.

    PUT /api/v1/upstreams/docker.io/credentials  {"username": "robot", "password": "..."}

The password is sealed with the key ring's primary key before it is stored (AES-256-GCM,
see docs/secrets.md) and is never answered, logged or audited; a GET says whether one is
set, by which key, and since when. Without a key ring a PUT answers 409 `not_configured`:
nothing is stored in clear. Stored credentials replace the YAML settings' for that upstream
on every replica within `secrets.refresh_interval` (on this one before the answer).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from proxy.api.admin.auth import actor
from proxy.api.admin.errors import PREFIX
from proxy.api.admin.http import admin, json_body, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.views import View
from proxy.gate.admin import CredentialsState
from proxy.gate.credentials import MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS

__all__ = ["OPERATIONS", "CredentialsBody", "UpstreamCredentialsView"]


class CredentialsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=MAX_USERNAME_CHARS)
    # SecretStr: kept out of reprs, and documented as write-only.
    password: SecretStr = Field(
        min_length=1, max_length=MAX_PASSWORD_CHARS, description="the password or access token"
    )


class UpstreamCredentialsView(View):
    upstream: str
    stored: bool = Field(description="credentials are stored in the database (the password sealed)")
    username: str | None = Field(description="of the credentials in use: stored, else the settings'")
    password_set: bool
    key_id: str | None = Field(description="the key ring key that sealed the stored password")
    created_at: AwareDatetime | None
    updated_at: AwareDatetime | None = Field(description="when the stored credentials were last set")
    in_use: Literal["stored", "settings", "none", "unusable"] = Field(
        description="what this replica's requests to the upstream carry; unusable: the stored "
        "credentials cannot be opened here, and requests fail"
    )
    problem: str | None = Field(description="why the stored credentials are unusable here")


async def get_credentials(request: web.Request) -> web.Response:
    return reply(_view(await admin(request).credentials.get(_name(request))))


async def put_credentials(request: web.Request) -> web.Response:
    name = _name(request)
    body = await json_body(request, CredentialsBody)
    state, created = await admin(request).credentials.put(
        actor(request), name, body.username, body.password.get_secret_value()
    )
    if created:
        return reply(_view(state), 201, {"Location": f"{PREFIX}/upstreams/{name}/credentials"})
    return reply(_view(state))


async def delete_credentials(request: web.Request) -> web.Response:
    return reply(_view(await admin(request).credentials.delete(actor(request), _name(request))))


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _view(state: CredentialsState) -> UpstreamCredentialsView:
    return UpstreamCredentialsView.model_validate(state)


# Upstream names are registry hosts: lowercase host[:port] (proxy.settings).
_PATH = "/upstreams/{name:[a-z0-9.-]+(?::[0-9]{1,5})?}/credentials"
OPERATIONS = (
    Operation(
        "GET",
        _PATH,
        get_credentials,
        "An upstream's credentials: username, whether a password is set, the key that sealed it (never the secret)",
        "system",
        {200: Reply("the upstream's credentials", UpstreamCredentialsView)},
        errors=(404,),
    ),
    Operation(
        "PUT",
        _PATH,
        put_credentials,
        "Store an upstream's credentials, sealed with the key ring (used at once, by every replica within secrets.refresh_interval)",
        "system",
        {
            200: Reply("replaced", UpstreamCredentialsView),
            201: Reply("created", UpstreamCredentialsView, headers=("Location",)),
        },
        body=CredentialsBody,
        errors=(404, 409),
    ),
    Operation(
        "DELETE",
        _PATH,
        delete_credentials,
        "Delete an upstream's stored credentials (the settings' are used again, if any)",
        "system",
        {200: Reply("deleted; what is in use now", UpstreamCredentialsView)},
        errors=(404,),
    ),
)
