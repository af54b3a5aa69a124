"""/v2/images/{image_id}/members: sharing an image with other projects."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import BadRequest
from onestack.common.http import JSONResponse, read_json
from onestack.image.api.common import Api, run
from onestack.image.views import SCHEMA_MEMBERS


def routes(api: Api) -> list[Route]:
    members = api.service.members

    async def list_members(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        found = await api.read(members.list, caller, request.path_params["image_id"], check)
        return JSONResponse({"members": found, "schema": SCHEMA_MEMBERS})

    async def add_member(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        if not isinstance(body, dict) or "member" not in body:
            raise BadRequest("The request body must be an object with a 'member'.")
        image_id = request.path_params["image_id"]
        member = await run(members.add, caller, image_id, body["member"], check)
        return JSONResponse(member)

    async def show_member(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        params = request.path_params
        member = await api.read(
            members.show, caller, params["image_id"], params["member_id"], check
        )
        return JSONResponse(member)

    async def update_member(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        body = await read_json(request)
        if not isinstance(body, dict) or "status" not in body:
            raise BadRequest("The request body must be an object with a 'status'.")
        params = request.path_params
        member = await run(
            members.update, caller, params["image_id"], params["member_id"], body["status"], check
        )
        return JSONResponse(member)

    async def delete_member(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        params = request.path_params
        await run(members.delete, caller, params["image_id"], params["member_id"], check)
        return Response(status_code=204)

    path = "/v2/images/{image_id}/members"
    return [
        Route(path, list_members, methods=["GET"]),
        Route(path, add_member, methods=["POST"]),
        Route(path + "/{member_id}", show_member, methods=["GET"]),
        Route(path + "/{member_id}", update_member, methods=["PUT"]),
        Route(path + "/{member_id}", delete_member, methods=["DELETE"]),
    ]
