"""Users, passwords and groups via the openstack CLI and openstacksdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Factory, Server, assert_not_found, new_password, sdk_connect, unique

pytestmark = pytest.mark.functional


def test_user_lifecycle(server: Server, factory: Factory, cli_cleanup: Callable[..., None]) -> None:
    project = factory.project()
    name = unique("usr")
    password = new_password()
    created = server.cli_json(
        "user",
        "create",
        name,
        "--domain",
        "default",
        "--password",
        password,
        "--email",
        "someone@example.com",
        "--description",
        "a test user",
        "--project",
        project["id"],
    )
    cli_cleanup("user", "delete", created["id"])
    assert created["name"] == name
    assert created["domain_id"] == "default"
    assert created["enabled"] is True
    assert created["email"] == "someone@example.com"
    assert created["description"] == "a test user"
    assert created["default_project_id"] == project["id"]
    assert "password" not in created
    user_id = created["id"]

    listed = {u["name"]: u["id"] for u in server.cli_json("user", "list")}
    assert listed[name] == user_id
    in_domain = {u["name"] for u in server.cli_json("user", "list", "--domain", "default")}
    assert name in in_domain
    long_list = {u["name"]: u for u in server.cli_json("user", "list", "--long")}
    assert long_list[name]["email"] == "someone@example.com"
    assert long_list[name]["enabled"] is True

    shown = server.cli_json("user", "show", name, "--domain", "default")
    assert shown["id"] == user_id
    assert "password" not in shown

    server.cli("user", "set", user_id, "--email", "other@example.com", "--disable")
    shown = server.cli_json("user", "show", user_id)
    assert shown["email"] == "other@example.com"
    assert shown["enabled"] is False

    server.cli("user", "set", user_id, "--name", f"{name}-renamed", "--enable")
    shown = server.cli_json("user", "show", user_id)
    assert shown["name"] == f"{name}-renamed"
    assert shown["enabled"] is True

    server.cli("user", "delete", user_id)
    out = server.cli_fails("user", "show", user_id)
    assert_not_found(out)
    assert user_id not in {u["id"] for u in server.cli_json("user", "list")}


def test_user_duplicate_name_conflicts(server: Server, factory: Factory) -> None:
    user = factory.user(password=new_password())
    out = server.cli_fails("user", "create", user["name"], "--password", new_password())
    assert "409" in out or "conflict" in out.lower(), out


def test_user_password_set(server: Server, factory: Factory) -> None:
    user, project, old = factory.user_with_role("member")
    old_cloud = server.password_cloud(user["name"], old, project=project["name"])
    token = server.cli_json("token", "issue", clouds_file=old_cloud)
    assert token["user_id"] == user["id"]
    assert token["project_id"] == project["id"]

    new = new_password()
    server.cli(
        "user",
        "password",
        "set",
        "--password",
        new,
        "--original-password",
        old,
        clouds_file=old_cloud,
    )

    # the old password fails ...
    out = server.cli_fails("token", "issue", clouds_file=old_cloud)
    assert "401" in out, out
    # ... and the new one works, with OS_* environment variables this time
    env = server.cli_env()
    env.pop("OS_CLIENT_CONFIG_FILE")
    env.update(
        {
            "OS_AUTH_URL": server.identity_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": user["name"],
            "OS_PASSWORD": new,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_NAME": project["name"],
            "OS_PROJECT_DOMAIN_NAME": "Default",
        }
    )
    token = server.cli_json("token", "issue", env=env)
    assert token["user_id"] == user["id"]
    assert token["project_id"] == project["id"]


def test_user_password_set_wrong_original_fails(server: Server, factory: Factory) -> None:
    user, project, old = factory.user_with_role("member")
    cloud = server.password_cloud(user["name"], old, project=project["name"])
    out = server.cli_fails(
        "user",
        "password",
        "set",
        "--password",
        new_password(),
        "--original-password",
        "not-the-password",
        clouds_file=cloud,
    )
    assert "401" in out, out
    # the old password still works
    assert server.cli_json("token", "issue", clouds_file=cloud)["user_id"] == user["id"]


def test_admin_sets_user_password(server: Server, factory: Factory) -> None:
    user, project, old = factory.user_with_role("member")
    new = new_password()
    server.cli("user", "set", user["id"], "--password", new)
    out = server.cli_fails(
        "token",
        "issue",
        clouds_file=server.password_cloud(user["name"], old, project=project["name"]),
    )
    assert "401" in out, out
    cloud = server.password_cloud(user["name"], new, project=project["name"])
    assert server.cli_json("token", "issue", clouds_file=cloud)["user_id"] == user["id"]


def test_disabled_user_cannot_authenticate(server: Server, factory: Factory) -> None:
    user, project, password = factory.user_with_role("member")
    cloud = server.password_cloud(user["name"], password, project=project["name"])
    assert server.cli_json("token", "issue", clouds_file=cloud)["user_id"] == user["id"]
    server.cli("user", "set", "--disable", user["id"])
    out = server.cli_fails("token", "issue", clouds_file=cloud)
    assert "401" in out, out


def test_group_membership(
    server: Server, factory: Factory, cli_cleanup: Callable[..., None]
) -> None:
    user_a = factory.user(password=new_password())
    user_b = factory.user(password=new_password())
    name = unique("grp")
    group = server.cli_json(
        "group", "create", name, "--domain", "default", "--description", "test group"
    )
    cli_cleanup("group", "delete", group["id"])
    assert group["name"] == name
    assert group["domain_id"] == "default"
    assert group["description"] == "test group"

    assert name in {g["name"] for g in server.cli_json("group", "list")}
    assert server.cli_json("group", "show", name, "--domain", "default")["id"] == group["id"]

    server.cli("group", "add", "user", name, user_a["name"], user_b["id"])
    result = server.run_cli("group", "contains", "user", group["id"], user_a["id"])
    assert result.returncode == 0, result.stderr
    assert "in group" in result.stdout and "not in group" not in result.stderr, result

    members = {u["name"] for u in server.cli_json("user", "list", "--group", group["id"])}
    assert members == {user_a["name"], user_b["name"]}
    groups_of_a = {g["name"] for g in server.cli_json("group", "list", "--user", user_a["id"])}
    assert name in groups_of_a

    server.cli("group", "remove", "user", group["id"], user_b["id"])
    result = server.run_cli("group", "contains", "user", group["id"], user_b["id"])
    assert "not in group" in result.stderr, result
    members = {u["name"] for u in server.cli_json("user", "list", "--group", group["id"])}
    assert members == {user_a["name"]}

    server.cli("group", "set", group["id"], "--description", "changed")
    assert server.cli_json("group", "show", group["id"])["description"] == "changed"

    out = server.cli_fails("group", "create", name, "--domain", "default")
    assert "409" in out or "conflict" in out.lower(), out

    server.cli("group", "delete", group["id"])
    assert name not in {g["name"] for g in server.cli_json("group", "list")}


# --- openstacksdk -------------------------------------------------------------------------


def test_sdk_users_and_groups(server: Server, sdk: Any, factory: Factory) -> None:
    import openstack.exceptions

    password = new_password()
    user = sdk.identity.create_user(
        name=unique("usr"), password=password, domain_id="default", email="sdk@example.com"
    )
    factory.track("users", user.id)
    assert user.is_enabled is True
    assert user.email == "sdk@example.com"
    found = sdk.identity.find_user(user.name, domain_id="default")
    assert found is not None and found.id == user.id
    assert user.id in {u.id for u in sdk.identity.users(domain_id="default")}

    updated = sdk.identity.update_user(user, description="via sdk")
    assert updated.description == "via sdk"

    group = sdk.identity.create_group(name=unique("grp"), domain_id="default")
    factory.track("groups", group.id)
    sdk.identity.add_user_to_group(user, group)
    assert sdk.identity.check_user_in_group(user, group) is True
    assert [u.id for u in sdk.identity.group_users(group)] == [user.id]
    assert group.id in {g.id for g in sdk.identity.user_groups(user)}
    sdk.identity.remove_user_from_group(user, group)
    assert sdk.identity.check_user_in_group(user, group) is False

    # the user authenticates with openstacksdk too (unscoped, then a project)
    project = factory.project()
    sdk.identity.assign_project_role_to_user(
        project, user, sdk.identity.find_role("member", ignore_missing=False)
    )
    clouds = server.password_cloud(user.name, password, project=project["name"])
    user_conn = sdk_connect(clouds, cloud="user")
    try:
        assert user_conn.current_user_id == user.id
        assert user_conn.current_project_id == project["id"]
    finally:
        user_conn.close()

    sdk.identity.delete_user(user)
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.identity.get_user(user.id)


def test_sdk_user_password_change(server: Server, factory: Factory, http: httpx.Client) -> None:
    user, project, old = factory.user_with_role("member")
    conn = sdk_connect(
        server.password_cloud(user["name"], old, project=project["name"]), cloud="user"
    )
    try:
        new = new_password()
        conn.identity.update_password(user["id"], current_password=old, password=new)
    finally:
        conn.close()

    def auth(password: str) -> httpx.Response:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"id": user["id"], "password": password},
                    },
                }
            }
        }
        return http.post("/auth/tokens", json=body)

    assert auth(old).status_code == 401
    assert auth(new).status_code == 201
