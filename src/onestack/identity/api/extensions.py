"""Routes for policy documents, domain configuration, access rules and EC2 credentials."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.http import JSONResponse, read_json
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
from onestack.identity.schemas import obj, wrap

POLICY = {"type": {"type": "string", "minLength": 1, "maxLength": 255}, "blob": {"type": "string"}}
policy_create = wrap("policy", obj(POLICY, ("type", "blob")))
policy_update = wrap("policy", obj(POLICY, min_props=1))
domain_config = wrap("config", {"type": "object", "minProperties": 1})
ec2_create = obj({"tenant_id": {"type": "string", "minLength": 1}}, ("tenant_id",))


def routes(api: Api) -> list[Route]:
    svc = api.service

    # -- /v3/policies ---------------------------------------------------------------------

    def policy_out(request: Request, policy: dict[str, Any], status: int = 200) -> Response:
        href = f"{base_url(request)}/v3/policies/{policy['id']}"
        return JSONResponse({"policy": with_links(policy, href)}, status_code=status)

    async def list_policies(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:list_policies")
        found = await read(svc.policies.listing, filters(request, ("type",)))
        return collection(request, "policies", found, "/v3/policies")

    async def create_policy(request: Request) -> Response:
        body = await read_json(request, policy_create)
        api.enforce(ctx_of(request), "identity:create_policy")
        return policy_out(request, await run(svc.policies.create, body["policy"]), 201)

    async def get_policy(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:get_policy")
        return policy_out(request, await read(svc.policies.get, request.path_params["id"]))

    async def update_policy(request: Request) -> Response:
        body = await read_json(request, policy_update)
        api.enforce(ctx_of(request), "identity:update_policy")
        policy = await run(svc.policies.update, request.path_params["id"], body["policy"])
        return policy_out(request, policy)

    async def delete_policy(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:delete_policy")
        await run(svc.policies.delete, request.path_params["id"])
        return no_content()

    # -- /v3/domains/{id}/config ----------------------------------------------------------

    configs = svc.domain_configs

    def where(request: Request) -> tuple[str, str | None, str | None]:
        p = request.path_params
        return p["domain_id"], p.get("group"), p.get("option")

    async def put_config(request: Request) -> Response:
        body = await read_json(request, domain_config)
        api.enforce(ctx_of(request), "identity:create_domain_config")
        config, created = await run(
            configs.replace, request.path_params["domain_id"], body["config"]
        )
        return JSONResponse({"config": config}, status_code=201 if created else 200)

    async def get_config(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:get_domain_config")
        return JSONResponse({"config": await read(configs.get, *where(request))})

    async def patch_config(request: Request) -> Response:
        body = await read_json(request, domain_config)
        api.enforce(ctx_of(request), "identity:update_domain_config")
        domain_id, group, option = where(request)
        config = await run(configs.update, domain_id, body["config"], group, option)
        return JSONResponse({"config": config})

    async def delete_config(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:delete_domain_config")
        await run(configs.delete, *where(request))
        return no_content()

    async def default_config(request: Request) -> Response:
        api.enforce(ctx_of(request), "identity:get_domain_config_default")
        p = request.path_params
        return JSONResponse({"config": configs.defaults(p.get("group"), p.get("option"))})

    # -- access rules ---------------------------------------------------------------------

    async def list_access_rules(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:list_access_rules", {"user_id": user_id})
        rules = await read(svc.app_creds.access_rules, user_id)
        return collection(request, "access_rules", rules, f"/v3/users/{user_id}/access_rules")

    async def get_access_rule(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:get_access_rule", {"user_id": user_id})
        rule = await read(svc.app_creds.access_rule, user_id, request.path_params["rule_id"])
        href = f"{base_url(request)}/v3/users/{user_id}/access_rules/{rule['id']}"
        return JSONResponse({"access_rule": with_links(rule, href)})

    async def delete_access_rule(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:delete_access_rule", {"user_id": user_id})
        await run(svc.app_creds.delete_access_rule, user_id, request.path_params["rule_id"])
        return no_content()

    # -- EC2 credentials ------------------------------------------------------------------

    def ec2_out(request: Request, user_id: str, cred: dict[str, Any]) -> dict[str, Any]:
        href = f"{base_url(request)}/v3/users/{user_id}/credentials/OS-EC2/{cred['access']}"
        return with_links(cred, href)

    async def ec2_list(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:ec2_list_credentials", {"user_id": user_id})
        found = await read(svc.credentials.ec2_list, user_id)
        href = f"{base_url(request)}/v3/users/{user_id}/credentials/OS-EC2"
        return JSONResponse(
            {
                "credentials": [ec2_out(request, user_id, c) for c in found],
                "links": {"self": href, "previous": None, "next": None},
            }
        )

    async def ec2_create_route(request: Request) -> Response:
        body = await read_json(request, ec2_create)
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:ec2_create_credential", {"user_id": user_id})
        cred = await run(svc.credentials.ec2_create, user_id, body["tenant_id"])
        return JSONResponse({"credential": ec2_out(request, user_id, cred)}, status_code=201)

    async def ec2_get(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:ec2_get_credential", {"user_id": user_id})
        cred = await read(svc.credentials.ec2_get, user_id, request.path_params["access"])
        return JSONResponse({"credential": ec2_out(request, user_id, cred)})

    async def ec2_delete(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:ec2_delete_credential", {"user_id": user_id})
        await run(svc.credentials.ec2_delete, user_id, request.path_params["access"])
        return no_content()

    config_paths = (
        "/v3/domains/{domain_id}/config",
        "/v3/domains/{domain_id}/config/{group}",
        "/v3/domains/{domain_id}/config/{group}/{option}",
    )
    config_routes: list[Route] = [
        Route("/v3/domains/config/default", default_config, methods=["GET"]),
        Route("/v3/domains/config/{group}/default", default_config, methods=["GET"]),
        Route("/v3/domains/config/{group}/{option}/default", default_config, methods=["GET"]),
        Route(config_paths[0], put_config, methods=["PUT"]),
    ]
    for path in config_paths:
        config_routes += [
            Route(path, get_config, methods=["GET"]),
            Route(path, patch_config, methods=["PATCH"]),
            Route(path, delete_config, methods=["DELETE"]),
        ]
    ec2 = "/v3/users/{user_id}/credentials/OS-EC2"
    return [
        Route("/v3/policies", list_policies, methods=["GET"]),
        Route("/v3/policies", create_policy, methods=["POST"]),
        Route("/v3/policies/{id}", get_policy, methods=["GET"]),
        Route("/v3/policies/{id}", update_policy, methods=["PATCH"]),
        Route("/v3/policies/{id}", delete_policy, methods=["DELETE"]),
        *config_routes,
        Route("/v3/users/{user_id}/access_rules", list_access_rules, methods=["GET"]),
        Route("/v3/users/{user_id}/access_rules/{rule_id}", get_access_rule, methods=["GET"]),
        Route("/v3/users/{user_id}/access_rules/{rule_id}", delete_access_rule, methods=["DELETE"]),
        Route(ec2, ec2_list, methods=["GET"]),
        Route(ec2, ec2_create_route, methods=["POST"]),
        Route(f"{ec2}/{{access}}", ec2_get, methods=["GET"]),
        Route(f"{ec2}/{{access}}", ec2_delete, methods=["DELETE"]),
    ]
