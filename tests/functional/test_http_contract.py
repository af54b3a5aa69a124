"""The HTTP contract of the identity API, checked with raw HTTP (httpx).

Tokens come from the openstack CLI. Error bodies are Keystone's:
``{"error": {"code": <int>, "message": <str>, "title": <str>}}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import Factory, Server, new_password, unique

pytestmark = pytest.mark.functional

REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_json = {"Content-Type": "application/json"}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
}


def assert_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= {"code", "message", "title"}, error
    assert error["code"] == status, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["title"], str) and error["title"], error
    if status != 413:  # Keystone says "Request Entity Too Large"; "Payload Too Large" is fine too
        assert error["title"] == TITLES[status], error
    assert REQUEST_ID.match(resp.headers.get("x-openstack-request-id", "")), resp.headers
    return dict(error)


def _names(admin_http: httpx.Client, collection: str, name: str) -> list[str]:
    resp = admin_http.get(f"/{collection}", params={"name": name})
    assert resp.status_code == 200, resp.text
    return [item["name"] for item in resp.json()[collection]]


# --- version discovery and metrics --------------------------------------------------------


def test_version_documents(server: Server) -> None:
    v3 = httpx.get(f"{server.identity_url}/v3")
    assert v3.status_code == 200
    version = v3.json()["version"]
    assert version["id"].startswith("v3.")
    assert version["status"] == "stable"
    assert any(link["rel"] == "self" for link in version["links"])
    assert {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"} in (
        version["media-types"]
    )

    root = httpx.get(f"{server.identity_url}/")
    assert root.status_code == 300, root.text
    values = root.json()["versions"]["values"]
    assert any(v["id"].startswith("v3.") for v in values)


def test_metrics_are_prometheus_text(server: Server, admin_http: httpx.Client) -> None:
    admin_http.get("/projects")
    resp = httpx.get(f"{server.base_url}/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain"), resp.headers
    text = resp.text
    assert "# HELP " in text and "# TYPE " in text
    sample = re.compile(
        r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+"
        r"([-+]?[0-9.eE+-]+|[-+]?Inf|NaN)(\s+-?\d+)?$"
    )
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert samples
    bad = [ln for ln in samples if not sample.match(ln)]
    assert not bad, bad[:5]


# --- request ids --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_responses(
    server: Server, http: httpx.Client, admin_http: httpx.Client, factory: Factory
) -> Iterator[list[httpx.Response]]:
    project = factory.project()
    responses = [
        httpx.get(f"{server.identity_url}/v3"),
        httpx.get(f"{server.identity_url}/"),
        httpx.get(f"{server.base_url}/metrics"),
        admin_http.get("/projects"),
        admin_http.get(f"/projects/{project['id']}"),
        admin_http.head(f"/projects/{project['id']}"),
        admin_http.patch(f"/projects/{project['id']}", json={"project": {"description": "x"}}),
        admin_http.post("/projects", json={"project": {"name": project["name"]}}),  # 409
        admin_http.post("/projects", content=b"{not json", headers=_json),  # 400
        admin_http.get(f"/projects/{uuid.uuid4().hex}"),  # 404
        admin_http.put("/projects"),  # 405
        http.get("/projects"),  # 401
        http.get("/projects", headers={"X-Auth-Token": "garbage"}),  # 401
    ]
    created = admin_http.post("/projects", json={"project": {"name": unique("prj")}})
    responses.append(created)
    if created.status_code == 201:
        responses.append(admin_http.delete(f"/projects/{created.json()['project']['id']}"))
    yield responses


def test_every_response_has_a_request_id(sample_responses: list[httpx.Response]) -> None:
    missing = [
        f"{r.request.method} {r.request.url} -> {r.status_code}"
        for r in sample_responses
        if not REQUEST_ID.match(r.headers.get("x-openstack-request-id", ""))
    ]
    assert not missing, missing
    ids = [r.headers["x-openstack-request-id"] for r in sample_responses]
    assert len(set(ids)) == len(ids), "request ids must be unique"
    statuses = {r.status_code for r in sample_responses}
    assert {200, 201, 204, 300, 400, 401, 404, 405, 409} <= statuses, statuses


# --- authentication -----------------------------------------------------------------------


def _password_auth(user: dict[str, Any], password: str, scope: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {"identity": {"methods": ["password"], "password": {"user": user}}}
    }
    body["auth"]["identity"]["password"]["user"]["password"] = password
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def test_token_create_response_shape(server: Server, http: httpx.Client) -> None:
    auth = server.admin_auth()
    body = _password_auth(
        {"name": auth["username"], "domain": {"name": auth.get("user_domain_name", "Default")}},
        auth["password"],
        {"project": {"name": auth.get("project_name", "admin"), "domain": {"id": "default"}}},
    )
    resp = http.post("/auth/tokens", json=body)
    assert resp.status_code == 201, resp.text
    token_id = resp.headers["x-subject-token"]
    assert token_id
    token = resp.json()["token"]
    assert set(token) >= {
        "methods",
        "user",
        "expires_at",
        "issued_at",
        "audit_ids",
        "project",
        "roles",
        "catalog",
    }
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == auth["username"]
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["domain"]["id"] == "default"
    assert any(s["type"] == "identity" for s in token["catalog"])
    assert auth["password"] not in resp.text

    # validate (GET, HEAD) and fetch without the catalog
    headers = {"X-Auth-Token": token_id, "X-Subject-Token": token_id}
    assert http.head("/auth/tokens", headers=headers).status_code == 200
    nocatalog = http.get("/auth/tokens", params={"nocatalog": "1"}, headers=headers)
    assert nocatalog.status_code == 200
    assert "catalog" not in nocatalog.json()["token"]
    assert nocatalog.headers["x-subject-token"] == token_id

    catalog = http.get("/auth/catalog", headers={"X-Auth-Token": token_id})
    assert catalog.status_code == 200
    assert any(s["type"] == "identity" for s in catalog.json()["catalog"])
    projects = http.get("/auth/projects", headers={"X-Auth-Token": token_id})
    assert projects.status_code == 200
    assert auth.get("project_name", "admin") in {p["name"] for p in projects.json()["projects"]}


def test_wrong_password_and_unknown_user_look_the_same(
    server: Server, http: httpx.Client, factory: Factory
) -> None:
    user = factory.user(password=new_password())
    wrong_password = http.post(
        "/auth/tokens",
        json=_password_auth({"name": user["name"], "domain": {"id": "default"}}, "wrong-pass"),
    )
    unknown_user = http.post(
        "/auth/tokens",
        json=_password_auth({"name": unique("nobody"), "domain": {"id": "default"}}, "x"),
    )
    unknown_id = http.post(
        "/auth/tokens", json=_password_auth({"id": uuid.uuid4().hex}, "wrong-pass")
    )
    first = assert_error(wrong_password, 401)
    assert assert_error(unknown_user, 401) == first
    assert assert_error(unknown_id, 401) == first
    assert wrong_password.content == unknown_user.content == unknown_id.content
    assert "x-subject-token" not in wrong_password.headers
    # Keystone says where to authenticate
    assert "www-authenticate" in {k.lower() for k in wrong_password.headers}


def test_missing_token_is_401(http: httpx.Client) -> None:
    assert_error(http.get("/projects"), 401)


@pytest.mark.parametrize(
    "token",
    [b"garbage", b"", b"x" * 300, b"gAAAAAB" + b"A" * 180, "\u00e9t\u00e9".encode()],
    ids=["word", "empty", "long", "fernet-like", "non-ascii"],
)
def test_garbled_token_is_401(http: httpx.Client, token: bytes) -> None:
    assert_error(http.get("/projects", headers={"X-Auth-Token": token}), 401)


def test_garbled_subject_token_is_404(admin_http: httpx.Client) -> None:
    resp = admin_http.get("/auth/tokens", headers={"X-Subject-Token": "garbage"})
    assert_error(resp, 404)


def test_revoked_token_is_401(server: Server, http: httpx.Client) -> None:
    token = server.cli_json("token", "issue")["id"]
    assert http.get("/projects", headers={"X-Auth-Token": token}).status_code == 200
    server.cli("token", "revoke", token)
    assert_error(http.get("/projects", headers={"X-Auth-Token": token}), 401)
    # and it can't be used to get a new token either (upstream Keystone: 404 here)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    resp = http.post("/auth/tokens", json=body)
    assert_error(resp, 404 if resp.status_code == 404 else 401)


# --- authorization ------------------------------------------------------------------------


def test_reader_cannot_do_admin_operations(
    server: Server, http: httpx.Client, admin_http: httpx.Client, factory: Factory
) -> None:
    user, project, password = factory.user_with_role("reader")
    cloud = server.password_cloud(user["name"], password, project=project["name"])
    token = server.cli_json("token", "issue", clouds_file=cloud)["id"]
    headers = {"X-Auth-Token": token}
    name = unique("prj")

    assert_error(http.post("/projects", json={"project": {"name": name}}, headers=headers), 403)
    assert _names(admin_http, "projects", name) == []
    assert_error(http.post("/users", json={"user": {"name": name}}, headers=headers), 403)
    assert _names(admin_http, "users", name) == []
    assert_error(http.post("/roles", json={"role": {"name": name}}, headers=headers), 403)
    assert_error(http.delete(f"/projects/{project['id']}", headers=headers), 403)
    assert_error(
        http.put(
            f"/projects/{project['id']}/users/{user['id']}/roles/{factory.role_id('admin')}",
            headers=headers,
        ),
        403,
    )
    # the project still exists
    assert admin_http.get(f"/projects/{project['id']}").status_code == 200

    # the CLI reports the same
    out = server.cli_fails("project", "create", name, clouds_file=cloud)
    assert "403" in out, out
    out = server.cli_fails("user", "create", name, "--password", new_password(), clouds_file=cloud)
    assert "403" in out, out
    assert _names(admin_http, "users", name) == []
    # (`openstack role add` as a reader is no use here: the CLI ignores the 404/403 it gets)
    roles = admin_http.get(
        "/role_assignments", params={"user.id": user["id"], "include_names": "1"}
    ).json()["role_assignments"]
    assert [r["role"]["name"] for r in roles] == ["reader"]


# --- conflicts ----------------------------------------------------------------------------


def test_duplicate_project_name_in_domain_is_409(
    admin_http: httpx.Client, factory: Factory
) -> None:
    domain = factory.domain()
    name = unique("prj")
    first = admin_http.post(
        "/projects", json={"project": {"name": name, "domain_id": domain["id"]}}
    )
    assert first.status_code == 201, first.text
    factory.track("projects", first.json()["project"]["id"])
    assert_error(
        admin_http.post("/projects", json={"project": {"name": name, "domain_id": domain["id"]}}),
        409,
    )
    # the same name in another domain is fine
    other = admin_http.post("/projects", json={"project": {"name": name}})
    assert other.status_code == 201, other.text
    factory.track("projects", other.json()["project"]["id"])
    # renaming onto an existing name conflicts too
    third = factory.project(domain_id=domain["id"])
    assert_error(
        admin_http.patch(f"/projects/{third['id']}", json={"project": {"name": name}}), 409
    )


def test_duplicate_user_name_in_domain_is_409(admin_http: httpx.Client, factory: Factory) -> None:
    user = factory.user()
    assert_error(admin_http.post("/users", json={"user": {"name": user["name"]}}), 409)


# --- request validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"project": ', b"[1, 2", b"\xff\xfe\x00garbage", b"nul\x00l"],
    ids=["brace", "truncated", "array", "binary", "nul"],
)
def test_malformed_json_is_400(admin_http: httpx.Client, content: bytes) -> None:
    assert_error(admin_http.post("/projects", content=content, headers=_json), 400)


def test_malformed_json_on_auth_is_400(http: httpx.Client) -> None:
    assert_error(http.post("/auth/tokens", content=b"{oops", headers=_json), 400)


def _bad_bodies(name: str) -> list[tuple[str, str, Any]]:
    return [
        ("projects", "name is a number", {"project": {"name": 123}}),
        ("projects", "name is a list", {"project": {"name": [name]}}),
        ("projects", "enabled is a string", {"project": {"name": name, "enabled": "yes"}}),
        ("projects", "tags is a string", {"project": {"name": name, "tags": "a"}}),
        ("projects", "missing name", {"project": {"description": name}}),
        ("projects", "empty name", {"project": {"name": ""}}),
        ("projects", "no wrapper", {"name": name}),
        ("projects", "wrapper is a list", {"project": [name]}),
        ("projects", "body is a list", [{"project": {"name": name}}]),
        ("projects", "body is a string", name),
        # Keystone keeps unknown attributes inside the resource (`openstack project create
        # --property k=v` sends them), so an extra field is one beside the wrapper.
        ("projects", "extra field", {"project": {"name": name}, "bogus_field": 1}),
        ("users", "name is a number", {"user": {"name": 42}}),
        ("users", "missing name", {"user": {"password": name}}),
        ("users", "extra field", {"user": {"name": name}, "bogus_field": True}),
        ("users", "password is a number", {"user": {"name": name, "password": 5}}),
        ("groups", "missing name", {"group": {}}),
        ("groups", "extra field", {"group": {"name": name}, "bogus_field": "x"}),
        ("domains", "enabled is a string", {"domain": {"name": name, "enabled": "no"}}),
        ("domains", "extra field", {"domain": {"name": name}, "bogus_field": "x"}),
        ("roles", "name is null", {"role": {"name": None}}),
        ("roles", "extra field", {"role": {"name": name}, "bogus_field": "x"}),
    ]


BAD_BODY_CASES = _bad_bodies("ft-bad-NAME")


@pytest.mark.parametrize(
    ("collection", "case", "body"),
    BAD_BODY_CASES,
    ids=[f"{c}-{case.replace(' ', '-')}" for c, case, _ in BAD_BODY_CASES],
)
def test_invalid_body_is_400_and_creates_nothing(
    admin_http: httpx.Client, collection: str, case: str, body: Any
) -> None:
    name = unique("bad")
    body_text = httpx.Request("POST", "http://x", json=body).content.replace(
        b"ft-bad-NAME", name.encode()
    )
    resp = admin_http.post(f"/{collection}", content=body_text, headers=_json)
    assert_error(resp, 400)
    assert _names(admin_http, collection, name) == []


def test_invalid_auth_bodies_are_400(http: httpx.Client) -> None:
    bodies: list[Any] = [
        {},
        {"auth": {}},
        {"auth": {"identity": {"methods": "password"}}},
        {"auth": {"identity": {"methods": ["password"]}}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": "x"}}}},
    ]
    for body in bodies:
        resp = http.post("/auth/tokens", json=body)
        assert resp.status_code == 400, f"{body} -> {resp.status_code} {resp.text}"
        assert_error(resp, 400)


def test_invalid_query_and_patch(admin_http: httpx.Client, factory: Factory) -> None:
    project = factory.project()
    assert_error(
        admin_http.patch(f"/projects/{project['id']}", json={"project": {"enabled": "nope"}}), 400
    )
    assert_error(
        admin_http.patch(f"/projects/{project['id']}", json={"project": {"id": "other"}}), 400
    )
    shown = admin_http.get(f"/projects/{project['id']}").json()["project"]
    assert shown["enabled"] is True
    assert shown["id"] == project["id"]


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/does-not-exist", "/projects/x/y/z", "/OS-NOPE/things"],
)
def test_unknown_route_is_404(admin_http: httpx.Client, path: str) -> None:
    assert_error(admin_http.get(path), 404)


def test_unknown_route_outside_v3_is_404(server: Server) -> None:
    resp = httpx.get(f"{server.base_url}/no-such-service/v1")
    assert resp.status_code == 404, resp.text
    assert REQUEST_ID.match(resp.headers.get("x-openstack-request-id", "")), resp.headers


@pytest.mark.parametrize("kind", ["projects", "users", "groups", "roles", "domains"])
def test_unknown_resource_is_404(admin_http: httpx.Client, kind: str) -> None:
    resp = admin_http.get(f"/{kind}/{uuid.uuid4().hex}")
    assert_error(resp, 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/projects"),
        ("DELETE", "/projects"),
        ("PATCH", "/users"),
        ("PUT", "/auth/tokens"),
        ("POST", "/auth/catalog"),
    ],
)
def test_wrong_method_is_405(admin_http: httpx.Client, method: str, path: str) -> None:
    assert_error(admin_http.request(method, path), 405)


def test_wrong_method_on_resource_is_405(admin_http: httpx.Client, factory: Factory) -> None:
    project = factory.project()
    assert_error(admin_http.post(f"/projects/{project['id']}", json={}), 405)
    assert_error(admin_http.put(f"/projects/{project['id']}", json={}), 405)


# --- request size -------------------------------------------------------------------------


def test_huge_body_is_413(admin_http: httpx.Client) -> None:
    name = unique("big")
    payload = {"project": {"name": name, "description": "x" * (2 * 1024 * 1024)}}
    try:
        resp = admin_http.post("/projects", json=payload)
    except httpx.TransportError as exc:
        pytest.fail(f"server dropped the connection instead of answering 413: {exc!r}")
    assert_error(resp, 413)
    assert _names(admin_http, "projects", name) == []


def test_huge_chunked_body_is_413(admin_http: httpx.Client) -> None:
    """No Content-Length: the server must count what it reads."""
    name = unique("big")
    head = b'{"project": {"name": "' + name.encode() + b'", "description": "'
    tail = b'"}}'

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(32):
            yield b"y" * (64 * 1024)
        yield tail

    try:
        resp = admin_http.post("/projects", content=chunks(), headers=_json)
    except httpx.TransportError as exc:
        pytest.fail(f"server dropped the connection instead of answering 413: {exc!r}")
    assert_error(resp, 413)
    assert _names(admin_http, "projects", name) == []


def test_huge_auth_body_is_413(http: httpx.Client) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "x" * (2 * 1024 * 1024),
                        "domain": {"id": "default"},
                        "password": "x",
                    }
                },
            }
        }
    }
    try:
        resp = http.post("/auth/tokens", json=body)
    except httpx.TransportError as exc:
        pytest.fail(f"server dropped the connection instead of answering 413: {exc!r}")
    assert_error(resp, 413)
