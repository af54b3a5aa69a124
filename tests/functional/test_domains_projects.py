"""Domains and projects via the openstack CLI and openstacksdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Factory, Server, assert_not_found, unique

pytestmark = pytest.mark.functional


# --- domains ------------------------------------------------------------------------------


def test_default_domain_exists(server: Server) -> None:
    domains = server.cli_json("domain", "list")
    assert set(domains[0]) >= {"id", "name", "enabled"}
    default = [d for d in domains if d["id"] == "default"]
    assert default and default[0]["name"] == "Default", domains


def test_domain_lifecycle(server: Server) -> None:
    name = unique("dom")
    created = server.cli_json("domain", "create", name, "--description", "first")
    assert created["name"] == name
    assert created["enabled"] is True
    assert created["description"] == "first"
    domain_id = created["id"]

    listed = {d["name"]: d for d in server.cli_json("domain", "list")}
    assert listed[name]["id"] == domain_id
    assert listed[name]["enabled"] is True

    shown = server.cli_json("domain", "show", name)
    assert shown["id"] == domain_id

    server.cli("domain", "set", name, "--description", "second")
    assert server.cli_json("domain", "show", domain_id)["description"] == "second"

    # an enabled domain can't be deleted (Keystone: 403)
    out = server.cli_fails("domain", "delete", name)
    assert "403" in out or "disable" in out.lower(), out

    server.cli("domain", "set", "--disable", name)
    shown = server.cli_json("domain", "show", domain_id)
    assert shown["enabled"] is False
    disabled = {d["name"]: d for d in server.cli_json("domain", "list")}
    assert disabled[name]["enabled"] is False

    renamed = f"{name}-renamed"
    server.cli("domain", "set", "--name", renamed, domain_id)
    assert server.cli_json("domain", "show", domain_id)["name"] == renamed

    server.cli("domain", "delete", renamed)
    out = server.cli_fails("domain", "show", domain_id)
    assert_not_found(out)
    assert domain_id not in {d["id"] for d in server.cli_json("domain", "list")}


def test_domain_duplicate_name_conflicts(server: Server, factory: Factory) -> None:
    domain = factory.domain()
    out = server.cli_fails("domain", "create", domain["name"])
    assert "409" in out or "conflict" in out.lower(), out


def test_users_of_disabled_domain_cannot_authenticate(server: Server, factory: Factory) -> None:
    domain = factory.domain()
    password = "Pw-" + unique("x")
    user = factory.user(password=password, domain_id=domain["id"])
    clouds = server.password_cloud(user["name"], password, domain=domain["name"])
    assert server.cli_json("token", "issue", clouds_file=clouds)["user_id"] == user["id"]
    server.cli("domain", "set", "--disable", domain["id"])
    out = server.cli_fails("token", "issue", clouds_file=clouds)
    assert "401" in out, out


# --- projects -----------------------------------------------------------------------------


def test_project_lifecycle_with_parent_and_tags(
    server: Server, cli_cleanup: Callable[..., None]
) -> None:
    parent_name = unique("parent")
    child_name = unique("child")
    parent = server.cli_json(
        "project",
        "create",
        parent_name,
        "--domain",
        "default",
        "--description",
        "parent project",
        "--tag",
        "alpha",
        "--tag",
        "beta",
    )
    cli_cleanup("project", "delete", parent["id"])
    assert parent["name"] == parent_name
    assert parent["domain_id"] == "default"
    assert parent["enabled"] is True
    assert parent["is_domain"] is False
    assert parent["description"] == "parent project"
    assert sorted(parent["tags"]) == ["alpha", "beta"]
    assert parent["parent_id"] == "default"  # top-level projects have the domain as parent

    child = server.cli_json(
        "project", "create", child_name, "--parent", parent["id"], "--tag", "gamma"
    )
    cli_cleanup("project", "delete", child["id"])
    assert child["parent_id"] == parent["id"]
    assert child["domain_id"] == "default"
    assert child["tags"] == ["gamma"]

    listed = {p["name"]: p["id"] for p in server.cli_json("project", "list")}
    assert listed[parent_name] == parent["id"]
    assert listed[child_name] == child["id"]

    long_list = {p["name"]: p for p in server.cli_json("project", "list", "--long")}
    assert long_list[child_name]["domain_id"] == "default"
    assert long_list[child_name]["enabled"] is True

    by_tag = {p["name"] for p in server.cli_json("project", "list", "--tags", "alpha")}
    assert parent_name in by_tag
    assert child_name not in by_tag
    by_any = {p["name"] for p in server.cli_json("project", "list", "--tags-any", "beta,gamma")}
    assert {parent_name, child_name} <= by_any
    not_tagged = {p["name"] for p in server.cli_json("project", "list", "--not-tags", "alpha")}
    assert parent_name not in not_tagged
    assert child_name in not_tagged

    shown = server.cli_json("project", "show", child_name, "--domain", "default")
    assert shown["id"] == child["id"]
    assert shown["parent_id"] == parent["id"]

    server.cli(
        "project",
        "set",
        child["id"],
        "--description",
        "changed",
        "--disable",
        "--tag",
        "delta",
    )
    shown = server.cli_json("project", "show", child["id"])
    assert shown["description"] == "changed"
    assert shown["enabled"] is False
    assert sorted(shown["tags"]) == ["delta", "gamma"]

    server.cli("project", "set", child["id"], "--remove-tag", "gamma", "--enable")
    shown = server.cli_json("project", "show", child["id"])
    assert shown["tags"] == ["delta"]
    assert shown["enabled"] is True

    renamed = f"{child_name}-renamed"
    server.cli("project", "set", child["id"], "--name", renamed)
    assert server.cli_json("project", "show", child["id"])["name"] == renamed

    # a project with children can't be deleted (Keystone: 403)
    out = server.cli_fails("project", "delete", parent["id"])
    assert "403" in out or "400" in out, out

    server.cli("project", "delete", child["id"])
    server.cli("project", "delete", parent["id"])
    out = server.cli_fails("project", "show", parent["id"])
    assert_not_found(out)
    names = {p["name"] for p in server.cli_json("project", "list")}
    assert parent_name not in names
    assert renamed not in names


def test_project_in_custom_domain(server: Server, factory: Factory) -> None:
    domain = factory.domain()
    name = unique("prj")
    created = server.cli_json("project", "create", name, "--domain", domain["name"])
    factory.track("projects", created["id"])
    assert created["domain_id"] == domain["id"]
    assert created["parent_id"] == domain["id"]
    in_domain = server.cli_json("project", "list", "--domain", domain["name"])
    assert [p["name"] for p in in_domain] == [name]
    # the same name in another domain is fine
    other = server.cli_json("project", "create", name, "--domain", "default")
    factory.track("projects", other["id"])
    assert other["id"] != created["id"]
    shown = server.cli_json("project", "show", name, "--domain", domain["id"])
    assert shown["id"] == created["id"]


def test_project_duplicate_name_conflicts(server: Server, factory: Factory) -> None:
    project = factory.project()
    out = server.cli_fails("project", "create", project["name"], "--domain", "default")
    assert "409" in out or "conflict" in out.lower(), out


def test_project_create_or_show(server: Server, factory: Factory) -> None:
    project = factory.project()
    again = server.cli_json(
        "project", "create", "--or-show", project["name"], "--domain", "default"
    )
    assert again["id"] == project["id"]


# --- openstacksdk -------------------------------------------------------------------------


def test_sdk_domain_and_project(sdk: Any, admin_http: httpx.Client) -> None:
    import openstack.exceptions

    domain = sdk.identity.create_domain(name=unique("dom"), description="sdk")
    try:
        assert domain.is_enabled is True
        project = sdk.identity.create_project(
            name=unique("prj"), domain_id=domain.id, tags=["sdk", "one"], description="d"
        )
        child = sdk.identity.create_project(
            name=unique("prj"), domain_id=domain.id, parent_id=project.id
        )
        assert child.parent_id == project.id
        assert sorted(project.tags) == ["one", "sdk"]

        fetched = sdk.identity.get_project(project.id)
        assert fetched.name == project.name
        assert fetched.domain_id == domain.id

        found = sdk.identity.find_project(project.name, domain_id=domain.id)
        assert found is not None and found.id == project.id

        listed = {p.id for p in sdk.identity.projects(domain_id=domain.id)}
        assert listed == {project.id, child.id}
        tagged = {p.id for p in sdk.identity.projects(tags="sdk")}
        assert project.id in tagged
        assert child.id not in tagged

        updated = sdk.identity.update_project(project, description="new")
        assert updated.description == "new"
        # a project whose subtree has enabled projects can't be disabled (Keystone: 403)
        with pytest.raises(openstack.exceptions.ForbiddenException):
            sdk.identity.update_project(project, is_enabled=False)
        assert sdk.identity.update_project(child, is_enabled=False).is_enabled is False
        assert sdk.identity.update_project(project, is_enabled=False).is_enabled is False

        with pytest.raises(openstack.exceptions.ConflictException):
            sdk.identity.create_project(name=project.name, domain_id=domain.id)

        # cloud layer
        cloud_projects = {p["id"] for p in sdk.list_projects(domain_id=domain.id)}
        assert project.id in cloud_projects

        sdk.identity.delete_project(child)
        sdk.identity.delete_project(project)
        with pytest.raises(openstack.exceptions.NotFoundException):
            sdk.identity.get_project(project.id)
        sdk.identity.update_domain(domain, is_enabled=False)
        assert sdk.identity.get_domain(domain.id).is_enabled is False
    finally:
        admin_http.patch(f"/domains/{domain.id}", json={"domain": {"enabled": False}})
        admin_http.delete(f"/domains/{domain.id}")
    with pytest.raises(openstack.exceptions.NotFoundException):
        sdk.identity.get_domain(domain.id)
