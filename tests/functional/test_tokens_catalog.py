"""Tokens, the service catalog, services, endpoints and regions, via the openstack CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from .conftest import Factory, Server, assert_not_found, unique

pytestmark = pytest.mark.functional


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _admin_project_id(admin_http: httpx.Client, server: Server) -> str:
    name = server.admin_auth().get("project_name", "admin")
    resp = admin_http.get("/projects", params={"name": name})
    assert resp.status_code == 200, resp.text
    projects = resp.json()["projects"]
    assert len(projects) == 1, projects
    return str(projects[0]["id"])


def test_generated_clouds_yaml_and_openrc(server: Server) -> None:
    cloud = server.admin_cloud()
    auth = cloud["auth"]
    assert auth["auth_url"].rstrip("/").endswith("/identity") or "/identity" in auth["auth_url"]
    assert auth["username"] == "admin"
    assert auth["password"]
    assert auth.get("project_name") == "admin" or auth.get("project_id")
    assert (server.state_dir / "openrc").exists()
    openrc = (server.state_dir / "openrc").read_text()
    assert "OS_AUTH_URL" in openrc
    assert "OS_PASSWORD" in openrc


def test_token_issue(server: Server, admin_http: httpx.Client) -> None:
    token = server.cli_json("token", "issue")
    assert set(token) >= {"id", "expires", "project_id", "user_id"}
    assert token["id"]
    assert _parse_time(token["expires"]) > dt.datetime.now(dt.UTC)
    assert token["project_id"] == _admin_project_id(admin_http, server)
    # the token validates, and describes the same user and project
    resp = admin_http.get("/auth/tokens", headers={"X-Subject-Token": token["id"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()["token"]
    assert body["user"]["id"] == token["user_id"]
    assert body["project"]["id"] == token["project_id"]
    assert "password" in body["methods"]
    assert {r["name"] for r in body["roles"]} >= {"admin"}


def test_token_issue_with_openrc_env(server: Server) -> None:
    """The OS_* variables (as in the generated openrc) work without clouds.yaml."""
    auth = server.admin_auth()
    env = server.cli_env()
    env.pop("OS_CLIENT_CONFIG_FILE")
    env.update(
        {
            "OS_AUTH_URL": auth["auth_url"],
            "OS_USERNAME": auth["username"],
            "OS_PASSWORD": auth["password"],
            "OS_PROJECT_NAME": auth.get("project_name", "admin"),
            "OS_USER_DOMAIN_NAME": auth.get("user_domain_name", "Default"),
            "OS_PROJECT_DOMAIN_NAME": auth.get("project_domain_name", "Default"),
            "OS_IDENTITY_API_VERSION": "3",
        }
    )
    if "user_domain_id" in auth:
        env["OS_USER_DOMAIN_ID"] = auth["user_domain_id"]
    if "project_domain_id" in auth:
        env["OS_PROJECT_DOMAIN_ID"] = auth["project_domain_id"]
    token = server.cli_json("token", "issue", env=env)
    assert token["id"]
    assert token["project_id"]


def test_token_revoke(
    server: Server,
    admin_http: httpx.Client,
    http: httpx.Client,
    admin_token_info: dict[str, Any],
) -> None:
    token = server.cli_json("token", "issue")["id"]
    ok = http.get("/projects", headers={"X-Auth-Token": token})
    assert ok.status_code == 200, ok.text

    server.cli("token", "revoke", token)

    # validating the revoked token: 404, as upstream Keystone
    check = admin_http.get("/auth/tokens", headers={"X-Subject-Token": token})
    assert check.status_code == 404, check.text
    # using the revoked token: 401 with the Keystone error body
    used = http.get("/projects", headers={"X-Auth-Token": token})
    assert used.status_code == 401, used.text
    error = used.json()["error"]
    assert error["code"] == 401
    assert error["title"] == "Unauthorized"
    # the admin's other tokens are unaffected
    assert admin_http.get("/projects").status_code == 200

    # the CLI, authenticating with the revoked token, fails
    clouds = server.write_clouds(
        {
            "user": {
                "auth_type": "token",
                "auth": {
                    "token": token,
                    "project_id": admin_token_info["project_id"],
                },
            }
        }
    )
    out = server.cli_fails("project", "list", clouds_file=clouds)
    # Keystone: 404 "Failed to validate token" when a revoked token is exchanged; 401 is fine
    assert "401" in out or "404" in out, out


def test_token_auth_method_rescopes(server: Server, factory: Factory) -> None:
    """A token can be exchanged for another one with auth_type token (method 'token')."""
    token = server.cli_json("token", "issue")
    clouds = server.write_clouds(
        {
            "user": {
                "auth_type": "token",
                "auth": {"token": token["id"], "project_id": token["project_id"]},
            }
        }
    )
    second = server.cli_json("token", "issue", clouds_file=clouds)
    assert second["id"] != token["id"]
    assert second["project_id"] == token["project_id"]
    assert second["user_id"] == token["user_id"]


def _endpoint_urls(entry: dict[str, Any]) -> list[str]:
    endpoints = entry["endpoints"]
    if isinstance(endpoints, str):  # older clients format this column as text
        return [part.split(": ", 1)[-1] for part in endpoints.split("\n") if "http" in part]
    return [e["url"] for e in endpoints]


def test_catalog_list(server: Server) -> None:
    catalog = server.cli_json("catalog", "list")
    identity = [c for c in catalog if c["type"] == "identity"]
    assert len(identity) == 1, catalog
    urls = _endpoint_urls(identity[0])
    assert urls
    for url in urls:
        assert url.startswith(server.base_url) or url.startswith(
            f"http://localhost:{server.port}"
        ), url
        assert "/identity" in url
    interfaces = {e["interface"] for e in identity[0]["endpoints"]}
    assert "public" in interfaces


def test_catalog_show(server: Server) -> None:
    entry = server.cli_json("catalog", "show", "identity")
    assert entry["type"] == "identity"
    assert entry["endpoints"]


def test_service_list_and_show(server: Server) -> None:
    services = server.cli_json("service", "list")
    assert set(services[0]) >= {"id", "name", "type"}
    identity = [s for s in services if s["type"] == "identity"]
    assert len(identity) == 1, services
    shown = server.cli_json("service", "show", identity[0]["id"])
    assert shown["type"] == "identity"
    assert shown["enabled"] is True


def test_endpoint_list(server: Server) -> None:
    endpoints = server.cli_json("endpoint", "list")
    identity = [e for e in endpoints if e["service_type"] == "identity"]
    assert identity, endpoints
    assert "public" in {e["interface"] for e in identity}
    for endpoint in identity:
        assert endpoint["enabled"] is True
        assert "/identity" in endpoint["url"]
        assert endpoint["region"]
    filtered = server.cli_json("endpoint", "list", "--service", "identity", "--interface", "public")
    assert filtered
    assert all(e["interface"] == "public" for e in filtered)
    assert all(e["service_type"] == "identity" for e in filtered)


def test_region_list(server: Server) -> None:
    regions = server.cli_json("region", "list")
    names = {r["region"] for r in regions}
    assert "RegionOne" in names, regions
    endpoint_regions = {e["region"] for e in server.cli_json("endpoint", "list")}
    assert endpoint_regions <= names


def test_region_create_show_delete(server: Server) -> None:
    name = unique("region")
    created = server.cli_json("region", "create", name, "--description", "functional test")
    assert created["region"] == name
    assert created["description"] == "functional test"
    child = server.cli_json("region", "create", f"{name}-child", "--parent-region", name)
    assert child["parent_region"] == name
    assert name in {r["region"] for r in server.cli_json("region", "list")}
    server.cli("region", "set", name, "--description", "changed")
    assert server.cli_json("region", "show", name)["description"] == "changed"
    server.cli("region", "delete", f"{name}-child")
    server.cli("region", "delete", name)
    out = server.cli_fails("region", "show", name)
    assert_not_found(out)


def test_token_issue_sdk(server: Server, sdk: Any) -> None:
    token = sdk.auth_token
    assert token
    assert sdk.current_project_id
    assert sdk.current_user_id
    resp = httpx.get(
        f"{server.v3}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["token"]["project"]["id"] == sdk.current_project_id


def test_catalog_sdk(server: Server, sdk: Any) -> None:
    url = sdk.endpoint_for("identity")
    assert url and "/identity" in url
    services = list(sdk.identity.services())
    assert "identity" in {s.type for s in services}
    endpoints = list(sdk.identity.endpoints())
    identity_service = next(s for s in services if s.type == "identity")
    assert any(e.service_id == identity_service.id for e in endpoints)
    regions = [r.id for r in sdk.identity.regions()]
    assert "RegionOne" in regions
