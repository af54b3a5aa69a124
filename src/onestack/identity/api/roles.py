"""Routes for roles, implied roles, role grants and the role_assignments listing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import ValidationError
from onestack.common.http import JSONResponse, parse_bool, read_json
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
from onestack.identity.assignments import Grant

Handler = Callable[[Request], Awaitable[Response]]


def routes(api: Api) -> list[Route]:
    svc = api.service

    def role_out(request: Request, role: dict[str, Any]) -> dict[str, Any]:
        return with_links(role, f"{base_url(request)}/v3/roles/{role['id']}")

    def brief(request: Request, role: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": role["id"],
            "name": role["name"],
            "links": {"self": f"{base_url(request)}/v3/roles/{role['id']}"},
        }

    # -- roles ----------------------------------------------------------------------------

    async def list_roles(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:list_roles")
        found = await read(svc.roles.listing, filters(request, ("name", "domain_id")))
        return collection(request, "roles", found, "/v3/roles")

    async def create_role(request: Request) -> Response:
        body = await read_json(request, schemas.role_create)
        api.enforce(ctx_of(request), "identity:create_role", {"target": {"role": body["role"]}})
        role = await run(svc.roles.create, body["role"])
        return JSONResponse({"role": role_out(request, role)}, status_code=201)

    async def get_role(request: Request) -> Response:
        role = await read(svc.roles.get, request.path_params["role_id"])
        api.enforce(ctx_of(request), "identity:get_role", {"target": {"role": role}})
        return JSONResponse({"role": role_out(request, role)})

    async def update_role(request: Request) -> Response:
        body = await read_json(request, schemas.role_update)
        role = await read(svc.roles.get, request.path_params["role_id"])
        api.enforce(ctx_of(request), "identity:update_role", {"target": {"role": role}})
        updated = await run(svc.roles.update, role["id"], body["role"])
        return JSONResponse({"role": role_out(request, updated)})

    async def delete_role(request: Request) -> Response:
        role = await read(svc.roles.get, request.path_params["role_id"])
        api.enforce(ctx_of(request), "identity:delete_role", {"target": {"role": role}})
        await run(svc.roles.delete, role["id"])
        return no_content()

    # -- implied roles --------------------------------------------------------------------

    def inference(request: Request, prior: dict[str, Any], implied: Any) -> dict[str, Any]:
        if isinstance(implied, list):
            implies: Any = [brief(request, r) for r in implied]
        else:
            implies = brief(request, implied)
        return {"prior_role": brief(request, prior), "implies": implies}

    def rule_link(request: Request) -> dict[str, str]:
        p = request.path_params
        return {"self": f"{base_url(request)}/v3/roles/{p['prior_id']}/implies/{p['implied_id']}"}

    async def create_implied(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:create_implied_role")
        p = request.path_params
        prior, implied = await run(svc.roles.create_implied, p["prior_id"], p["implied_id"])
        body = {"role_inference": inference(request, prior, implied), "links": rule_link(request)}
        return JSONResponse(body, status_code=201)

    async def get_implied(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:get_implied_role")
        p = request.path_params
        prior, implied = await read(svc.roles.get_implied, p["prior_id"], p["implied_id"])
        body = {"role_inference": inference(request, prior, implied), "links": rule_link(request)}
        return JSONResponse(body)

    async def check_implied(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:check_implied_role")
        p = request.path_params
        await read(svc.roles.get_implied, p["prior_id"], p["implied_id"])
        return no_content()

    async def delete_implied(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:delete_implied_role")
        p = request.path_params
        await run(svc.roles.delete_implied, p["prior_id"], p["implied_id"])
        return no_content()

    async def list_implied(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:list_implied_roles")
        prior_id = request.path_params["prior_id"]
        prior, implied = await read(svc.roles.list_implied, prior_id)
        href = f"{base_url(request)}/v3/roles/{prior_id}/implies"
        return JSONResponse(
            {"role_inference": inference(request, prior, implied), "links": {"self": href}}
        )

    async def list_inferences(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:list_role_inference_rules")
        rules = await read(svc.roles.list_inferences)
        href = f"{base_url(request)}/v3/role_inferences"
        return JSONResponse(
            {
                "role_inferences": [inference(request, p, i) for p, i in rules],
                "links": {"self": href},
            }
        )

    # -- grants ---------------------------------------------------------------------------

    def grant_routes(target: str, actor: str, inherited: bool) -> list[Route]:
        prefix = f"/v3/OS-INHERIT/{target}s" if inherited else f"/v3/{target}s"
        if target == "system":
            base_path = f"/v3/system/{actor}s/{{actor_id}}/roles"
        else:
            base_path = f"{prefix}/{{target_id}}/{actor}s/{{actor_id}}/roles"
        suffix = "/inherited_to_projects" if inherited else ""
        sys_rule = f"system_grant_for_{actor}" if target == "system" else None

        async def target_info(request: Request) -> dict[str, Any]:
            target_id = request.path_params.get("target_id", "all")
            if target == "project":
                return {"project": await read(svc.projects.get, target_id)}
            if target == "domain":
                return {"domain": await read(svc.domains.get, target_id)}
            return {}

        def args(request: Request) -> tuple[str, str, str, str]:
            p = request.path_params
            return actor, p["actor_id"], target, p.get("target_id", "all")

        async def enforce(request: Request, op: str) -> None:
            if sys_rule:
                names = {"check": "check", "create": "create", "revoke": "revoke", "list": "list"}
                rule = f"identity:{names[op]}_{sys_rule}"
                if op == "list":
                    rule = f"identity:list_system_grants_for_{actor}"
                api.enforce(ctx_of(request), rule)
            else:
                rule = {
                    "check": "check_grant",
                    "create": "create_grant",
                    "revoke": "revoke_grant",
                    "list": "list_grants",
                }[op]
                api.enforce(
                    ctx_of(request), f"identity:{rule}", {"target": await target_info(request)}
                )

        async def put(request: Request) -> Response:
            await enforce(request, "create")
            await run(
                svc.assignments.grant, *args(request), request.path_params["role_id"], inherited
            )
            return no_content()

        async def head(request: Request) -> Response:
            await enforce(request, "check")
            await run(
                svc.assignments.check, *args(request), request.path_params["role_id"], inherited
            )
            return no_content()

        async def delete(request: Request) -> Response:
            await enforce(request, "revoke")
            await run(
                svc.assignments.revoke_grant,
                *args(request),
                request.path_params["role_id"],
                inherited,
            )
            return no_content()

        async def list_(request: Request) -> Response:
            await enforce(request, "list")
            roles = await read(svc.assignments.list_grants, *args(request), inherited)
            for role in roles:
                role_out(request, role)
            path = request.url.path.removeprefix(request.scope.get("root_path", ""))
            href = f"{base_url(request)}{path}"
            return JSONResponse(
                {"roles": roles, "links": {"self": href, "previous": None, "next": None}}
            )

        one = f"{base_path}/{{role_id}}{suffix}"
        return [
            Route(f"{base_path}{suffix}", list_, methods=["GET"]),
            Route(one, head, methods=["HEAD"]),
            Route(one, head, methods=["GET"]),
            Route(one, put, methods=["PUT"]),
            Route(one, delete, methods=["DELETE"]),
        ]

    grants: list[Route] = []
    for target in ("project", "domain"):
        for actor in ("user", "group"):
            grants += grant_routes(target, actor, inherited=False)
            grants += grant_routes(target, actor, inherited=True)
    for actor in ("user", "group"):
        grants += grant_routes("system", actor, inherited=False)

    # -- GET /v3/role_assignments ---------------------------------------------------------

    async def role_assignments(request: Request) -> Response:
        q = request.query_params
        keys = (
            "user.id",
            "group.id",
            "role.id",
            "scope.project.id",
            "scope.domain.id",
            "scope.system",
            "scope.OS-INHERIT:inherited_to",
        )
        wanted = {k: q[k] for k in keys if k in q}
        effective = parse_bool(q.get("effective"), "effective") or False
        names = parse_bool(q.get("include_names"), "include_names") or False
        subtree = parse_bool(q.get("include_subtree"), "include_subtree") or False
        if effective and "group.id" in wanted:
            raise ValidationError("The group.id filter cannot be combined with effective.")
        if subtree and "scope.project.id" not in wanted:
            raise ValidationError("include_subtree needs scope.project.id.")
        if "scope.project.id" in wanted and "scope.domain.id" in wanted:
            raise ValidationError("Specify one of scope.project.id and scope.domain.id.")
        ctx = ctx_of(request)
        if subtree:
            project = await read(svc.projects.get, wanted["scope.project.id"])
            api.enforce(
                ctx, "identity:list_role_assignments_for_tree", {"target": {"project": project}}
            )
        else:
            api.enforce(
                ctx,
                "identity:list_role_assignments",
                {"target": {"domain_id": wanted.get("scope.domain.id")}},
            )
        grants_found = await read(svc.assignments.list_assignments, wanted, effective, subtree)
        info = await read(svc.assignments.names, grants_found) if names else {}
        base = base_url(request)
        body = [_assignment(g, base, info, names) for g in grants_found]
        query = f"?{request.url.query}" if request.url.query else ""
        return JSONResponse(
            {
                "role_assignments": body,
                "links": {
                    "self": f"{base}/v3/role_assignments{query}",
                    "previous": None,
                    "next": None,
                },
            }
        )

    return [
        Route("/v3/roles", list_roles, methods=["GET"]),
        Route("/v3/roles", create_role, methods=["POST"]),
        Route("/v3/roles/{role_id}", get_role, methods=["GET"]),
        Route("/v3/roles/{role_id}", update_role, methods=["PATCH"]),
        Route("/v3/roles/{role_id}", delete_role, methods=["DELETE"]),
        Route("/v3/roles/{prior_id}/implies", list_implied, methods=["GET"]),
        Route("/v3/roles/{prior_id}/implies/{implied_id}", check_implied, methods=["HEAD"]),
        Route("/v3/roles/{prior_id}/implies/{implied_id}", get_implied, methods=["GET"]),
        Route("/v3/roles/{prior_id}/implies/{implied_id}", create_implied, methods=["PUT"]),
        Route("/v3/roles/{prior_id}/implies/{implied_id}", delete_implied, methods=["DELETE"]),
        Route("/v3/role_inferences", list_inferences, methods=["GET"]),
        Route("/v3/role_assignments", role_assignments, methods=["GET"]),
        *grants,
    ]


def _grant_link(g: Grant, base: str) -> str:
    actor = f"{g.actor_kind}s/{g.actor_id}"
    if g.target_kind == "system":
        return f"{base}/v3/system/{actor}/roles/{g.role_id}"
    target = f"{g.target_kind}s/{g.target_id}"
    if g.inherited:
        return f"{base}/v3/OS-INHERIT/{target}/{actor}/roles/{g.role_id}/inherited_to_projects"
    return f"{base}/v3/{target}/{actor}/roles/{g.role_id}"


def _assignment(
    g: Grant, base: str, info: dict[str, dict[str, Any]], names: bool
) -> dict[str, Any]:
    def ref(ident: str) -> dict[str, Any]:
        return dict(info.get(ident, {"id": ident})) if names else {"id": ident}

    if g.target_kind == "system":
        scope: dict[str, Any] = {"system": {"all": True}}
    else:
        scope = {g.target_kind: ref(g.target_id)}
    if g.inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
    # Effective lines point at the assignment they come from.
    source = g.source or g
    if g.prior_role_id:
        source = Grant(
            role_id=g.prior_role_id,
            actor_kind=source.actor_kind,
            actor_id=source.actor_id,
            target_kind=source.target_kind,
            target_id=source.target_id,
            inherited=source.inherited,
        )
    if g.via_group and g.source is None:
        source = Grant(
            role_id=source.role_id,
            actor_kind="group",
            actor_id=g.via_group,
            target_kind=source.target_kind,
            target_id=source.target_id,
            inherited=source.inherited,
        )
    links: dict[str, str] = {"assignment": _grant_link(source, base)}
    if g.via_group:
        links["membership"] = f"{base}/v3/groups/{g.via_group}/users/{g.actor_id}"
    if g.prior_role_id:
        links["prior_role"] = f"{base}/v3/roles/{g.prior_role_id}/implies/{g.role_id}"
    entry: dict[str, Any] = {
        "role": ref(g.role_id),
        g.actor_kind: ref(g.actor_id),
        "scope": scope,
        "links": links,
    }
    if g.prior_role_id:
        entry["prior_role"] = ref(g.prior_role_id)
    return entry
