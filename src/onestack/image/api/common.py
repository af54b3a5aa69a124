"""What every image route uses: Glance's fault body, the caller, policy checks, threads."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from onestack.common.blocking import Reads, run
from onestack.common.context import RequestContext
from onestack.common.errors import OnestackError, Unauthorized
from onestack.common.http import context
from onestack.common.policy import Enforcer
from onestack.image.access import Caller
from onestack.image.records import Check
from onestack.image.service import ImageService

__all__ = ["Api", "fault", "run"]


def fault(error: OnestackError) -> Response:
    """Glance's error body (webob's JSON rendering): code "404 Not Found", title, message."""
    phrase = HTTPStatus(error.status).phrase
    body = {"code": f"{error.status} {phrase}", "title": phrase, "message": error.message}
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        headers=dict(error.headers),
        media_type="application/json",
    )


class Api:
    """The image service and policy, handed to every route module."""

    def __init__(self, service: ImageService, enforcer: Enforcer) -> None:
        self.service = service
        self.enforcer = enforcer
        self.read = Reads(service.db.dialect == "sqlite")

    def context(self, request: Request) -> RequestContext:
        ctx = context(request)
        if ctx.auth is None:
            raise Unauthorized()
        return ctx

    def caller(self, ctx: RequestContext) -> Caller:
        admin = self.enforcer.check_rule("image:context_is_admin", {}, ctx.credentials())
        return Caller(project_id=ctx.project_id, is_admin=admin, user_id=ctx.user_id)

    def enforce(self, ctx: RequestContext, rule: str, target: dict[str, Any] | None = None) -> None:
        self.enforcer.enforce(ctx, rule, target)

    def checker(self, ctx: RequestContext) -> Check:
        def check(rule: str, target: dict[str, Any]) -> None:
            self.enforcer.enforce(ctx, rule, target)

        return check

    def prepare(self, request: Request) -> tuple[RequestContext, Caller, Check]:
        ctx = self.context(request)
        return ctx, self.caller(ctx), self.checker(ctx)
