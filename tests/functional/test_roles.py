"""Roles, role assignments and implied roles via the openstack CLI and openstacksdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Factory, Server, new_password, unique

pytestmark = pytest.mark.functional

ASSIGNMENT_COLUMNS = {"role", "user", "group", "project", "domain", "system", "inherited"}


def _rows(assignments: list[dict[str, Any]]) -> set[tuple[str, str, str, str, str, str]]:
    """(role, user, group, project, domain, system) of each `role assignment list` row."""
    for row in assignments:
        assert set(row) == ASSIGNMENT_COLUMNS, row
    return {
        (r["role"], r["user"], r["group"], r["project"], r["domain"], r["system"])
        for r in assignments
    }


def test_default_roles_exist(server: Server) -> None:
    names = {r["name"] for r in server.cli_json("role", "list")}
    assert {"admin", "member", "reader"} <= names, names


def test_admin_has_admin_role_on_admin_project(server: Server) -> None:
    auth = server.admin_auth()
    rows = server.cli_json(
        "role",
        "assignment",
        "list",
        "--user",
        auth["username"],
        "--user-domain",
        "default",
        "--names",
    )
    project = auth.get("project_name", "admin")
    assert any(r["role"] == "admin" and r["project"] == f"{project}@Default" for r in rows), rows


def test_role_lifecycle(server: Server, cli_cleanup: Callable[..., None]) -> None:
    name = unique("rol")
    created = server.cli_json("role", "create", name, "--description", "a role")
    cli_cleanup("role", "delete", created["id"])
    assert created["name"] == name
    assert created["description"] == "a role"
    assert created["domain_id"] is None
    assert name in {r["name"] for r in server.cli_json("role", "list")}
    assert server.cli_json("role", "show", name)["id"] == created["id"]

    server.cli("role", "set", created["id"], "--description", "changed", "--name", f"{name}-2")
    shown = server.cli_json("role", "show", created["id"])
    assert shown["name"] == f"{name}-2"
    assert shown["description"] == "changed"

    out = server.cli_fails("role", "create", f"{name}-2")
    assert "409" in out or "conflict" in out.lower(), out

    server.cli("role", "delete", created["id"])
    assert f"{name}-2" not in {r["name"] for r in server.cli_json("role", "list")}


def test_domain_specific_role(server: Server, factory: Factory) -> None:
    domain = factory.domain()
    name = unique("rol")
    created = server.cli_json("role", "create", "--domain", domain["name"], name)
    factory.track("roles", created["id"])
    assert created["domain_id"] == domain["id"]
    listed = server.cli_json("role", "list", "--domain", domain["name"])
    assert [r["name"] for r in listed] == [name]
    # global role names and domain role names don't clash
    other = server.cli_json("role", "create", name)
    factory.track("roles", other["id"])
    assert other["id"] != created["id"]


def test_role_add_and_assignment_list(server: Server, factory: Factory) -> None:
    domain = factory.domain()
    dname = domain["name"]
    project = factory.project(domain_id=domain["id"])
    password = new_password()
    user = factory.user(password=password, domain_id=domain["id"])
    group = factory.group(domain_id=domain["id"])
    expect_ok = factory.http.put(f"/groups/{group['id']}/users/{user['id']}")
    assert expect_ok.status_code == 204, expect_ok.text
    r_project, r_domain, r_system, r_gproject = (factory.role() for _ in range(4))

    u_args = ("--user", user["name"], "--user-domain", dname)
    g_args = ("--group", group["name"], "--group-domain", dname)
    p_args = ("--project", project["name"], "--project-domain", dname)
    server.cli("role", "add", *u_args, *p_args, r_project["name"])
    server.cli("role", "add", *g_args, "--domain", dname, r_domain["name"])
    server.cli("role", "add", *u_args, "--system", "all", r_system["name"])
    server.cli("role", "add", *g_args, *p_args, r_gproject["name"])

    user_at = f"{user['name']}@{dname}"
    group_at = f"{group['name']}@{dname}"
    project_at = f"{project['name']}@{dname}"

    direct = _rows(server.cli_json("role", "assignment", "list", *u_args, "--names"))
    assert direct == {
        (r_project["name"], user_at, "", project_at, "", ""),
        (r_system["name"], user_at, "", "", "", "all"),
    }

    of_group = _rows(server.cli_json("role", "assignment", "list", *g_args, "--names"))
    assert of_group == {
        (r_domain["name"], "", group_at, "", dname, ""),
        (r_gproject["name"], "", group_at, project_at, "", ""),
    }

    effective = _rows(
        server.cli_json("role", "assignment", "list", *u_args, "--names", "--effective")
    )
    # upstream Keystone leaves system assignments out of effective lists; either is fine
    effective.discard((r_system["name"], user_at, "", "", "", "all"))
    assert effective == {
        (r_project["name"], user_at, "", project_at, "", ""),
        (r_domain["name"], user_at, "", "", dname, ""),
        (r_gproject["name"], user_at, "", project_at, "", ""),
    }

    on_project = _rows(
        server.cli_json("role", "assignment", "list", *u_args, *p_args, "--names", "--effective")
    )
    assert on_project == {
        (r_project["name"], user_at, "", project_at, "", ""),
        (r_gproject["name"], user_at, "", project_at, "", ""),
    }

    by_role = server.cli_json("role", "assignment", "list", "--role", r_project["id"])
    assert [(r["user"], r["project"]) for r in by_role] == [(user["id"], project["id"])]

    # the user gets project-, domain- and system-scoped tokens
    cloud = server.password_cloud(user["name"], password, project=project["name"], domain=dname)
    token = server.cli_json("token", "issue", clouds_file=cloud)
    assert token["project_id"] == project["id"]
    domain_cloud = server.write_clouds(
        {
            "user": {
                "auth": {
                    "username": user["name"],
                    "password": password,
                    "user_domain_name": dname,
                    "domain_name": dname,
                }
            }
        }
    )
    assert server.cli_json("token", "issue", clouds_file=domain_cloud)["domain_id"] == domain["id"]
    system_cloud = server.password_cloud(user["name"], password, domain=dname, system_scope="all")
    assert server.cli_json("token", "issue", clouds_file=system_cloud)["system"] == "all"

    # the project token carries the direct and the group role
    token_body = factory.http.get("/auth/tokens", headers={"X-Subject-Token": token["id"]})
    assert token_body.status_code == 200, token_body.text
    roles = {r["name"] for r in token_body.json()["token"]["roles"]}
    assert roles == {r_project["name"], r_gproject["name"]}

    server.cli("role", "remove", *u_args, *p_args, r_project["name"])
    server.cli("role", "remove", *g_args, "--domain", dname, r_domain["name"])
    server.cli("role", "remove", *u_args, "--system", "all", r_system["name"])
    server.cli("role", "remove", *g_args, *p_args, r_gproject["name"])
    assert server.cli_json("role", "assignment", "list", *u_args, "--effective") == []
    out = server.cli_fails("token", "issue", clouds_file=cloud)
    assert "401" in out, out


def test_role_add_errors(server: Server, factory: Factory) -> None:
    user = factory.user(password=new_password())
    project = factory.project()
    # the CLI exits non-zero (with an empty message) when the role doesn't exist
    server.cli_fails(
        "role", "add", "--user", user["id"], "--project", project["id"], unique("missing")
    )
    assert server.cli_json("role", "assignment", "list", "--user", user["id"]) == []
    server.cli_fails(
        "role", "add", "--user", unique("nobody"), "--project", project["id"], "member"
    )
    assert server.cli_json("role", "assignment", "list", "--project", project["id"]) == []


def test_implied_roles(server: Server, factory: Factory, admin_http: httpx.Client) -> None:
    prior = factory.role()
    implied = factory.role()
    created = server.cli_json(
        "implied", "role", "create", prior["name"], "--implied-role", implied["name"]
    )
    assert created == {"implies": implied["id"], "prior_role": prior["id"]}

    listed = server.cli_json("implied", "role", "list")
    assert {
        "prior_role_id": prior["id"],
        "prior_role_name": prior["name"],
        "implied_role_id": implied["id"],
        "implied_role_name": implied["name"],
    } in listed

    user, project, password = factory.user_with_role("member")
    server.cli("role", "add", "--user", user["id"], "--project", project["id"], prior["name"])

    effective = server.cli_json(
        "role",
        "assignment",
        "list",
        "--user",
        user["id"],
        "--project",
        project["id"],
        "--effective",
        "--names",
    )
    names = {r["role"] for r in effective}
    assert {prior["name"], implied["name"], "member"} <= names, effective
    direct = server.cli_json(
        "role", "assignment", "list", "--user", user["id"], "--project", project["id"], "--names"
    )
    assert implied["name"] not in {r["role"] for r in direct}

    cloud = server.password_cloud(user["name"], password, project=project["name"])
    token = server.cli_json("token", "issue", clouds_file=cloud)["id"]
    body = admin_http.get("/auth/tokens", headers={"X-Subject-Token": token}).json()
    token_roles = {r["name"] for r in body["token"]["roles"]}
    assert {prior["name"], implied["name"], "member"} <= token_roles

    server.cli("implied", "role", "delete", prior["name"], "--implied-role", implied["name"])
    listed = server.cli_json("implied", "role", "list")
    assert all(row["prior_role_id"] != prior["id"] for row in listed)
    effective = server.cli_json(
        "role",
        "assignment",
        "list",
        "--user",
        user["id"],
        "--project",
        project["id"],
        "--effective",
        "--names",
    )
    assert implied["name"] not in {r["role"] for r in effective}


# --- openstacksdk -------------------------------------------------------------------------


def test_sdk_role_assignments(sdk: Any, factory: Factory) -> None:
    import openstack.exceptions

    role = sdk.identity.create_role(name=unique("rol"))
    factory.track("roles", role.id)
    user = factory.user(password=new_password())
    group = factory.group()
    project = factory.project()

    sdk.identity.assign_project_role_to_user(project["id"], user["id"], role)
    assert sdk.identity.validate_user_has_project_role(project["id"], user["id"], role) is True
    sdk.identity.assign_domain_role_to_group("default", group["id"], role)
    assert sdk.identity.validate_group_has_domain_role("default", group["id"], role) is True
    sdk.identity.assign_system_role_to_user(user["id"], role, "all")
    assert sdk.identity.validate_user_has_system_role(user["id"], role, "all") is True

    assignments = list(sdk.identity.role_assignments(role_id=role.id))
    seen = set()
    for a in assignments:
        actor = ("user", a.user["id"]) if a.user else ("group", a.group["id"])
        scope = next(iter(a.scope))
        seen.add((actor, scope))
    assert seen == {
        (("user", user["id"]), "project"),
        (("group", group["id"]), "domain"),
        (("user", user["id"]), "system"),
    }

    named = list(
        sdk.identity.role_assignments(
            user_id=user["id"], scope_project_id=project["id"], include_names=True
        )
    )
    assert len(named) == 1
    assert named[0].role["name"] == role.name
    assert named[0].user["name"] == user["name"]
    assert named[0].scope["project"]["name"] == project["name"]

    sdk.identity.unassign_project_role_from_user(project["id"], user["id"], role)
    assert sdk.identity.validate_user_has_project_role(project["id"], user["id"], role) is False
    sdk.identity.unassign_domain_role_from_group("default", group["id"], role)
    sdk.identity.unassign_system_role_from_user(user["id"], role, "all")
    assert list(sdk.identity.role_assignments(role_id=role.id)) == []

    sdk.identity.delete_role(role)
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.identity.get_role(role.id)
