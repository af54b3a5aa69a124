"""Fixtures that run the real onestack server and drive it with the real OpenStack clients.

One server is started per database backend per session, as a subprocess on a free port with a
fresh state directory. Tests talk to it with the ``openstack`` CLI, with openstacksdk and with
raw HTTP (httpx). Nothing of the server API is mocked.

Backends: SQLite, PostgreSQL and MariaDB by default, each in a fresh database that is dropped
at the end of the session; choose others with::

    pytest tests/functional --db-backend sqlite
    pytest tests/functional --db-backend postgresql --db-backend mariadb
    ONESTACK_TEST_DB_BACKENDS=sqlite pytest     # when the option can't be passed

A backend whose database server is unreachable is skipped with the reason.

To run the suite against a server that is already running (started by hand, or deployed),
set ONESTACK_TEST_EXTERNAL_URL=http://host:port and ONESTACK_TEST_EXTERNAL_STATE=<dir holding
its clouds.yaml>; no server is started then.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

BACKENDS = ("sqlite", "postgresql", "mariadb")
READY_TIMEOUT = float(os.environ.get("ONESTACK_TEST_READY_TIMEOUT", "30"))
CLI_TIMEOUT = 180

PG_HOST = os.environ.get("ONESTACK_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("ONESTACK_TEST_PG_USER", "postgres")
MYSQL_HOST = os.environ.get("ONESTACK_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_USER = os.environ.get("ONESTACK_TEST_MYSQL_USER", "root")


def _openstack_cli() -> str:
    beside = Path(sys.executable).with_name("openstack")
    if beside.exists():
        return str(beside)
    found = shutil.which("openstack")
    if found:
        return found
    raise RuntimeError("the openstack CLI (python-openstackclient) is not installed")


# --------------------------------------------------------------------------------------------
# options and backend parametrization
# --------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("onestack-functional")
    group.addoption(
        "--db-backend",
        action="append",
        choices=[*BACKENDS, "all"],
        default=None,
        help="database backend(s) for the functional suite (repeatable; default all; "
        "env ONESTACK_TEST_DB_BACKENDS=comma,list also works)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "functional: runs the real onestack server")
    config.addinivalue_line(
        "markers", "one_backend: runs on the first selected database backend only"
    )


EXTERNAL_URL = os.environ.get("ONESTACK_TEST_EXTERNAL_URL", "").rstrip("/")


def _selected_backends(config: pytest.Config) -> list[str]:
    if EXTERNAL_URL:
        return ["external"]
    chosen: list[str] = []
    with contextlib.suppress(ValueError):
        chosen = list(config.getoption("--db-backend") or [])
    if not chosen:
        env = os.environ.get("ONESTACK_TEST_DB_BACKENDS", "all")
        chosen = [item.strip().lower() for item in env.split(",") if item.strip()]
    aliases = {"mysql": "mariadb", "postgres": "postgresql", "pg": "postgresql"}
    chosen = [aliases.get(item, item) for item in chosen]
    if "all" in chosen:
        return list(BACKENDS)
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown:
        raise pytest.UsageError(f"unknown database backend(s): {', '.join(unknown)}")
    return [b for b in BACKENDS if b in chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        backends = _selected_backends(metafunc.config)
        if metafunc.definition.get_closest_marker("one_backend") is not None:
            # Request validation and rendering that no database can change: once is enough,
            # on the first selected backend (SQLite unless told otherwise).
            backends = backends[:1]
        metafunc.parametrize("db_backend", backends, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/functional" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.functional)


@dataclass
class Database:
    backend: str
    url: str  # empty for SQLite (the server's default, inside the state dir)


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, user=PG_USER, dbname="postgres", autocommit=True, connect_timeout=5
    )


def _mysql_admin() -> Any:
    import pymysql

    return pymysql.connect(host=MYSQL_HOST, user=MYSQL_USER, connect_timeout=5, autocommit=True)


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> Iterator[Database]:
    backend: str = request.param
    if backend in ("sqlite", "external"):
        yield Database(backend, "")
        return
    name = f"onestack_ft_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        try:
            conn = _pg_admin()
        except Exception as exc:
            pytest.skip(f"PostgreSQL not reachable at {PG_USER}@{PG_HOST}: {exc}")
        with conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield Database(backend, f"postgresql+psycopg://{PG_USER}@{PG_HOST}/{name}")
        finally:
            with contextlib.suppress(Exception), _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    try:
        conn = _mysql_admin()
    except Exception as exc:
        pytest.skip(f"MariaDB/MySQL not reachable at {MYSQL_USER}@{MYSQL_HOST}: {exc}")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    try:
        yield Database(backend, f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}/{name}?charset=utf8mb4")
    finally:
        with contextlib.suppress(Exception):
            conn = _mysql_admin()
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """The test process's environment without any OS_* client settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


def normalize(data: Any) -> Any:
    """CLI JSON keys as snake_case: 'Project ID' -> 'project_id', 'ID' -> 'id'."""
    if isinstance(data, list):
        return [normalize(item) for item in data]
    if isinstance(data, dict):
        return {str(k).strip().lower().replace(" ", "_"): v for k, v in data.items()}
    return data


class CLIError(AssertionError):
    pass


@dataclass
class Server:
    backend: str
    port: int
    state_dir: Path
    work_dir: Path
    proc: subprocess.Popen[bytes] | None
    log_path: Path
    external_url: str = ""
    _clouds_counter: int = field(default=0)

    @property
    def base_url(self) -> str:
        return self.external_url or f"http://127.0.0.1:{self.port}"

    @property
    def identity_url(self) -> str:
        return f"{self.base_url}/identity"

    @property
    def v3(self) -> str:
        return f"{self.identity_url}/v3"

    @property
    def clouds_yaml(self) -> Path:
        return self.state_dir / "clouds.yaml"

    def log_tail(self, chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"
        return text[-chars:]

    # -- clouds.yaml ---------------------------------------------------------------------

    def admin_cloud(self) -> dict[str, Any]:
        data = yaml.safe_load(self.clouds_yaml.read_text())
        return dict(data["clouds"]["onestack"])

    def admin_auth(self) -> dict[str, Any]:
        return dict(self.admin_cloud()["auth"])

    def write_clouds(self, clouds: dict[str, dict[str, Any]]) -> Path:
        """Write a separate clouds.yaml with the given entries (auth_url filled in)."""
        self._clouds_counter += 1
        entries = {}
        for name, cloud in clouds.items():
            entry = {"identity_api_version": 3, "interface": "public", **cloud}
            entry["auth"] = {"auth_url": self.identity_url, **cloud.get("auth", {})}
            entries[name] = entry
        path = self.work_dir / f"clouds-{self._clouds_counter}.yaml"
        path.write_text(yaml.safe_dump({"clouds": entries}))
        return path

    def password_cloud(
        self,
        username: str,
        password: str,
        *,
        project: str | None = None,
        domain: str = "Default",
        project_domain: str | None = None,
        system_scope: str | None = None,
    ) -> Path:
        auth: dict[str, Any] = {
            "username": username,
            "password": password,
            "user_domain_name": domain,
        }
        if project:
            auth["project_name"] = project
            auth["project_domain_name"] = project_domain or domain
        if system_scope:
            auth["system_scope"] = system_scope
        return self.write_clouds({"user": {"auth": auth}})

    # -- the openstack CLI ----------------------------------------------------------------

    def cli_env(self, clouds_file: Path | None = None) -> dict[str, str]:
        env = _clean_env()
        env["OS_CLIENT_CONFIG_FILE"] = str(clouds_file or self.clouds_yaml)
        env.setdefault("PYTHONWARNINGS", "ignore")
        return env

    def run_cli(
        self,
        *args: str,
        cloud: str | None = None,
        clouds_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `openstack [--os-cloud C] ARGS`.

        The cloud defaults to `onestack` (the server's own clouds.yaml) or, with `clouds_file`
        (from `write_clouds`/`password_cloud`), to that file's `user` entry. With `env` given,
        no --os-cloud is passed: the OS_* variables in `env` configure the client.
        """
        cmd = [_openstack_cli()]
        if env is None:
            cmd += ["--os-cloud", cloud or ("user" if clouds_file else "onestack")]
        cmd += list(args)
        full_env = env if env is not None else self.cli_env(clouds_file)
        return subprocess.run(
            cmd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def cli(self, *args: str, **kwargs: Any) -> str:
        """Run the CLI and require success; returns stdout."""
        result = self.run_cli(*args, **kwargs)
        if result.returncode != 0:
            raise CLIError(
                f"`openstack {' '.join(args)}` failed with exit {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr[-4000:]}\n"
                f"--- server log tail ---\n{self.log_tail(3000)}"
            )
        return result.stdout

    def cli_json(self, *args: str, **kwargs: Any) -> Any:
        out = self.cli(*args, "-f", "json", **kwargs)
        try:
            return normalize(json.loads(out))
        except json.JSONDecodeError as exc:
            raise CLIError(f"`openstack {' '.join(args)}` printed no JSON: {out!r}") from exc

    def cli_fails(self, *args: str, **kwargs: Any) -> str:
        """Run the CLI and require failure; returns stdout + stderr."""
        result = self.run_cli(*args, **kwargs)
        if result.returncode == 0:
            raise CLIError(f"`openstack {' '.join(args)}` unexpectedly succeeded: {result.stdout}")
        return result.stdout + result.stderr


def _start_server(db: Database, root: Path) -> Server:
    state_dir = root / "state"
    work_dir = root / "work"
    state_dir.mkdir()
    work_dir.mkdir()
    log_path = root / "server.log"
    port = _free_port()
    env = _clean_env()
    env.pop("ONESTACK_DATABASE__URL", None)
    env.pop("ONESTACK_CONFIG", None)
    env["ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS"] = "4"
    env["PYTHONUNBUFFERED"] = "1"
    if db.url:
        env["ONESTACK_DATABASE__URL"] = db.url
    cmd = [
        sys.executable,
        "-m",
        "onestack",
        "up",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
    ]
    log = open(log_path, "wb")  # noqa: SIM115 - kept open for the server's lifetime
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    server = Server(db.backend, port, state_dir, work_dir, proc, log_path)
    deadline = time.monotonic() + READY_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"onestack server ({db.backend}) exited with {proc.returncode} before it was "
                f"ready; command: {' '.join(cmd)}\n--- server output ---\n{server.log_tail()}",
                pytrace=False,
            )
        try:
            resp = httpx.get(f"{server.identity_url}/v3", timeout=2)
            if resp.status_code == 200 and server.clouds_yaml.exists():
                return server
            last_error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.2)
    _stop_server(server)
    pytest.fail(
        f"onestack server ({db.backend}) not ready within {READY_TIMEOUT}s "
        f"(last: {last_error}, clouds.yaml exists: {server.clouds_yaml.exists()})\n"
        f"--- server output ---\n{server.log_tail()}",
        pytrace=False,
    )


def _stop_server(server: Server) -> None:
    if server.proc is None or server.proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def server(db_backend: Database) -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix=f"onestack-ft-{db_backend.backend}-"))
    if db_backend.backend == "external":
        (root / "work").mkdir()
        state = Path(os.environ["ONESTACK_TEST_EXTERNAL_STATE"])
        port = httpx.URL(EXTERNAL_URL).port or 80
        yield Server(
            "external",
            port,
            state,
            root / "work",
            None,
            state / "server.log",
            external_url=EXTERNAL_URL,
        )
        shutil.rmtree(root, ignore_errors=True)
        return
    srv = _start_server(db_backend, root)
    try:
        yield srv
    finally:
        _stop_server(srv)
        if os.environ.get("ONESTACK_TEST_KEEP_STATE"):
            print(f"\nkept state of the {db_backend.backend} server in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# tokens, HTTP and SDK access
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def admin_token_info(server: Server) -> dict[str, Any]:
    """`openstack token issue` for the admin cloud: id, expires, project_id, user_id."""
    return dict(server.cli_json("token", "issue"))


@pytest.fixture(scope="session")
def admin_token(admin_token_info: dict[str, Any]) -> str:
    """An admin project-scoped token issued by the openstack CLI."""
    return str(admin_token_info["id"])


@pytest.fixture(scope="session")
def http(server: Server) -> Iterator[httpx.Client]:
    """A plain HTTP client for the identity API (no token)."""
    with httpx.Client(base_url=server.v3, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin_http(server: Server, admin_token: str) -> Iterator[httpx.Client]:
    """An HTTP client for the identity API that sends the admin token."""
    with httpx.Client(
        base_url=server.v3, timeout=30, headers={"X-Auth-Token": admin_token}
    ) as client:
        yield client


def sdk_connect(clouds_file: Path, cloud: str = "onestack") -> Any:
    """openstack.connect(cloud=...) exactly as a user would, with OS_CLIENT_CONFIG_FILE set."""
    import openstack

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OS_"):
                mp.delenv(key)
        mp.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_file))
        return openstack.connect(cloud=cloud)


@pytest.fixture(scope="session")
def sdk(server: Server) -> Iterator[Any]:
    conn = sdk_connect(server.clouds_yaml)
    try:
        yield conn
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# resource factories (raw HTTP with the admin token: fast, and tracked for clean-up)
# --------------------------------------------------------------------------------------------


def assert_not_found(out: str) -> None:
    """The CLI's output for a missing resource (`No Project found for X`, or HTTP 404)."""
    low = out.lower()
    assert "404" in out or "not found" in low or " found for " in low, out


def unique(kind: str) -> str:
    return f"ft-{kind}-{uuid.uuid4().hex[:10]}"


def new_password() -> str:
    return f"Pw-{uuid.uuid4().hex}"


def expect(resp: httpx.Response, *statuses: int) -> httpx.Response:
    if resp.status_code not in statuses:
        raise AssertionError(
            f"{resp.request.method} {resp.request.url} -> {resp.status_code}, "
            f"expected {statuses}: {resp.text[:2000]}"
        )
    return resp


@dataclass
class Factory:
    """Creates identity resources with unique names and deletes them again (reverse order)."""

    server: Server
    http: httpx.Client
    _created: list[tuple[str, str]] = field(default_factory=list)

    def track(self, collection: str, resource_id: str) -> None:
        self._created.append((collection, resource_id))

    def _create(self, collection: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = expect(self.http.post(f"/{collection}", json={key: body}), 201)
        obj: dict[str, Any] = resp.json()[key]
        self.track(collection, obj["id"])
        return obj

    def domain(self, **attrs: Any) -> dict[str, Any]:
        return self._create("domains", "domain", {"name": unique("dom"), **attrs})

    def project(self, **attrs: Any) -> dict[str, Any]:
        return self._create("projects", "project", {"name": unique("prj"), **attrs})

    def user(self, password: str | None = None, **attrs: Any) -> dict[str, Any]:
        body = {"name": unique("usr"), **attrs}
        if password is not None:
            body["password"] = password
        return self._create("users", "user", body)

    def group(self, **attrs: Any) -> dict[str, Any]:
        return self._create("groups", "group", {"name": unique("grp"), **attrs})

    def role(self, **attrs: Any) -> dict[str, Any]:
        return self._create("roles", "role", {"name": unique("rol"), **attrs})

    def role_id(self, name: str) -> str:
        resp = expect(self.http.get("/roles", params={"name": name}), 200)
        roles = [r for r in resp.json()["roles"] if r["name"] == name and not r.get("domain_id")]
        assert roles, f"role {name!r} does not exist"
        return str(roles[0]["id"])

    def grant_project(self, project_id: str, user_id: str, role_name: str) -> None:
        role = self.role_id(role_name)
        expect(self.http.put(f"/projects/{project_id}/users/{user_id}/roles/{role}"), 204)

    def user_with_role(
        self, role_name: str = "member", **user_attrs: Any
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """A user with a password and `role_name` on a new project: (user, project, password)."""
        password = new_password()
        project = self.project()
        user = self.user(password=password, **user_attrs)
        self.grant_project(project["id"], user["id"], role_name)
        return user, project, password

    def cleanup(self) -> None:
        for collection, resource_id in reversed(self._created):
            path = f"/{collection}/{resource_id}"
            with contextlib.suppress(httpx.HTTPError):
                if collection == "domains":
                    self.http.patch(path, json={"domain": {"enabled": False}})
                self.http.delete(path)
        self._created.clear()


@pytest.fixture(scope="module")
def factory(server: Server, admin_http: httpx.Client) -> Iterator[Factory]:
    fac = Factory(server, admin_http)
    try:
        yield fac
    finally:
        fac.cleanup()


@pytest.fixture(scope="module")
def cli_cleanup(server: Server) -> Iterator[Callable[..., None]]:
    """Register `openstack ...` delete commands to run (in reverse) at module end."""
    commands: list[tuple[str, ...]] = []

    def register(*args: str) -> None:
        commands.append(args)

    yield register
    for args in reversed(commands):
        server.run_cli(*args)


# ============================================================================================
# Image service (Glance v2 compatible, mounted at /image, catalog type `image`): shared
# fixtures and helpers of tests/functional/test_image_*.py. Written against the Image API v2
# reference (https://docs.openstack.org/api-ref/image/v2/), not against onestack's code.
# ============================================================================================

IMAGE_PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
QCOW2_VIRTUAL_SIZE = 64 * 1024 * 1024


def issue_token(
    server: Server, username: str, password: str, project_id: str
) -> tuple[str, dict[str, Any]]:
    """A project-scoped token (id, token body) by password, straight from the identity API."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    resp = expect(httpx.post(f"{server.v3}/auth/tokens", json=body, timeout=30), 201)
    return resp.headers["x-subject-token"], resp.json()["token"]


def catalog_url(token_body: dict[str, Any], service_type: str, interface: str = "public") -> str:
    for service in token_body.get("catalog") or []:
        if service.get("type") != service_type:
            continue
        for endpoint in service.get("endpoints") or []:
            if endpoint.get("interface") == interface:
                return str(endpoint["url"]).rstrip("/")
    raise AssertionError(f"no {interface} {service_type!r} endpoint in the token's catalog")


def image_data(size: int) -> bytes:
    """`size` bytes of raw disk data that no format inspector mistakes for another format."""
    head = b"onestack raw test data\n"
    return (head + os.urandom(max(0, size - len(head))))[:size]


def make_qcow2(path: Path, virtual_size: int = QCOW2_VIRTUAL_SIZE) -> bytes:
    """A small, valid, empty qcow2 image of `virtual_size` bytes; returns its content.

    With qemu-img: `qemu-img create -f qcow2`. Without it, a qcow2 v3 image is laid out by
    hand as qemu-img would: header in cluster 0 (magic QFI\\xfb, version 3, virtual size at
    offset 24), refcount table in cluster 1, refcount block in cluster 2, L1 table in cluster 3.
    """
    qemu_img = shutil.which("qemu-img")
    if qemu_img:
        subprocess.run(
            [qemu_img, "create", "-q", "-f", "qcow2", str(path), str(virtual_size)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return path.read_bytes()
    import struct

    cluster = 1 << 16
    l1_entries = -(-virtual_size // (cluster * (cluster // 8)))
    header = struct.pack(
        ">4sIQIIQIIQQIIQQQQII",
        b"QFI\xfb",
        3,  # version
        0,  # backing file offset
        0,  # backing file size
        16,  # cluster bits
        virtual_size,
        0,  # no encryption
        l1_entries,
        3 * cluster,  # L1 table offset
        1 * cluster,  # refcount table offset
        1,  # refcount table clusters
        0,  # snapshots
        0,  # snapshots offset
        0,  # incompatible features
        0,  # compatible features
        0,  # autoclear features
        4,  # refcount order: 16-bit refcounts
        104,  # header length
    )
    data = bytearray(4 * cluster)
    data[: len(header)] = header
    struct.pack_into(">Q", data, cluster, 2 * cluster)  # refcount table -> refcount block
    for index in range(4):  # clusters 0-3 are in use
        struct.pack_into(">H", data, 2 * cluster + 2 * index, 1)
    path.write_bytes(bytes(data))
    return bytes(data)


def md5_hex(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def sha512_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha512(data).hexdigest()


@dataclass
class ImageJanitor:
    """Deletes the images the tests created (as admin), whatever state they ended in."""

    admin: httpx.Client
    ids: list[str] = field(default_factory=list)

    def track(self, image_id: str) -> None:
        self.ids.append(image_id)

    def cleanup(self) -> None:
        for image_id in reversed(self.ids):
            with contextlib.suppress(httpx.HTTPError):
                resp = self.admin.delete(f"/images/{image_id}")
                if resp.status_code == 403:  # protected
                    self.admin.patch(
                        f"/images/{image_id}",
                        content=json.dumps(
                            [{"op": "replace", "path": "/protected", "value": False}]
                        ),
                        headers={"Content-Type": IMAGE_PATCH_TYPE},
                    )
                    self.admin.delete(f"/images/{image_id}")
        self.ids.clear()


@dataclass
class ImageUser:
    """A user with a project-scoped token and an httpx client for `<image endpoint>/v2`.

    The image endpoint comes from the token's catalog (type `image`), as clients find it.
    """

    server: Server
    name: str
    password: str
    user_id: str
    project_id: str
    project_name: str
    token: str
    image_url: str
    clouds_file: Path
    cloud: str
    janitor: ImageJanitor
    http: httpx.Client
    _sdk: Any = None
    _glance: Any = None

    # -- clients -------------------------------------------------------------------------

    def cli_json(self, *args: str) -> Any:
        return self.server.cli_json(*args, clouds_file=self.clouds_file, cloud=self.cloud)

    def cli(self, *args: str) -> str:
        return self.server.cli(*args, clouds_file=self.clouds_file, cloud=self.cloud)

    def cli_fails(self, *args: str) -> str:
        return self.server.cli_fails(*args, clouds_file=self.clouds_file, cloud=self.cloud)

    def sdk(self) -> Any:
        if self._sdk is None:
            self._sdk = sdk_connect(self.clouds_file, cloud=self.cloud)
        return self._sdk

    def keystone_session(self) -> Any:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        auth = v3.Password(
            auth_url=self.server.identity_url,
            username=self.name,
            password=self.password,
            user_domain_id="default",
            project_id=self.project_id,
        )
        return session.Session(auth=auth)

    def glance(self) -> Any:
        """python-glanceclient v2, its endpoint from the catalog of a keystoneauth session."""
        if self._glance is None:
            import glanceclient

            self._glance = glanceclient.Client("2", session=self.keystone_session())
        return self._glance

    def close(self) -> None:
        self.http.close()
        if self._sdk is not None:
            with contextlib.suppress(Exception):
                self._sdk.close()

    # -- raw API helpers -----------------------------------------------------------------

    def create(self, **body: Any) -> dict[str, Any]:
        """POST /v2/images (201 required); the image is deleted at the end of the module."""
        body.setdefault("name", unique("img"))
        resp = expect(self.http.post("/images", json=body), 201)
        image: dict[str, Any] = resp.json()
        self.janitor.track(image["id"])
        return image

    def show(self, image_id: str) -> dict[str, Any]:
        result: dict[str, Any] = expect(self.http.get(f"/images/{image_id}"), 200).json()
        return result

    def upload(self, image_id: str, data: Any, **headers: str) -> httpx.Response:
        return self.http.put(
            f"/images/{image_id}/file",
            content=data,
            headers={"Content-Type": "application/octet-stream", **headers},
        )

    def patch(
        self, image_id: str, ops: Any, content_type: str = IMAGE_PATCH_TYPE
    ) -> httpx.Response:
        return self.http.patch(
            f"/images/{image_id}",
            content=json.dumps(ops),
            headers={"Content-Type": content_type},
        )

    def active_image(self, data: bytes | None = None, **body: Any) -> dict[str, Any]:
        """Create an image, upload `data` (1 KiB of raw data by default), return it shown."""
        body.setdefault("disk_format", "raw")
        body.setdefault("container_format", "bare")
        image = self.create(**body)
        expect(self.upload(image["id"], image_data(1024) if data is None else data), 204)
        return self.show(image["id"])

    def list_ids(self, **params: Any) -> list[str]:
        """Ids of every image GET /v2/images lists with `params`, following `next` links."""
        ids: list[str] = []
        resp = expect(self.http.get("/images", params=params), 200)
        for _ in range(1000):
            body = resp.json()
            ids += [image["id"] for image in body["images"]]
            if not body.get("next"):
                return ids
            resp = expect(self.http.get(self.image_url + body["next"]), 200)
        raise AssertionError("more than 1000 pages of images")


def _image_user(
    server: Server,
    janitor: ImageJanitor,
    *,
    username: str,
    password: str,
    project_id: str,
    project_name: str,
    clouds_file: Path,
    cloud: str,
) -> ImageUser:
    token, body = issue_token(server, username, password, project_id)
    image_url = catalog_url(body, "image")
    client = httpx.Client(base_url=f"{image_url}/v2", timeout=60, headers={"X-Auth-Token": token})
    return ImageUser(
        server=server,
        name=username,
        password=password,
        user_id=str(body["user"]["id"]),
        project_id=project_id,
        project_name=project_name,
        token=token,
        image_url=image_url,
        clouds_file=clouds_file,
        cloud=cloud,
        janitor=janitor,
        http=client,
    )


@pytest.fixture(scope="module")
def image_janitor(server: Server, admin_token: str) -> Iterator[ImageJanitor]:
    _, body = issue_token(
        server,
        server.admin_auth()["username"],
        server.admin_auth()["password"],
        _admin_project_id(server, admin_token),
    )
    url = catalog_url(body, "image")
    with httpx.Client(
        base_url=f"{url}/v2", timeout=60, headers={"X-Auth-Token": admin_token}
    ) as admin:
        janitor = ImageJanitor(admin)
        try:
            yield janitor
        finally:
            janitor.cleanup()


def _admin_project_id(server: Server, admin_token: str) -> str:
    resp = expect(
        httpx.get(
            f"{server.v3}/auth/tokens",
            headers={"X-Auth-Token": admin_token, "X-Subject-Token": admin_token},
            timeout=30,
        ),
        200,
    )
    return str(resp.json()["token"]["project"]["id"])


@pytest.fixture(scope="module")
def image_admin(
    server: Server, admin_token: str, image_janitor: ImageJanitor
) -> Iterator[ImageUser]:
    """The cloud's admin (admin role on the admin project), as in the server's clouds.yaml."""
    auth = server.admin_auth()
    user = _image_user(
        server,
        image_janitor,
        username=auth["username"],
        password=auth["password"],
        project_id=_admin_project_id(server, admin_token),
        project_name=auth["project_name"],
        clouds_file=server.clouds_yaml,
        cloud="onestack",
    )
    try:
        yield user
    finally:
        user.close()


def _member_user(server: Server, factory: Factory, janitor: ImageJanitor) -> ImageUser:
    user, project, password = factory.user_with_role("member")
    return _image_user(
        server,
        janitor,
        username=user["name"],
        password=password,
        project_id=project["id"],
        project_name=project["name"],
        clouds_file=server.password_cloud(user["name"], password, project=project["name"]),
        cloud="user",
    )


@pytest.fixture(scope="module")
def image_owner(
    server: Server, factory: Factory, image_janitor: ImageJanitor
) -> Iterator[ImageUser]:
    """A user with the `member` role on a project of its own (no admin rights)."""
    user = _member_user(server, factory, image_janitor)
    try:
        yield user
    finally:
        user.close()


@pytest.fixture(scope="module")
def image_other(
    server: Server, factory: Factory, image_janitor: ImageJanitor
) -> Iterator[ImageUser]:
    """A `member` of a second project: sees other projects' images only as the API allows."""
    user = _member_user(server, factory, image_janitor)
    try:
        yield user
    finally:
        user.close()


@pytest.fixture(scope="session")
def onestack_admin_cli(
    server: Server, db_backend: Database
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m onestack ARGS --state-dir STATE` with the server's database settings."""
    if server.proc is None:
        pytest.skip("the onestack command needs the state of a server this session started")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = _clean_env()
        env.pop("ONESTACK_DATABASE__URL", None)
        env.pop("ONESTACK_CONFIG", None)
        env["ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS"] = "4"
        if db_backend.url:
            env["ONESTACK_DATABASE__URL"] = db_backend.url
        cmd = [sys.executable, "-m", "onestack", *args, "--state-dir", str(server.state_dir)]
        return subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    return run


def raw_http(
    url: str,
    method: str,
    headers: dict[str, str],
    chunks: Any,
    *,
    stop_when_answered: bool = True,
    final_chunk: bool = True,
    wait_before_end: float = 0.0,
    close_early: bool = False,
    before_close: Callable[[], None] | None = None,
) -> tuple[int | None, bytes, bool]:
    """Send a request over a plain socket, the body in `chunks` (chunked transfer encoding
    unless the headers carry a Content-Length).

    Returns (status or None, raw response, answered_before_end): whether the server answered
    before the body was complete. With `close_early`, the socket is closed after the last
    chunk without ending the body (an interrupted upload) and no response is read;
    `before_close` runs just before that (e.g. to wait until the server is busy with it).
    """
    import select

    parsed = httpx.URL(url)
    target = parsed.raw_path.decode()
    chunked = not any(k.lower() == "content-length" for k in headers)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    sock = socket.create_connection((parsed.host, parsed.port or 80), timeout=60)
    answered_early = False
    try:
        sock.sendall(head)
        for chunk in chunks:
            if stop_when_answered and select.select([sock], [], [], 0)[0]:
                answered_early = True
                break
            payload = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                answered_early = True
                break
        if close_early:
            if before_close is not None:
                before_close()
            sock.shutdown(socket.SHUT_RDWR)
            return None, b"", False
        if not answered_early and final_chunk:
            if stop_when_answered and select.select([sock], [], [], wait_before_end)[0]:
                answered_early = True
            elif chunked:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"0\r\n\r\n")
        response = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while b"\r\n\r\n" not in response:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        status = None
        if response.startswith(b"HTTP/1.1 ") or response.startswith(b"HTTP/1.0 "):
            status = int(response[9:12])
        return status, response, answered_early
    finally:
        sock.close()
