"""Version discovery, schemas, and the /v2/info documents."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.http import JSONResponse, base_url
from onestack.image import schemas
from onestack.image.api.common import Api
from onestack.image.data import IMPORT_METHODS

# The Image API versions this service answers to; all of them are v2 with small additions.
CURRENT = "2.16"
SUPPORTED = [f"2.{minor}" for minor in range(16, -1, -1)]


def versions_document(request: Request) -> dict[str, Any]:
    href = f"{base_url(request)}/v2/"
    return {
        "versions": [
            {
                "id": f"v{version}",
                "status": "CURRENT" if version == CURRENT else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for version in SUPPORTED
        ]
    }


def routes(api: Api) -> list[Route]:
    async def versions_choice(request: Request) -> Response:
        return JSONResponse(versions_document(request), status_code=300)

    async def versions(request: Request) -> Response:
        return JSONResponse(versions_document(request))

    def schema_route(path: str, build: Any) -> Route:
        document = build()

        async def show(request: Request) -> Response:
            api.context(request)
            return JSONResponse(document)

        return Route(path, show, methods=["GET"])

    async def info_import(request: Request) -> Response:
        api.context(request)
        return JSONResponse(
            {
                "import-methods": {
                    "description": "Import methods available.",
                    "type": "array",
                    "value": list(IMPORT_METHODS),
                }
            }
        )

    async def info_stores(request: Request) -> Response:
        ctx = api.context(request)
        api.enforce(ctx, "image:get_stores")
        store = api.service.store
        return JSONResponse(
            {"stores": [{"id": store.id, "description": store.description, "default": "true"}]}
        )

    async def info_usage(request: Request) -> Response:
        ctx = api.context(request)
        api.enforce(ctx, "image:get_usage", {"project_id": ctx.project_id})
        usage = await api.read(api.service.usage, api.caller(ctx))
        return JSONResponse({"usage": usage})

    return [
        Route("/", versions_choice, methods=["GET"]),
        Route("/versions", versions, methods=["GET"]),
        Route("/v2", versions, methods=["GET"]),
        Route("/v2/", versions, methods=["GET"]),
        schema_route("/v2/schemas/image", schemas.image_schema),
        schema_route("/v2/schemas/images", schemas.images_schema),
        schema_route("/v2/schemas/member", schemas.member_schema),
        schema_route("/v2/schemas/members", schemas.members_schema),
        Route("/v2/info/import", info_import, methods=["GET"]),
        Route("/v2/info/stores", info_stores, methods=["GET"]),
        Route("/v2/info/usage", info_usage, methods=["GET"]),
    ]


def is_public(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and path in ("/", "/versions")
