"""The identity ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from onestack.common.auth import AuthMiddleware
from onestack.common.clients import IdentityClient
from onestack.common.errors import OnestackError
from onestack.common.http import http_exception_to_error
from onestack.common.policy import Enforcer
from onestack.identity.api import auth, catalog, extensions, resources, roles, users
from onestack.identity.api.common import Api, fault, set_inline_reads
from onestack.identity.service import IdentityService


def build(service: IdentityService, enforcer: Enforcer, identity: IdentityClient) -> Starlette:
    api = Api(service, enforcer)
    set_inline_reads(service.core.db.dialect == "sqlite")
    # Starlette tries routes in order: the busiest (tokens, projects) come first. No path of
    # a later module can be taken by an earlier one (/v3/domains/config/default has one more
    # segment than /v3/domains/{domain_id}).
    routes = [
        *auth.routes(api),
        *resources.routes(api),
        *users.routes(api),
        *roles.routes(api),
        *catalog.routes(api),
        *extensions.routes(api),
    ]

    async def on_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OnestackError)
        return fault(exc)

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return fault(http_exception_to_error(exc))

    app = Starlette(
        routes=routes,
        exception_handlers={OnestackError: on_error, HTTPException: on_http},
    )
    app.add_middleware(
        AuthMiddleware, identity=identity, fault=fault, public=auth.is_public, routes=routes
    )
    return app
