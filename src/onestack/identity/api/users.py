"""Routes for users, groups, membership, passwords, credentials, application credentials."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onestack.common.errors import Forbidden, ValidationError
from onestack.common.http import JSONResponse, read_json
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
    limit = svc.settings.identity.list_limit

    def one(
        request: Request, key: str, path: str, entity: dict[str, Any], status: int = 200
    ) -> Response:
        href = f"{base_url(request)}{path}/{entity['id']}"
        return JSONResponse({key: with_links(entity, href)}, status_code=status)

    # -- users ----------------------------------------------------------------------------

    async def list_users(request: Request) -> Response:
        wanted = filters(request, ("name", "domain_id", "enabled"))
        api.enforce(
            ctx_of(request),
            "identity:list_users",
            {"target": {"domain_id": wanted.get("domain_id")}},
        )
        return collection(
            request, "users", await read(svc.users.listing, wanted), "/v3/users", limit
        )

    async def create_user(request: Request) -> Response:
        body = await read_json(request, schemas.user_create)
        ctx = ctx_of(request)
        user = dict(body["user"])
        user["domain_id"] = user.get("domain_id") or default_domain(ctx)
        api.enforce(ctx, "identity:create_user", {"target": {"user": user}})
        created = await run(svc.users.create, body["user"], default_domain(ctx))
        return one(request, "user", "/v3/users", created, 201)

    async def _user(request: Request, rule: str) -> dict[str, Any]:
        user = await read(svc.users.get, request.path_params["user_id"])
        api.enforce(ctx_of(request), rule, {"target": {"user": user}, "user_id": user["id"]})
        return user

    async def get_user(request: Request) -> Response:
        return one(request, "user", "/v3/users", await _user(request, "identity:get_user"))

    async def update_user(request: Request) -> Response:
        body = await read_json(request, schemas.user_update)
        user = await _user(request, "identity:update_user")
        updated = await run(svc.users.update, user["id"], body["user"])
        return one(request, "user", "/v3/users", updated)

    async def delete_user(request: Request) -> Response:
        user = await _user(request, "identity:delete_user")
        await run(svc.users.delete, user["id"])
        return no_content()

    async def change_password(request: Request) -> Response:
        body = await read_json(request, schemas.password_change)
        api.enforcer.enforce(ctx_of(request), "identity:change_password", {})
        change = body["user"]
        await run(
            svc.users.change_password,
            request.path_params["user_id"],
            change["original_password"],
            change["password"],
        )
        return no_content()

    async def user_groups(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        user = await read(svc.users.get, user_id)
        api.enforce(
            ctx_of(request),
            "identity:list_groups_for_user",
            {"target": {"user": user}, "user_id": user_id},
        )
        groups = await read(svc.users.groups, user_id)
        return collection(request, "groups", groups, "/v3/groups")

    async def user_projects(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        user = await read(svc.users.get, user_id)
        api.enforce(
            ctx_of(request),
            "identity:list_user_projects",
            {"target": {"user": user}, "user_id": user_id},
        )
        ids = await read(svc.assignments.user_projects, user_id)
        wanted = filters(request, ("name", "domain_id", "enabled"))
        projects = await read(svc.projects.listing, {**wanted, "ids": ids}) if ids else []
        return collection(request, "projects", projects, "/v3/projects")

    # -- groups ---------------------------------------------------------------------------

    async def list_groups(request: Request) -> Response:
        wanted = filters(request, ("name", "domain_id"))
        api.enforce(
            ctx_of(request),
            "identity:list_groups",
            {"target": {"domain_id": wanted.get("domain_id")}},
        )
        groups = await read(svc.groups.listing, wanted)
        return collection(request, "groups", groups, "/v3/groups", limit)

    async def create_group(request: Request) -> Response:
        body = await read_json(request, schemas.group_create)
        ctx = ctx_of(request)
        group = dict(body["group"])
        group["domain_id"] = group.get("domain_id") or default_domain(ctx)
        api.enforce(ctx, "identity:create_group", {"target": {"group": group}})
        created = await run(svc.groups.create, body["group"], default_domain(ctx))
        return one(request, "group", "/v3/groups", created, 201)

    async def _group(request: Request, rule: str) -> dict[str, Any]:
        group = await read(svc.groups.get, request.path_params["group_id"])
        api.enforce(ctx_of(request), rule, {"target": {"group": group}})
        return group

    async def get_group(request: Request) -> Response:
        return one(request, "group", "/v3/groups", await _group(request, "identity:get_group"))

    async def update_group(request: Request) -> Response:
        body = await read_json(request, schemas.group_update)
        group = await _group(request, "identity:update_group")
        updated = await run(svc.groups.update, group["id"], body["group"])
        return one(request, "group", "/v3/groups", updated)

    async def delete_group(request: Request) -> Response:
        group = await _group(request, "identity:delete_group")
        await run(svc.groups.delete, group["id"])
        return no_content()

    async def group_users(request: Request) -> Response:
        group = await _group(request, "identity:list_users_in_group")
        users = await read(svc.groups.members, group["id"], filters(request, ("name", "domain_id")))
        return collection(request, "users", users, "/v3/users")

    async def add_member(request: Request) -> Response:
        group = await _group(request, "identity:add_user_to_group")
        await run(svc.groups.add_member, group["id"], request.path_params["user_id"])
        return no_content()

    async def check_member(request: Request) -> Response:
        group = await _group(request, "identity:check_user_in_group")
        await read(svc.groups.check_member, group["id"], request.path_params["user_id"])
        return no_content()

    async def remove_member(request: Request) -> Response:
        group = await _group(request, "identity:remove_user_from_group")
        await run(svc.groups.remove_member, group["id"], request.path_params["user_id"])
        return no_content()

    # -- credentials ----------------------------------------------------------------------

    async def list_credentials(request: Request) -> Response:
        ctx = ctx_of(request)
        wanted = filters(request, ("user_id", "type"))
        api.enforce(
            ctx,
            "identity:list_credentials",
            {"target": {"credential": {"user_id": wanted.get("user_id")}}},
        )
        found = await read(svc.credentials.listing, wanted)
        return collection(request, "credentials", found, "/v3/credentials", limit)

    async def create_credential(request: Request) -> Response:
        body = await read_json(request, schemas.credential_create)
        api.enforce(
            ctx_of(request),
            "identity:create_credential",
            {"target": {"credential": body["credential"]}},
        )
        created = await run(svc.credentials.create, body["credential"])
        return one(request, "credential", "/v3/credentials", created, 201)

    async def _credential(request: Request, rule: str) -> dict[str, Any]:
        credential = await read(svc.credentials.get, request.path_params["credential_id"])
        api.enforce(ctx_of(request), rule, {"target": {"credential": credential}})
        return credential

    async def get_credential(request: Request) -> Response:
        credential = await _credential(request, "identity:get_credential")
        return one(request, "credential", "/v3/credentials", credential)

    async def update_credential(request: Request) -> Response:
        body = await read_json(request, schemas.credential_update)
        credential = await _credential(request, "identity:update_credential")
        updated = await run(svc.credentials.update, credential["id"], body["credential"])
        return one(request, "credential", "/v3/credentials", updated)

    async def delete_credential(request: Request) -> Response:
        credential = await _credential(request, "identity:delete_credential")
        await run(svc.credentials.delete, credential["id"])
        return no_content()

    # -- application credentials ----------------------------------------------------------

    def app_path(user_id: str) -> str:
        return f"/v3/users/{user_id}/application_credentials"

    async def list_app_creds(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:list_application_credentials", {"user_id": user_id})
        found = await read(svc.app_creds.listing, user_id, filters(request, ("name",)))
        return collection(request, "application_credentials", found, app_path(user_id))

    async def create_app_cred(request: Request) -> Response:
        body = await read_json(request, schemas.app_cred_create)
        user_id = request.path_params["user_id"]
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:create_application_credential", {"user_id": user_id})
        auth = ctx.auth
        assert auth is not None
        if auth.application_credential_id and not await _unrestricted(
            auth.application_credential_id, user_id
        ):
            raise Forbidden("A restricted application credential cannot create another one.")
        if not auth.project_id:
            raise ValidationError("Application credentials need a project-scoped token.")
        created = await run(
            svc.app_creds.create,
            user_id,
            auth.project_id,
            list(auth.role_ids),
            body["application_credential"],
        )
        return one(request, "application_credential", app_path(user_id), created, 201)

    async def _unrestricted(app_cred_id: str, user_id: str) -> bool:
        cred = await read(svc.app_creds.get, user_id, app_cred_id)
        return bool(cred["unrestricted"])

    async def get_app_cred(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        api.enforce(ctx_of(request), "identity:get_application_credential", {"user_id": user_id})
        cred = await read(svc.app_creds.get, user_id, request.path_params["cred_id"])
        return one(request, "application_credential", app_path(user_id), cred)

    async def delete_app_cred(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        ctx = ctx_of(request)
        api.enforce(ctx, "identity:delete_application_credential", {"user_id": user_id})
        auth = ctx.auth
        assert auth is not None
        if auth.application_credential_id and not await _unrestricted(
            auth.application_credential_id, user_id
        ):
            raise Forbidden("A restricted application credential cannot delete credentials.")
        await run(svc.app_creds.delete, user_id, request.path_params["cred_id"])
        return no_content()

    return [
        Route("/v3/users", list_users, methods=["GET"]),
        Route("/v3/users", create_user, methods=["POST"]),
        Route("/v3/users/{user_id}", get_user, methods=["GET"]),
        Route("/v3/users/{user_id}", update_user, methods=["PATCH"]),
        Route("/v3/users/{user_id}", delete_user, methods=["DELETE"]),
        Route("/v3/users/{user_id}/password", change_password, methods=["POST"]),
        Route("/v3/users/{user_id}/groups", user_groups, methods=["GET"]),
        Route("/v3/users/{user_id}/projects", user_projects, methods=["GET"]),
        Route("/v3/users/{user_id}/application_credentials", list_app_creds, methods=["GET"]),
        Route("/v3/users/{user_id}/application_credentials", create_app_cred, methods=["POST"]),
        Route(
            "/v3/users/{user_id}/application_credentials/{cred_id}", get_app_cred, methods=["GET"]
        ),
        Route(
            "/v3/users/{user_id}/application_credentials/{cred_id}",
            delete_app_cred,
            methods=["DELETE"],
        ),
        Route("/v3/groups", list_groups, methods=["GET"]),
        Route("/v3/groups", create_group, methods=["POST"]),
        Route("/v3/groups/{group_id}", get_group, methods=["GET"]),
        Route("/v3/groups/{group_id}", update_group, methods=["PATCH"]),
        Route("/v3/groups/{group_id}", delete_group, methods=["DELETE"]),
        Route("/v3/groups/{group_id}/users", group_users, methods=["GET"]),
        Route("/v3/groups/{group_id}/users/{user_id}", check_member, methods=["HEAD"]),
        Route("/v3/groups/{group_id}/users/{user_id}", add_member, methods=["PUT"]),
        Route("/v3/groups/{group_id}/users/{user_id}", remove_member, methods=["DELETE"]),
        Route("/v3/credentials", list_credentials, methods=["GET"]),
        Route("/v3/credentials", create_credential, methods=["POST"]),
        Route("/v3/credentials/{credential_id}", get_credential, methods=["GET"]),
        Route("/v3/credentials/{credential_id}", update_credential, methods=["PATCH"]),
        Route("/v3/credentials/{credential_id}", delete_credential, methods=["DELETE"]),
    ]
