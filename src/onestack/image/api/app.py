"""The image ASGI application."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from onestack.common.auth import AuthMiddleware
from onestack.common.clients import IdentityClient
from onestack.common.errors import Conflict
from onestack.common.http import fault_handlers
from onestack.common.policy import Enforcer
from onestack.image.api import data, discovery, images, members, metadefs
from onestack.image.api.common import Api, fault
from onestack.image.service import ImageService


def build(service: ImageService, enforcer: Enforcer, identity: IdentityClient) -> ASGIApp:
    api = Api(service, enforcer)
    routes = [
        *images.routes(api),
        *data.routes(api),
        *members.routes(api),
        *discovery.routes(api),
        *metadefs.routes(api),
    ]

    async def on_integrity(_request: Request, _exc: Exception) -> Response:
        # Two requests raced to create the same row (an image id, a member, a tag): the
        # loser's insert hit the unique key. The first writer won: a conflict, not a crash.
        return fault(Conflict("The resource was created by a concurrent request."))

    app = Starlette(
        routes=routes,
        exception_handlers={**fault_handlers(fault), IntegrityError: on_integrity},
    )
    # Glance answers 404 for /v2/images/ (an empty id), not a redirect to the list.
    app.router.redirect_slashes = False
    app.add_middleware(
        AuthMiddleware, identity=identity, fault=fault, public=discovery.is_public, routes=routes
    )
    return app


def streams_data(method: str, path: str) -> bool:
    """Requests whose bodies are image data: not held to the JSON body-size limit (the
    image size cap and quotas bound them instead)."""
    return method == "PUT" and (path.endswith("/file") or path.endswith("/stage"))
