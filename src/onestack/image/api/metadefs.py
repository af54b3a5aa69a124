"""/v2/metadefs: metadata definition namespaces, their objects, properties, tags and resource
type associations; /v2/schemas/metadefs/*: the documents describing them.

Reads enforce the get/list rule for the caller here (which namespaces it sees is the
service's query); writes hand the service a checker that enforces the rule inside the
transaction, against the namespace being changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.http import JSONResponse, base_url, parse_bool, read_json
from onestack.image.api.common import Api, run
from onestack.image.metadef_schemas import DOCUMENTS
from onestack.image.metadefs_base import namespace_path

NS = "/v2/metadefs/namespaces"
ONE = NS + "/{namespace}"


def _location(request: Request, path: str) -> dict[str, str]:
    return {"Location": base_url(request) + quote(path, safe="/:")}


def routes(api: Api) -> list[Route]:
    metadefs = api.service.metadefs
    items = metadefs.items

    def reader(rule: str, produce: Callable[..., Any]) -> Callable[[Request], Any]:
        """A GET route: the rule for the caller's own project, then ``produce`` (run as a
        read) with the caller and the path parameters; its result is the JSON body."""

        async def handle(request: Request) -> Response:
            ctx, caller, _ = api.prepare(request)
            api.enforce(ctx, rule, {"project_id": ctx.project_id})
            body = await api.read(produce, caller, request)
            return JSONResponse(body)

        return handle

    # -- namespaces -------------------------------------------------------------------------

    def list_namespaces(caller: Any, request: Request) -> dict[str, Any]:
        params = dict(request.query_params)
        documents, next_marker = metadefs.list_namespaces(caller, params)
        kept = {k: v for k, v in params.items() if k != "marker"}
        body: dict[str, Any] = {
            "namespaces": documents,
            "first": NS + (f"?{urlencode(kept)}" if kept else ""),
            "schema": "/v2/schemas/metadefs/namespaces",
        }
        if next_marker is not None:
            body["next"] = f"{NS}?{urlencode({**kept, 'marker': next_marker})}"
        return body

    def show_namespace(caller: Any, request: Request) -> dict[str, Any]:
        return metadefs.show_namespace(
            caller, request.path_params["namespace"], request.query_params.get("resource_type")
        )

    async def create_namespace(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        document = await run(metadefs.create_namespace, caller, body, check)
        headers = _location(request, namespace_path(document["namespace"]))
        return JSONResponse(document, status_code=201, headers=headers)

    async def update_namespace(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        name = request.path_params["namespace"]
        return JSONResponse(await run(metadefs.update_namespace, caller, name, body, check))

    async def delete_namespace(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        await run(metadefs.delete_namespace, caller, request.path_params["namespace"], check)
        return Response(status_code=204)

    def delete_all(kind: str) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            _, caller, check = api.prepare(request)
            await run(items.delete_all, caller, request.path_params["namespace"], kind, check)
            return Response(status_code=204)

        return handle

    # -- objects, properties, tags ----------------------------------------------------------

    def creator(produce: Callable[..., Any]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            _, caller, check = api.prepare(request)
            body = await read_json(request)
            namespace = request.path_params["namespace"]
            document = await run(produce, caller, namespace, body, check)
            return JSONResponse(document, status_code=201)

        return handle

    def updater(produce: Callable[..., Any]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            _, caller, check = api.prepare(request)
            body = await read_json(request)
            params = request.path_params
            document = await run(produce, caller, params["namespace"], params["name"], body, check)
            return JSONResponse(document)

        return handle

    def deleter(produce: Callable[..., Any]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            _, caller, check = api.prepare(request)
            params = request.path_params
            await run(produce, caller, params["namespace"], params["name"], check)
            return Response(status_code=204)

        return handle

    def list_objects(caller: Any, request: Request) -> dict[str, Any]:
        objects = items.list_objects(caller, request.path_params["namespace"])
        return {"objects": objects, "schema": "/v2/schemas/metadefs/objects"}

    def show_object(caller: Any, request: Request) -> dict[str, Any]:
        params = request.path_params
        return items.show_object(caller, params["namespace"], params["name"])

    def list_properties(caller: Any, request: Request) -> dict[str, Any]:
        properties = items.list_properties(caller, request.path_params["namespace"])
        return {"properties": properties, "schema": "/v2/schemas/metadefs/properties"}

    def show_property(caller: Any, request: Request) -> dict[str, Any]:
        params = request.path_params
        resource_type = request.query_params.get("resource_type")
        return items.show_property(caller, params["namespace"], params["name"], resource_type)

    def list_tags(caller: Any, request: Request) -> dict[str, Any]:
        params = dict(request.query_params)
        tags = items.list_tags(caller, request.path_params["namespace"], params)
        return {"tags": tags, "schema": "/v2/schemas/metadefs/tags"}

    def show_tag(caller: Any, request: Request) -> dict[str, Any]:
        params = request.path_params
        return items.show_tag(caller, params["namespace"], params["name"])

    async def create_tag(request: Request) -> Response:
        # No body: the tag's name is in the path.
        _, caller, check = api.prepare(request)
        params = request.path_params
        document = await run(items.create_tag, caller, params["namespace"], params["name"], check)
        return JSONResponse(document, status_code=201)

    async def create_tags(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        append = bool(parse_bool(request.headers.get("x-openstack-append"), "X-Openstack-Append"))
        namespace = request.path_params["namespace"]
        tags = await run(items.create_tags, caller, namespace, body, append, check)
        return JSONResponse({"tags": tags}, status_code=201)

    # -- resource types ---------------------------------------------------------------------

    def list_resource_types(_caller: Any, _request: Request) -> dict[str, Any]:
        return {"resource_types": metadefs.list_resource_types()}

    def list_associations(caller: Any, request: Request) -> dict[str, Any]:
        found = metadefs.list_associations(caller, request.path_params["namespace"])
        return {"resource_type_associations": found}

    def schema_route(path: str, build: Callable[[], dict[str, Any]]) -> Route:
        document = build()

        async def show(request: Request) -> Response:
            api.context(request)
            return JSONResponse(document)

        return Route(f"/v2/schemas/{path}", show, methods=["GET"])

    objects, properties, tags = ONE + "/objects", ONE + "/properties", ONE + "/tags"
    types = ONE + "/resource_types"
    return [
        Route(NS, reader("image:get_metadef_namespaces", list_namespaces), methods=["GET"]),
        Route(NS, create_namespace, methods=["POST"]),
        Route(ONE, reader("image:get_metadef_namespace", show_namespace), methods=["GET"]),
        Route(ONE, update_namespace, methods=["PUT"]),
        Route(ONE, delete_namespace, methods=["DELETE"]),
        Route(objects, reader("image:get_metadef_objects", list_objects), methods=["GET"]),
        Route(objects, creator(items.create_object), methods=["POST"]),
        Route(objects, delete_all("objects"), methods=["DELETE"]),
        Route(
            objects + "/{name}",
            reader("image:get_metadef_object", show_object),
            methods=["GET"],
        ),
        Route(objects + "/{name}", updater(items.update_object), methods=["PUT"]),
        Route(objects + "/{name}", deleter(items.delete_object), methods=["DELETE"]),
        Route(
            properties,
            reader("image:get_metadef_properties", list_properties),
            methods=["GET"],
        ),
        Route(properties, creator(items.create_property), methods=["POST"]),
        Route(properties, delete_all("properties"), methods=["DELETE"]),
        Route(
            properties + "/{name}",
            reader("image:get_metadef_property", show_property),
            methods=["GET"],
        ),
        Route(properties + "/{name}", updater(items.update_property), methods=["PUT"]),
        Route(properties + "/{name}", deleter(items.delete_property), methods=["DELETE"]),
        Route(tags, reader("image:get_metadef_tags", list_tags), methods=["GET"]),
        Route(tags, create_tags, methods=["POST"]),
        Route(tags, delete_all("tags"), methods=["DELETE"]),
        Route(tags + "/{name}", reader("image:get_metadef_tag", show_tag), methods=["GET"]),
        Route(tags + "/{name}", create_tag, methods=["POST"]),
        Route(tags + "/{name}", updater(items.update_tag), methods=["PUT"]),
        Route(tags + "/{name}", deleter(items.delete_tag), methods=["DELETE"]),
        Route(
            "/v2/metadefs/resource_types",
            reader("image:list_metadef_resource_types", list_resource_types),
            methods=["GET"],
        ),
        Route(types, reader("image:get_metadef_resource_type", list_associations), methods=["GET"]),
        Route(types, creator(metadefs.create_association), methods=["POST"]),
        Route(types + "/{name}", deleter(metadefs.delete_association), methods=["DELETE"]),
        *[schema_route(path, build) for path, build in DOCUMENTS.items()],
    ]
