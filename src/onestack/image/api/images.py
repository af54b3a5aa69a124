"""/v2/images: create, list, show, update (JSON patch), delete, actions and tags."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import BadRequest, UnsupportedMediaType
from onestack.common.http import JSONResponse, read_json
from onestack.image.api.common import Api, run
from onestack.image.data import IMPORT_METHODS
from onestack.image.records import from_v20_patch
from onestack.image.views import SCHEMA_IMAGES

PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
IMPORT_HEADER = {"OpenStack-image-import-methods": ",".join(IMPORT_METHODS)}


def routes(api: Api) -> list[Route]:
    records = api.service.records

    async def list_images(request: Request) -> Response:
        ctx, caller, _ = api.prepare(request)
        api.enforce(ctx, "image:get_images", {"project_id": ctx.project_id})
        params = request.query_params.multi_items()
        documents, next_marker = await api.read(records.list_page, caller, params)
        kept = [(k, v) for k, v in params if k != "marker"]
        first = "/v2/images" + (f"?{urlencode(kept)}" if kept else "")
        links: dict[str, str] = {"first": first, "schema": SCHEMA_IMAGES}
        if next_marker:
            links["next"] = "/v2/images?" + urlencode([*kept, ("marker", next_marker)])
        # The image documents come serialized already: splice them in.
        body = b'{"images":[' + b",".join(documents) + b"]," + orjson.dumps(links)[1:]
        return Response(body, media_type="application/json")

    async def create_image(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        image = await run(records.create, caller, body, check)
        headers = {"Location": f"{str(request.base_url).rstrip('/')}{image['self']}"}
        return JSONResponse(image, status_code=201, headers={**headers, **IMPORT_HEADER})

    async def show_image(request: Request) -> Response:
        ctx, caller, _ = api.prepare(request)
        api.enforce(ctx, "image:get_image", {"project_id": ctx.project_id})
        image = await api.read(records.show, caller, request.path_params["image_id"])
        return JSONResponse(image)

    async def update_image(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in PATCH_TYPES:
            raise UnsupportedMediaType(
                f"Unsupported content type {media!r}: use {PATCH_TYPES[0]}.",
                headers={"Accept-Patch": ", ".join(PATCH_TYPES)},
            )
        raw = await request.body()
        try:
            patch = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("Malformed request body: it is not valid JSON.") from None
        if media == PATCH_TYPES[1]:
            patch = from_v20_patch(patch)
        image = await run(records.update, caller, request.path_params["image_id"], patch, check)
        return JSONResponse(image)

    async def delete_image(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        image_id = request.path_params["image_id"]
        locations = await run(records.delete, caller, image_id, check)
        await run(api.service.data.remove, locations, image_id)
        return Response(status_code=204)

    async def deactivate(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        await run(records.set_active, caller, request.path_params["image_id"], False, check)
        return Response(status_code=204)

    async def reactivate(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        await run(records.set_active, caller, request.path_params["image_id"], True, check)
        return Response(status_code=204)

    async def add_tag(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        params = request.path_params
        await run(records.add_tag, caller, params["image_id"], params["tag"], check)
        return Response(status_code=204)

    async def delete_tag(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        params = request.path_params
        await run(records.delete_tag, caller, params["image_id"], params["tag"], check)
        return Response(status_code=204)

    return [
        Route("/v2/images", list_images, methods=["GET"]),
        Route("/v2/images", create_image, methods=["POST"]),
        Route("/v2/images/{image_id}", show_image, methods=["GET"]),
        Route("/v2/images/{image_id}", update_image, methods=["PATCH"]),
        Route("/v2/images/{image_id}", delete_image, methods=["DELETE"]),
        Route("/v2/images/{image_id}/actions/deactivate", deactivate, methods=["POST"]),
        Route("/v2/images/{image_id}/actions/reactivate", reactivate, methods=["POST"]),
        Route("/v2/images/{image_id}/tags/{tag}", add_tag, methods=["PUT"]),
        Route("/v2/images/{image_id}/tags/{tag}", delete_tag, methods=["DELETE"]),
    ]
