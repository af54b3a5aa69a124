"""Version discovery and the /v3/auth API."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from onestack.common.errors import NotFound, Unauthorized
from onestack.common.http import (
    JSONResponse,
    check_json_content_type,
    header,
    parse_json,
    read_body,
    send_json,
)
from onestack.identity import schemas
from onestack.identity.api.common import Api, base_url, ctx_of, no_content, read, run
from onestack.identity.auth import TokenService, ValidToken

VERSION_UPDATED = "2024-01-01T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def version_entry(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": VERSION_UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": MEDIA_TYPES,
    }


def routes(api: Api) -> list[Route]:
    tokens = api.service.tokens
    svc = api.service

    async def versions(request: Request) -> Response:
        body = {"versions": {"values": [version_entry(base_url(request))]}}
        return JSONResponse(body, status_code=300)

    async def version(request: Request) -> Response:
        return JSONResponse({"version": version_entry(base_url(request))})

    def subject(request: Request) -> ValidToken:
        token = request.headers.get("x-subject-token")
        if not token:
            raise NotFound("The X-Subject-Token header is required.")
        return tokens.validate(token)  # answers from its cache first

    async def validate(request: Request) -> Response:
        ctx = ctx_of(request)
        valid = await read(subject, request)
        api.enforce(
            ctx,
            "identity:validate_token",
            {"target": {"token": {"user_id": valid.payload.user_id}}},
        )
        include_catalog = "nocatalog" not in request.query_params
        return JSONResponse(
            tokens.token_body(valid, include_catalog), headers={"X-Subject-Token": valid.token}
        )

    async def check(request: Request) -> Response:
        ctx = ctx_of(request)
        valid = await read(subject, request)
        api.enforce(
            ctx, "identity:check_token", {"target": {"token": {"user_id": valid.payload.user_id}}}
        )
        return Response(status_code=200, headers={"X-Subject-Token": valid.token})

    async def revoke(request: Request) -> Response:
        ctx = ctx_of(request)
        valid = await read(subject, request)
        api.enforce(
            ctx, "identity:revoke_token", {"target": {"token": {"user_id": valid.payload.user_id}}}
        )
        await run(tokens.revoke_token, valid.token)
        return no_content()

    async def auth_catalog(request: Request) -> Response:
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:get_auth_catalog")
        assert ctx.auth is not None
        if ctx.auth.scope_type is None:
            raise Unauthorized("The catalog needs a scoped token.")
        catalog = svc.catalog.catalog(ctx.auth.project_id, ctx.auth.user_id)
        return JSONResponse(
            {"catalog": catalog, "links": {"self": f"{base_url(request)}/v3/auth/catalog"}}
        )

    async def auth_projects(request: Request) -> Response:
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:get_auth_projects")
        assert ctx.auth is not None
        ids = await read(svc.assignments.user_projects, ctx.auth.user_id)
        projects = await read(svc.projects.listing, {"ids": ids, "enabled": True}) if ids else []
        base = base_url(request)
        for p in projects:
            p["links"] = {"self": f"{base}/v3/projects/{p['id']}"}
        return JSONResponse(
            {
                "projects": projects,
                "links": {"self": f"{base}/v3/auth/projects", "previous": None, "next": None},
            }
        )

    async def auth_domains(request: Request) -> Response:
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:get_auth_domains")
        assert ctx.auth is not None
        ids = await read(svc.assignments.user_domains, ctx.auth.user_id)
        domains = await read(svc.domains.listing, {"ids": ids, "enabled": True}) if ids else []
        base = base_url(request)
        for d in domains:
            d["links"] = {"self": f"{base}/v3/domains/{d['id']}"}
        return JSONResponse(
            {
                "domains": domains,
                "links": {"self": f"{base}/v3/auth/domains", "previous": None, "next": None},
            }
        )

    async def auth_system(request: Request) -> Response:
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:get_auth_system")
        assert ctx.auth is not None
        has = await read(svc.assignments.user_has_system, ctx.auth.user_id)
        return JSONResponse(
            {
                "system": [{"all": True}] if has else [],
                "links": {
                    "self": f"{base_url(request)}/v3/auth/system",
                    "previous": None,
                    "next": None,
                },
            }
        )

    return [
        Route("/", versions, methods=["GET"]),
        Route("/v3", version, methods=["GET"]),
        Route("/v3/", version, methods=["GET"]),
        Route("/v3/auth/tokens", IssueToken(tokens), methods=["POST"]),
        # HEAD first: Starlette answers HEAD with a GET route too.
        Route("/v3/auth/tokens", check, methods=["HEAD"]),
        Route("/v3/auth/tokens", validate, methods=["GET"]),
        Route("/v3/auth/tokens", revoke, methods=["DELETE"]),
        Route("/v3/auth/catalog", auth_catalog, methods=["GET"]),
        Route("/v3/auth/projects", auth_projects, methods=["GET"]),
        Route("/v3/auth/domains", auth_domains, methods=["GET"]),
        Route("/v3/auth/system", auth_system, methods=["GET"]),
    ]


class IssueToken:
    """POST /v3/auth/tokens, the busiest route of the cloud, as a plain ASGI app.

    Token issue with the token method is answered from caches in tens of microseconds, so a
    Request and a Response object per call (header maps, a body stream, query parsing) were a
    large share of it. Faults are raised as :class:`OnestackError`, rendered by the caller
    (the router's exception handler or ``PublicFastPaths``) as for every other route.
    """

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        check_json_content_type(header(scope, b"content-type") or "")
        body = parse_json(await read_body(receive), schemas.auth_request)
        methods = body["auth"]["identity"]["methods"]
        # Hashing a password or secret is slow CPU work: a worker thread, so that two run on
        # two cores. The token method only reads (cached) data.
        hashes = "password" in methods or "application_credential" in methods
        valid = await (run if hashes else read)(self.tokens.authenticate, body["auth"])
        query = scope["query_string"]
        include_catalog = not query or "nocatalog" not in QueryParams(query)
        payload = orjson.dumps(self.tokens.token_body(valid, include_catalog))
        await send_json(send, 201, payload, [(b"x-subject-token", valid.token.encode())])


PUBLIC = {
    ("GET", "/"),
    ("GET", "/v3"),
    ("GET", "/v3/"),
    ("POST", "/v3/auth/tokens"),
    ("HEAD", "/"),
    ("HEAD", "/v3"),
}


def is_public(method: str, path: str) -> bool:
    if (method, path) in PUBLIC:
        return True
    # Changing one's own password needs the old one, not a token (it may have expired).
    return method == "POST" and path.startswith("/v3/users/") and path.endswith("/password")
