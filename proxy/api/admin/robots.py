"""Robot accounts: list, create (the secret is in that answer only), read, revoke, rotate.

A robot authenticates pulls as ``robot-name:secret`` (Basic, or at the token endpoint) and
may pull the repositories its scopes cover; see docs/authentication.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from proxy.api.admin.auth import actor
from proxy.api.admin.http import admin, json_body, query, reply
from proxy.api.admin.operation import Operation, Reply
from proxy.api.admin.schemas import Paging
from proxy.api.admin.views import PageView, View
from proxy.gate.admin import RobotRow
from proxy.gate.auth.scopes import MAX_SCOPES, RepositoryScope
from proxy.gate.manage.robots import ROBOT_NAME
from proxy.policy.errors import PolicyError

__all__ = ["OPERATIONS", "RobotBody", "RobotCreatedView", "RobotView", "ScopeBody"]

RobotName = Annotated[str, Field(pattern=ROBOT_NAME, examples=["ci-builds", "nodes-prod"])]


class ScopeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: str = Field(default="*", max_length=255, description="upstream name glob (policy rule grammar)")
    repository: str = Field(max_length=255, description="repository glob, e.g. team/** (policy rule grammar)")

    @field_validator("repository")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            RepositoryScope.of("*", value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        try:
            return RepositoryScope.of(value, "x").registry
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc


class RobotBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RobotName
    owner: str = Field(min_length=1, max_length=255, description="who answers for it: a team, a person")
    description: str = Field(default="", max_length=2000)
    scopes: list[ScopeBody] = Field(min_length=1, max_length=MAX_SCOPES, description="what it may pull")
    expires_at: AwareDatetime | None = Field(default=None, description="it stops working here; null: never")


class ScopeView(View):
    registry: str
    repository: str


class RobotView(View):
    id: str
    name: str
    identity: str = Field(description="how the audit log names it")
    owner: str
    description: str
    scopes: list[ScopeView]
    secret_version: int = Field(description="1, plus one per rotation")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: RobotRow) -> RobotView:
        return cls(
            id=row.id,
            name=row.name,
            identity=f"robot:{row.name}",
            owner=row.owner,
            description=row.description,
            scopes=[ScopeView(registry=s["registry"], repository=s["repository"]) for s in row.scopes],
            secret_version=row.secret_version,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class RobotCreatedView(View):
    robot: RobotView
    username: str = Field(description="the user name for Basic auth and the token endpoint")
    secret: str = Field(description="the password; shown only in this response")


async def list_robots(request: web.Request) -> web.Response:
    paging = query(request, Paging)
    page = await admin(request).robots.page(paging.limit, paging.cursor)
    items = [RobotView.of(row) for row in page.items]
    return reply(PageView[RobotView](items=items, next_cursor=page.next_cursor))


async def create_robot(request: web.Request) -> web.Response:
    body = await json_body(request, RobotBody)
    row, secret = await admin(request).robots.create(
        actor(request),
        body.name,
        owner=body.owner,
        scopes=[scope.model_dump() for scope in body.scopes],
        description=body.description,
        expires_at=body.expires_at,
    )
    created = RobotCreatedView(robot=RobotView.of(row), username=row.name, secret=secret)
    return reply(created, 201, headers={"Location": f"/api/v1/robots/{row.name}"})


async def get_robot(request: web.Request) -> web.Response:
    return reply(RobotView.of(await admin(request).robots.get(request.match_info["name"])))


async def revoke_robot(request: web.Request) -> web.Response:
    row = await admin(request).robots.revoke(actor(request), request.match_info["name"])
    return reply(RobotView.of(row))


async def rotate_secret(request: web.Request) -> web.Response:
    row, secret = await admin(request).robots.rotate(actor(request), request.match_info["name"])
    return reply(RobotCreatedView(robot=RobotView.of(row), username=row.name, secret=secret))


OPERATIONS = (
    Operation(
        "GET",
        "/robots",
        list_robots,
        "Robot accounts, revoked ones included (never their secrets)",
        "robots",
        {200: Reply("a page of robots, oldest first", PageView[RobotView])},
        query=Paging,
    ),
    Operation(
        "POST",
        "/robots",
        create_robot,
        "Create a robot account; its secret is in this response only",
        "robots",
        {201: Reply("the robot and its secret", RobotCreatedView, headers=("Location",))},
        body=RobotBody,
        errors=(409,),
    ),
    Operation(
        "GET",
        "/robots/{name}",
        get_robot,
        "One robot account",
        "robots",
        {200: Reply("the robot", RobotView)},
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/robots/{name}",
        revoke_robot,
        "Revoke a robot: its secret and every token issued to it stop working",
        "robots",
        {200: Reply("the revoked robot", RobotView)},
        errors=(404,),
    ),
    Operation(
        "POST",
        "/robots/{name}/secret",
        rotate_secret,
        "Rotate a robot's secret: the old one and its tokens stop working; the new one is in this response only",
        "robots",
        {200: Reply("the robot and its new secret", RobotCreatedView)},
        errors=(404,),
    ),
)
