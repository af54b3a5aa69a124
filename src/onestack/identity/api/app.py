"""The identity ASGI application."""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common.auth import AuthMiddleware
from onestack.common.clients import IdentityClient
from onestack.common.errors import OnestackError
from onestack.common.http import fault_handlers
from onestack.common.policy import Enforcer
from onestack.identity.api import auth, catalog, extensions, resources, roles, users
from onestack.identity.api.common import Api, fault, set_inline_reads
from onestack.identity.service import IdentityService


class PublicFastPaths:
    """Answers the busiest public routes (token issue, version documents) directly.

    They have fixed paths and need no token, so Starlette's router, middleware and exception
    layers only add time there (about a fifth of a token issue). Their handlers and faults are
    the same as through the router.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Route] = {}
        for route in routes:
            if isinstance(route, Route) and "{" not in route.path:
                for method in route.methods or ():
                    if auth.is_public(method, route.path):
                        self.routes.setdefault((method, route.path), route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.routes.get((scope["method"], get_route_path(scope)))
            if route is not None:
                scope["route"] = route
                endpoint = route.endpoint
                try:
                    if route.app is endpoint:
                        # Starlette serves a class endpoint as a plain ASGI app, as-is: it
                        # sends its own answer.
                        await endpoint(scope, receive, send)
                        return
                    response = await endpoint(Request(scope, receive))
                except OnestackError as exc:
                    response = fault(exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build(service: IdentityService, enforcer: Enforcer, identity: IdentityClient) -> ASGIApp:
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

    app = Starlette(routes=routes, exception_handlers=fault_handlers(fault))
    app.add_middleware(
        AuthMiddleware, identity=identity, fault=fault, public=auth.is_public, routes=routes
    )
    return PublicFastPaths(app, routes)
