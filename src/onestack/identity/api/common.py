"""What every identity route uses: the fault body, links, filters, pagination, threads."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from onestack.common.blocking import Reads
from onestack.common.blocking import run as run  # re-exported for the route modules
from onestack.common.context import RequestContext
from onestack.common.errors import BadRequest, OnestackError, Unauthorized
from onestack.common.http import JSONResponse, context, parse_bool
from onestack.common.http import base_url as base_url  # re-exported for the route modules
from onestack.common.policy import Enforcer
from onestack.identity.service import IdentityService


def fault(error: OnestackError) -> Response:
    """Keystone's error body: {"error": {"code", "message", "title"}}."""
    headers = dict(error.headers)
    if isinstance(error, Unauthorized):
        headers.setdefault("WWW-Authenticate", 'Keystone uri="/identity"')
    body = {"error": {"code": error.status, "message": error.message, "title": error.title}}
    return JSONResponse(body, status_code=error.status, headers=headers)


class Api:
    """The identity service and policy, handed to every route module."""

    def __init__(self, service: IdentityService, enforcer: Enforcer) -> None:
        self.service = service
        self.enforcer = enforcer

    def enforce(self, ctx: RequestContext, rule: str, target: dict[str, Any] | None = None) -> None:
        if ctx.auth is None:
            raise Unauthorized()
        self.enforcer.enforce(ctx, rule, target)


# Writes (and bcrypt) in a worker thread; reads inline on SQLite (see common/blocking.py).
read = Reads()


def set_inline_reads(inline: bool) -> None:
    read.inline = inline


def with_links(entity: dict[str, Any], href: str) -> dict[str, Any]:
    entity["links"] = {"self": href}
    return entity


def collection(
    request: Request,
    key: str,
    items: list[dict[str, Any]],
    path: str,
    list_limit: int = 0,
) -> Response:
    """A list response with Keystone's links, ``limit``/``marker`` pagination and truncation."""
    base = base_url(request)
    limit_text = request.query_params.get("limit")
    marker = request.query_params.get("marker")
    next_link = None
    truncated = False
    if marker:
        ids = [item.get("id") for item in items]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} not found.")
        items = items[ids.index(marker) + 1 :]
    limit = None
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise BadRequest(f"Invalid limit {limit_text!r}.") from None
        if limit < 0:
            raise BadRequest(f"Invalid limit {limit_text!r}.")
    elif list_limit:
        limit = list_limit
    if limit is not None and len(items) > limit:
        items = items[:limit]
        if limit_text is not None and items:
            params = dict(request.query_params)
            params["marker"] = str(items[-1]["id"])
            next_link = f"{base}{path}?{urlencode(params)}"
        else:
            truncated = True
    for item in items:
        item.setdefault("links", {"self": f"{base}{path}/{item['id']}"})
    query = f"?{request.url.query}" if request.url.query else ""
    body: dict[str, Any] = {
        key: items,
        "links": {"self": f"{base}{path}{query}", "previous": None, "next": next_link},
    }
    if truncated:
        body["truncated"] = True
    return JSONResponse(body)


def filters(
    request: Request, names: tuple[str, ...], bools: tuple[str, ...] = ("enabled",)
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in names:
        value = request.query_params.get(name)
        if value is None:
            continue
        result[name] = parse_bool(value, name) if name in bools else value
    return result


def ctx_of(request: Request) -> RequestContext:
    return context(request)


def default_domain(ctx: RequestContext) -> str | None:
    """The domain a new project, user or group lands in when the request names none."""
    auth = ctx.auth
    if auth is None:
        return None
    return auth.domain_id or auth.project_domain_id or auth.user_domain_id


def no_content() -> Response:
    return Response(status_code=204)
