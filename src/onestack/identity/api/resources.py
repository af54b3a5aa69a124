"""Routes for domains, projects and project tags."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import NotFound
from onestack.common.http import JSONResponse, parse_bool, read_json
from onestack.identity import schemas
from onestack.identity.api.common import (
    Api,
    base_url,
    collection,
    ctx_of,
    default_domain,
    filters,
    no_content,
    read,
    run,
    with_links,
)


def routes(api: Api) -> list[Route]:
    svc = api.service
    limit = api.service.settings.identity.list_limit

    def one(
        request: Request, key: str, path: str, entity: dict[str, Any], status: int = 200
    ) -> Response:
        href = f"{base_url(request)}{path}/{entity['id']}"
        return JSONResponse({key: with_links(entity, href)}, status_code=status)

    # -- domains --------------------------------------------------------------------------

    async def list_domains(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:list_domains")
        found = await read(svc.domains.listing, filters(request, ("name", "enabled")))
        return collection(request, "domains", found, "/v3/domains", limit)

    async def create_domain(request: Request) -> Response:
        body = await read_json(request, schemas.domain_create)
        api.enforce(ctx_of(request), "identity:create_domain", {"domain": body["domain"]})
        domain = await run(svc.domains.create, body["domain"])
        return one(request, "domain", "/v3/domains", domain, 201)

    async def get_domain(request: Request) -> Response:
        domain_id = request.path_params["domain_id"]
        domain = await read(svc.domains.get, domain_id)
        api.enforce(ctx_of(request), "identity:get_domain", {"target": {"domain": domain}})
        return one(request, "domain", "/v3/domains", domain)

    async def update_domain(request: Request) -> Response:
        body = await read_json(request, schemas.domain_update)
        domain_id = request.path_params["domain_id"]
        current = await read(svc.domains.get, domain_id)
        api.enforce(ctx_of(request), "identity:update_domain", {"target": {"domain": current}})
        domain = await run(svc.domains.update, domain_id, body["domain"])
        return one(request, "domain", "/v3/domains", domain)

    async def delete_domain(request: Request) -> Response:
        domain_id = request.path_params["domain_id"]
        current = await read(svc.domains.get, domain_id)
        api.enforce(ctx_of(request), "identity:delete_domain", {"target": {"domain": current}})
        await run(svc.domains.delete, domain_id)
        return no_content()

    # -- projects -------------------------------------------------------------------------

    async def list_projects(request: Request) -> Response:
        wanted = filters(
            request,
            ("name", "domain_id", "enabled", "parent_id", "is_domain"),
            bools=("enabled", "is_domain"),
        )
        for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
            if key in request.query_params:
                wanted[key] = request.query_params[key].split(",")
        api.enforce(
            ctx_of(request),
            "identity:list_projects",
            {"target": {"domain_id": wanted.get("domain_id")}},
        )
        found = await read(svc.projects.listing, wanted)
        return collection(request, "projects", found, "/v3/projects", limit)

    async def create_project(request: Request) -> Response:
        body = await read_json(request, schemas.project_create)
        ctx = ctx_of(request)
        project = dict(body["project"])
        project.setdefault("domain_id", None)
        if project["domain_id"] is None and not project.get("parent_id"):
            project["domain_id"] = default_domain(ctx)
        api.enforce(ctx, "identity:create_project", {"target": {"project": project}})
        created = await run(svc.projects.create, body["project"], default_domain(ctx))
        return one(request, "project", "/v3/projects", created, 201)

    async def get_project(request: Request) -> Response:
        project_id = request.path_params["project_id"]
        project = await read(svc.projects.get, project_id)
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:get_project", {"target": {"project": project}})
        base = base_url(request)
        query = request.query_params
        if parse_bool(query.get("parents_as_list"), "parents_as_list"):
            parents = await read(svc.projects.parents, project_id)
            project["parents"] = [
                {"project": with_links(p, f"{base}/v3/projects/{p['id']}")} for p in parents
            ]
        if parse_bool(query.get("parents_as_ids"), "parents_as_ids"):
            parents = await read(svc.projects.parents, project_id)
            nested: dict[str, Any] | None = None
            for p in reversed(parents):
                nested = {p["id"]: nested}
            project["parents"] = nested
        if parse_bool(query.get("subtree_as_list"), "subtree_as_list"):
            subtree = await read(svc.projects.subtree, project_id)
            project["subtree"] = [
                {"project": with_links(p, f"{base}/v3/projects/{p['id']}")} for p in subtree
            ]
        if parse_bool(query.get("subtree_as_ids"), "subtree_as_ids"):
            subtree = await read(svc.projects.subtree, project_id)
            project["subtree"] = _nest(project_id, subtree)
        return one(request, "project", "/v3/projects", project)

    async def update_project(request: Request) -> Response:
        body = await read_json(request, schemas.project_update)
        project_id = request.path_params["project_id"]
        current = await read(svc.projects.get, project_id)
        api.enforce(ctx_of(request), "identity:update_project", {"target": {"project": current}})
        project = await run(svc.projects.update, project_id, body["project"])
        return one(request, "project", "/v3/projects", project)

    async def delete_project(request: Request) -> Response:
        project_id = request.path_params["project_id"]
        current = await read(svc.projects.get, project_id)
        api.enforce(ctx_of(request), "identity:delete_project", {"target": {"project": current}})
        await run(svc.projects.delete, project_id)
        return no_content()

    # -- project tags ---------------------------------------------------------------------

    async def _project_target(request: Request, rule: str) -> str:
        project_id = request.path_params["project_id"]
        project = await read(svc.projects.get, project_id)
        api.enforce(ctx_of(request), rule, {"target": {"project": project}})
        return project_id

    async def list_tags(request: Request) -> Response:
        project_id = await _project_target(request, "identity:list_project_tags")
        return JSONResponse({"tags": await read(svc.projects.tags, project_id)})

    async def replace_tags(request: Request) -> Response:
        body = await read_json(request, schemas.project_tags)
        project_id = await _project_target(request, "identity:update_project_tags")
        return JSONResponse({"tags": await run(svc.projects.set_tags, project_id, body["tags"])})

    async def delete_tags(request: Request) -> Response:
        project_id = await _project_target(request, "identity:delete_project_tags")
        await run(svc.projects.set_tags, project_id, [])
        return no_content()

    async def check_tag(request: Request) -> Response:
        project_id = await _project_target(request, "identity:get_project_tag")
        if not await read(svc.projects.has_tag, project_id, request.path_params["tag"]):
            raise NotFound(f"Tag {request.path_params['tag']} not found.")
        return no_content()

    async def add_tag(request: Request) -> Response:
        project_id = await _project_target(request, "identity:create_project_tag")
        tag = request.path_params["tag"]
        await run(svc.projects.add_tag, project_id, tag)
        href = f"{base_url(request)}/v3/projects/{project_id}/tags/{tag}"
        return Response(status_code=201, headers={"Location": href})

    async def remove_tag(request: Request) -> Response:
        project_id = await _project_target(request, "identity:delete_project_tag")
        await run(svc.projects.remove_tag, project_id, request.path_params["tag"])
        return no_content()

    return [
        Route("/v3/domains", list_domains, methods=["GET"]),
        Route("/v3/domains", create_domain, methods=["POST"]),
        Route("/v3/domains/{domain_id}", get_domain, methods=["GET"]),
        Route("/v3/domains/{domain_id}", update_domain, methods=["PATCH"]),
        Route("/v3/domains/{domain_id}", delete_domain, methods=["DELETE"]),
        Route("/v3/projects", list_projects, methods=["GET"]),
        Route("/v3/projects", create_project, methods=["POST"]),
        Route("/v3/projects/{project_id}", get_project, methods=["GET"]),
        Route("/v3/projects/{project_id}", update_project, methods=["PATCH"]),
        Route("/v3/projects/{project_id}", delete_project, methods=["DELETE"]),
        Route("/v3/projects/{project_id}/tags", list_tags, methods=["GET"]),
        Route("/v3/projects/{project_id}/tags", replace_tags, methods=["PUT"]),
        Route("/v3/projects/{project_id}/tags", delete_tags, methods=["DELETE"]),
        Route("/v3/projects/{project_id}/tags/{tag}", check_tag, methods=["GET"]),
        Route("/v3/projects/{project_id}/tags/{tag}", add_tag, methods=["PUT"]),
        Route("/v3/projects/{project_id}/tags/{tag}", remove_tag, methods=["DELETE"]),
    ]


def _nest(root: str, subtree: list[dict[str, Any]]) -> dict[str, Any] | None:
    children: dict[str, list[str]] = {}
    for p in subtree:
        children.setdefault(p["parent_id"], []).append(p["id"])

    def build(node: str) -> dict[str, Any] | None:
        kids = children.get(node)
        if not kids:
            return None
        return {kid: build(kid) for kid in kids}

    return build(root)
