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
        metafunc.parametrize(
            "db_backend",
            _selected_backends(metafunc.config),
            indirect=True,
            scope="session",
        )


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
