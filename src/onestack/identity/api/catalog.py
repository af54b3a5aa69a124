"""Routes for regions, services and endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.http import JSONResponse, read_json
from onestack.identity import schemas
from onestack.identity.api.common import (
    Api,
    base_url,
    collection,
    ctx_of,
    filters,
    no_content,
    read,
    run,
    with_links,
)


def _crud(
    api: Api,
    name: str,
    schema_create: dict[str, Any],
    schema_update: dict[str, Any],
    ops: dict[str, Callable[..., Any]],
    filter_names: tuple[str, ...],
) -> list[Route]:
    plural = f"{name}s"
    path = f"/v3/{plural}"
    param = f"{name}_id"

    def out(request: Request, entity: dict[str, Any], status: int = 200) -> Response:
        href = f"{base_url(request)}{path}/{entity['id']}"
        return JSONResponse({name: with_links(entity, href)}, status_code=status)

    async def list_(request: Request) -> Response:
        api.enforce(ctx_of(request), f"identity:list_{plural}")
        found = await read(ops["list"], filters(request, filter_names))
        return collection(request, plural, found, path)

    async def create(request: Request) -> Response:
        body = await read_json(request, schema_create)
        api.enforce(ctx_of(request), f"identity:create_{name}", {name: body[name]})
        return out(request, await run(ops["create"], body[name]), 201)

    async def get(request: Request) -> Response:
        api.enforce(ctx_of(request), f"identity:get_{name}")
        return out(request, await read(ops["get"], request.path_params[param]))

    async def update(request: Request) -> Response:
        body = await read_json(request, schema_update)
        api.enforce(ctx_of(request), f"identity:update_{name}")
        return out(request, await run(ops["update"], request.path_params[param], body[name]))

    async def delete(request: Request) -> Response:
        api.enforce(ctx_of(request), f"identity:delete_{name}")
        await run(ops["delete"], request.path_params[param])
        return no_content()

    return [
        Route(path, list_, methods=["GET"]),
        Route(path, create, methods=["POST"]),
        Route(f"{path}/{{{param}}}", get, methods=["GET"]),
        Route(f"{path}/{{{param}}}", update, methods=["PATCH"]),
        Route(f"{path}/{{{param}}}", delete, methods=["DELETE"]),
    ]


def routes(api: Api) -> list[Route]:
    cat = api.service.catalog

    async def put_region(request: Request) -> Response:
        body = await read_json(request, schemas.region_create)
        api.enforce(ctx_of(request), "identity:create_region")
        region = await run(cat.create_region, body["region"], request.path_params["region_id"])
        href = f"{base_url(request)}/v3/regions/{region['id']}"
        return JSONResponse({"region": with_links(region, href)}, status_code=201)

    return [
        Route("/v3/regions/{region_id}", put_region, methods=["PUT"]),
        *_crud(
            api,
            "region",
            schemas.region_create,
            schemas.region_update,
            {
                "list": cat.list_regions,
                "create": cat.create_region,
                "get": cat.get_region,
                "update": cat.update_region,
                "delete": cat.delete_region,
            },
            ("parent_region_id",),
        ),
        *_crud(
            api,
            "service",
            schemas.service_create,
            schemas.service_update,
            {
                "list": cat.list_services,
                "create": cat.create_service,
                "get": cat.get_service,
                "update": cat.update_service,
                "delete": cat.delete_service,
            },
            ("type", "name"),
        ),
        *_crud(
            api,
            "endpoint",
            schemas.endpoint_create,
            schemas.endpoint_update,
            {
                "list": cat.list_endpoints,
                "create": cat.create_endpoint,
                "get": cat.get_endpoint,
                "update": cat.update_endpoint,
                "delete": cat.delete_endpoint,
            },
            ("interface", "service_id", "region_id"),
        ),
    ]
