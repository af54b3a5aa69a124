"""The auth middleware every service mounts.

It reads ``X-Auth-Token``, asks the identity client what it means (the client caches briefly),
and puts a :class:`RequestContext` in the request scope. A request without a valid token gets
401 in the service's fault format, except on the paths the service declares public, where a
missing or bad token simply leaves the context unauthenticated, and on paths that match no
route, which go on to get their 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common.clients import IdentityClient
from onestack.common.context import RequestContext
from onestack.common.errors import Unauthorized
from onestack.common.http import FaultFormatter

PublicPath = Callable[[str, str], bool]  # (method, path) -> public?


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        identity: IdentityClient,
        fault: FaultFormatter,
        public: PublicPath,
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.app = app
        self.identity = identity
        self.fault = fault
        self.public = public
        self.routes = routes

    def _known(self, scope: Scope) -> bool:
        if not self.routes:
            return True
        return any(route.matches(scope)[0] != Match.NONE for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = None
        for name, value in scope["headers"]:
            if name == b"x-auth-token":
                token = value.decode("latin-1").strip()
                break
        ctx = RequestContext(request_id=scope.get("onestack.request_id", "-"))
        scope["onestack.context"] = ctx
        if token:
            auth = await self.identity.validate_token(token)
            if auth is not None:
                ctx.auth = auth
                ctx.token = token
        if (
            ctx.auth is None
            and not self.public(scope["method"], get_route_path(scope))
            and self._known(scope)
        ):
            await self.fault(Unauthorized())(scope, receive, send)
            return
        await self.app(scope, receive, send)
