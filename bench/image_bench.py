#!/usr/bin/env python3
"""Image API benchmark: onestack vs. upstream OpenStack Glance.

Starts both servers on loopback (fresh temporary state for each, file store on the same
disk as the bench's temporary data) and measures, side by side: upload and download of a
1 GiB image against a plain `cp` of the same file, server CPU seconds per GiB, server RSS
while moving the data, 4 and 16 concurrent uploads (failures and whether they overlapped),
the rate of image creation, and a list of 100 images out of 10,000 under wrk. Prints one
table with onestack/upstream ratios and the targets. See bench/README.md.

This is a benchmark, not a test: nothing here asserts on timing.

Run:  .venv/bin/python bench/image_bench.py [--skip-upstream] [--scenarios ...]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ONESTACK_BIN = REPO / ".venv" / "bin" / "onestack"
WRK_LUA = BENCH_DIR / "request.lua"
GLANCE_HOME = Path(os.environ.get("GLANCE_BENCH_HOME", "/opt/glance-bench"))
GLANCE_VENV = GLANCE_HOME / "venv"
GLANCE_PACKAGES = ["glance", "uwsgi"]
LOOPBACK = "127.0.0.1"
MiB = 1 << 20
GiB = 1 << 30
MB = 1_000_000  # throughput and RSS figures are in MB (10^6 bytes)
IO_TIMEOUT = 900.0  # seconds a transfer may stall before the bench gives up on it
CLK_TCK = os.sysconf("SC_CLK_TCK")
SCENARIO_KEYS = ("transfer", "c4", "c16", "list")

# Our own minimal glance-api.conf (option names from the Glance configuration reference):
# multi-store with one file backend, SQLite, no keystone (the default paste pipeline with
# its unauthenticated, admin request context), no image cache.
GLANCE_API_CONF = """\
[DEFAULT]
enabled_backends = fs:file
log_file = {state}/glance-api.log
use_stderr = false
debug = false

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {state}/images

[os_glance_staging_store]
filesystem_store_datadir = {state}/staging

[os_glance_tasks_store]
filesystem_store_datadir = {state}/tasks

[database]
connection = sqlite:///{state}/glance.db

[paste_deploy]
config_file = {paste_ini}

[oslo_policy]
# the unauthenticated context has no roles; the pre-2023 defaults let it act
enforce_new_defaults = false
enforce_scope = false
"""

# 2 single-threaded uWSGI workers behind uWSGI's own HTTP router with keep-alive, as for
# Keystone in identity_bench.py. devstack also sets http-auto-chunked/http-chunked-input
# for Glance; the bench leaves them out: every upload here has a Content-Length, and with
# http-auto-chunked the router closed the connection after each response (no keep-alive).
UWSGI_INI = """\
[uwsgi]
master = true
processes = {processes}
threads = 1
enable-threads = true
lazy-apps = true
thunder-lock = true
die-on-term = true
buffer-size = 65535
http = {host}:{port}
http-keepalive = 1
socket-timeout = 60
http-timeout = 600
module = glance.wsgi.api:application
virtualenv = {venv}
disable-logging = true
"""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_busy_s() -> float:
    """CPU seconds spent busy on all cores since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user/nice
    return (sum(fields) - idle - guest) / CLK_TCK


def own_cpu_s() -> float:
    """CPU seconds of this process and its reaped children (cp, wrk)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def md5_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def short(body: bytes, limit: int = 300) -> str:
    return body[:limit].decode(errors="replace").replace("\n", " ").strip()


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    state_dir: Path
    store_dir: Path  # where the server keeps image data (searched for the stored file)
    log_path: Path
    image_url: str = ""  # image endpoint root, without /v2
    auth: dict[str, str] = field(default_factory=dict)  # headers sent with every request
    auth_note: str = ""
    proc: subprocess.Popen[bytes] | None = None
    setup_s: float = 0.0  # state preparation before the process starts (upstream)
    startup_s: float = 0.0  # process start -> first 200 from GET /v2/images
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(f"{self.name}: note: {text}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """All live processes in the server's process group (it is a session leader)."""
        if self.proc is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid:  # fields: state, ppid, pgrp, ...
                found.append(int(entry.name))
        return found

    def cpu_s(self, pids: list[int] | None = None) -> float:
        """utime + stime of the server's processes, in seconds."""
        total = 0
        for pid in self.pids() if pids is None else pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK

    def rss(self, pids: list[int] | None = None) -> int:
        """Sum of VmRSS over the server's processes, in bytes."""
        total = 0
        for pid in self.pids() if pids is None else pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        for pid in self.pids():  # workers of a killed master may linger in the group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log(f"{self.name}: stopped")

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def app_log(self) -> Path:
        """The file the application logs its errors to."""
        glance_log = self.state_dir / "glance-api.log"
        return glance_log if self.name == "upstream" else self.log_path

    def log_size(self) -> int:
        try:
            return self.app_log().stat().st_size
        except OSError:
            return 0

    def log_errors(self, since: int) -> list[str]:
        """Distinct ERROR messages the server logged after byte offset `since`, with counts."""
        try:
            with self.app_log().open("rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        counts: dict[str, int] = {}
        for line in text.splitlines():
            if "ERROR" not in line and "Traceback" not in line:
                continue
            if self.name == "upstream" and "] " not in line:
                continue  # Glance repeats the prefix on every traceback line
            message = line.split("] ", 1)[-1].strip()[:160]
            counts[message] = counts.get(message, 0) + 1
        return [f"{n}x {m}" for m, n in sorted(counts.items(), key=lambda kv: -kv[1])][:5]

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the server has finished work that the previous step left behind."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            before = self.cpu_s()
            time.sleep(0.25)
            if self.cpu_s() - before < 0.02:  # < 8 % of one core
                return

    # -- HTTP ------------------------------------------------------------------------

    def endpoint(self) -> tuple[str, int, str]:
        u = urllib.parse.urlsplit(self.image_url)
        return u.hostname or LOOPBACK, u.port or 80, u.path.rstrip("/")

    def client(self) -> Client:
        return Client(self)


class Client:
    """Keep-alive JSON client for one server (one connection; not thread-safe)."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.host, self.port, self.prefix = srv.endpoint()
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 60.0
    ) -> tuple[int, bytes]:
        """(status, body) of `method prefix+path`; reconnects once if the server closed."""
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.srv.auth)
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, payload
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt or not reused:
                    raise
        raise AssertionError("unreachable")

    def create_image(self, name: str) -> tuple[int, bytes, str]:
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        status, payload = self.request("POST", "/v2/images", body)
        image_id = ""
        if status == 201:
            image_id = str(json.loads(payload)["id"])
        return status, payload, image_id

    def image(self, image_id: str) -> dict[str, Any]:
        status, payload = self.request("GET", f"/v2/images/{image_id}")
        if status != 200:
            raise RuntimeError(f"GET image {image_id}: {status} {short(payload)}")
        result: dict[str, Any] = json.loads(payload)
        return result

    def delete_image(self, image_id: str) -> None:
        status, payload = self.request("DELETE", f"/v2/images/{image_id}")
        if status not in (204, 200, 404):
            self.srv.note(f"DELETE image {image_id}: {status} {short(payload)}")


def wait_for_images(srv: Server, started: float, timeout: float) -> float:
    """Poll GET /v2/images until 200; return seconds since `started`."""
    deadline = started + timeout
    last = ""
    while time.monotonic() < deadline:
        if not srv.alive():
            raise RuntimeError(f"{srv.name} exited early:\n{srv.log_tail()}")
        cli = srv.client()
        try:
            status, body = cli.request("GET", "/v2/images?limit=1", timeout=10)
            if status == 200:
                return time.monotonic() - started
            last = f"{status} {short(body)}"
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        finally:
            cli.close()
        time.sleep(0.1)
    raise RuntimeError(f"{srv.name}: image API not ready in {timeout}s ({last})\n{srv.log_tail()}")


def json_request(
    url: str, body: dict[str, Any], timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or LOOPBACK, u.port or 80, timeout=timeout)
    try:
        conn.request("POST", u.path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def start_onestack(workdir: Path, timeout: float, servers: list[Server]) -> Server:
    state = workdir / "onestack-state"  # does not exist yet: `up` from an empty state
    port = free_port()
    srv = Server("onestack", state, state / "images", workdir / "onestack.log")
    servers.append(srv)  # registered before Popen so that `finally` always stops it
    env = dict(os.environ)
    env["ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS"] = "4"
    cmd = [str(ONESTACK_BIN), "up", "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--state-dir", str(state)]
    log(f"onestack: {' '.join(cmd)}")
    started = time.monotonic()
    with srv.log_path.open("wb") as out:
        srv.proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    clouds = state / "clouds.yaml"
    auth: dict[str, Any] = {}
    while not auth:
        if not srv.alive():
            raise RuntimeError(f"onestack exited early:\n{srv.log_tail()}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"onestack: no {clouds} within {timeout}s\n{srv.log_tail()}")
        if clouds.exists():
            with contextlib.suppress(yaml.YAMLError, KeyError, TypeError):
                auth = dict(
                    (yaml.safe_load(clouds.read_text()) or {})["clouds"]["onestack"]["auth"]
                )
        time.sleep(0.05)
    auth_url = str(auth["auth_url"]).rstrip("/")
    v3 = auth_url if auth_url.endswith("/v3") else auth_url + "/v3"
    user_domain = str(auth.get("user_domain_name", "Default"))
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": str(auth.get("username", "admin")),
                        "domain": {"name": user_domain},
                        "password": str(auth["password"]),
                    }
                },
            },
            "scope": {
                "project": {
                    "name": str(auth.get("project_name", "admin")),
                    "domain": {"name": str(auth.get("project_domain_name", user_domain))},
                }
            },
        }
    }
    last = ""
    while True:
        if not srv.alive():
            raise RuntimeError(f"onestack exited early:\n{srv.log_tail()}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"onestack: no token within {timeout}s ({last})\n{srv.log_tail()}")
        try:
            status, hdrs, payload = json_request(f"{v3}/auth/tokens", body)
            if status == 201 and hdrs.get("x-subject-token"):
                break
            last = f"{status} {short(payload)}"
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        time.sleep(0.05)
    srv.auth = {"X-Auth-Token": hdrs["x-subject-token"]}
    srv.auth_note = "project-scoped admin token (X-Auth-Token)"
    catalog = json.loads(payload)["token"].get("catalog") or []
    for entry in catalog:
        if entry.get("type") == "image":
            urls = [e["url"] for e in entry.get("endpoints", []) if e.get("interface") == "public"]
            if urls:
                srv.image_url = urls[0].rstrip("/").removesuffix("/v2")
    if not srv.image_url:
        srv.image_url = f"http://{LOOPBACK}:{port}/image"
        srv.note(f"no image endpoint in the token's catalog; using {srv.image_url}")
    if not srv.image_url.startswith(f"http://{LOOPBACK}:"):
        raise RuntimeError(f"onestack image endpoint is not on {LOOPBACK}: {srv.image_url}")
    srv.startup_s = wait_for_images(srv, started, timeout)
    log(f"onestack: image API ready {srv.startup_s:.2f}s after start ({srv.image_url})")
    return srv


def glance_installed() -> bool:
    py = GLANCE_VENV / "bin" / "python"
    if not (py.exists() and (GLANCE_VENV / "bin" / "uwsgi").exists()):
        return False
    probe = "import importlib.util as u; assert u.find_spec('glance.wsgi.api')"
    return subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0


def setup_glance_venv() -> float | None:
    """Create the upstream venv if missing (idempotent). Returns seconds spent, None if none."""
    if glance_installed():
        return None
    python = shutil.which("python3.11") or shutil.which("python3")
    if python is None:
        raise RuntimeError("python3.11 not found on PATH")
    log(f"upstream: installing {' '.join(GLANCE_PACKAGES)} into {GLANCE_VENV}")
    t0 = time.monotonic()
    GLANCE_HOME.mkdir(parents=True, exist_ok=True)
    if not (GLANCE_VENV / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(GLANCE_VENV)], check=True)
    pip = [str(GLANCE_VENV / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *GLANCE_PACKAGES], check=True)
    if not glance_installed():
        raise RuntimeError("glance.wsgi.api not importable after install")
    spent = time.monotonic() - t0
    log(f"upstream: venv ready in {spent:.0f}s")
    return spent


def glance_version() -> str:
    py = GLANCE_VENV / "bin" / "python"
    code = "import importlib.metadata as m; print(m.version('glance'))"
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def glance_paste_ini() -> Path:
    """The paste pipeline file that the glance package installs into its venv."""
    candidates = [GLANCE_VENV / "etc" / "glance" / "glance-api-paste.ini"]
    candidates += sorted(GLANCE_VENV.glob("lib/python*/site-packages/etc/glance/*paste.ini"))
    for path in candidates:
        if path.exists():
            return path
    raise RuntimeError(f"glance-api-paste.ini not found under {GLANCE_VENV}")


def start_upstream(workdir: Path, timeout: float, processes: int, servers: list[Server]) -> Server:
    state = workdir / "glance-state"
    for sub in ("images", "staging", "tasks"):
        (state / sub).mkdir(parents=True)
    port = free_port()
    conf = state / "glance-api.conf"
    conf.write_text(GLANCE_API_CONF.format(state=state, paste_ini=glance_paste_ini()))
    ini = state / "uwsgi.ini"
    ini.write_text(
        UWSGI_INI.format(processes=processes, host=LOOPBACK, port=port, venv=GLANCE_VENV)
    )
    srv = Server("upstream", state, state / "images", workdir / "glance-uwsgi.log")
    srv.image_url = f"http://{LOOPBACK}:{port}"
    srv.auth_note = "no keystone: default paste pipeline, unauthenticated admin context"
    servers.append(srv)
    env = dict(os.environ)
    env["OS_GLANCE_CONFIG_DIR"] = str(state)  # glance.wsgi.api reads glance-api.conf there
    t0 = time.monotonic()
    with (state / "glance-manage.log").open("wb") as out:
        subprocess.run(
            [str(GLANCE_VENV / "bin" / "glance-manage"), "--config-file", str(conf), "db_sync"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=True,
        )
    srv.setup_s = time.monotonic() - t0
    log(f"upstream: glance-manage db_sync took {srv.setup_s:.1f}s")
    cmd = [str(GLANCE_VENV / "bin" / "uwsgi"), "--ini", str(ini)]
    started = time.monotonic()
    with srv.log_path.open("wb") as out:
        srv.proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    srv.startup_s = wait_for_images(srv, started, timeout)
    log(f"upstream: image API ready {srv.startup_s:.2f}s after uwsgi start ({srv.image_url})")
    return srv


# --------------------------------------------------------------------------- transfers


@dataclass
class Transfer:
    status: int = 0  # 0: no HTTP response
    body: bytes = b""
    start: float = 0.0
    end: float = 0.0  # response complete (upload) / last byte written (download)
    synced: float = 0.0  # after fsync of the written file
    nbytes: int = 0
    marks: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes sent)
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and not self.error

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def time_at(self, fraction: float) -> float:
        want = fraction * self.nbytes
        for t, sent in self.marks:
            if sent >= want:
                return t
        return self.end

    def describe(self) -> str:
        if self.ok:
            return f"{self.status}"
        return f"HTTP {self.status or '-'} {short(self.body)} {self.error}".strip()


def put_file(
    srv: Server, image_id: str, src: Path, offset: int, length: int, step: int = 4 * MiB
) -> Transfer:
    """PUT /v2/images/{id}/file with Content-Length, body sent from `src` with sendfile."""
    host, port, prefix = srv.endpoint()
    lines = [
        f"PUT {prefix}/v2/images/{image_id}/file HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/octet-stream",
        f"Content-Length: {length}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in srv.auth.items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    tr = Transfer(nbytes=length, start=time.monotonic())
    try:
        with (
            socket.create_connection((host, port), timeout=IO_TIMEOUT) as sock,
            src.open("rb") as f,
        ):
            sent = 0
            try:
                sock.sendall(head)
                while sent < length:
                    n = sock.sendfile(f, offset + sent, min(step, length - sent))
                    if n <= 0:
                        raise OSError("sendfile sent nothing")
                    sent += n
                    tr.marks.append((time.monotonic(), sent))
                    if sent < length and select.select([sock], [], [], 0)[0]:
                        # an answer before the whole body: an error; read it before the
                        # server's close with unread data resets the connection
                        tr.error = f"answered after {sent} of {length} bytes"
                        break
            except OSError as exc:  # the server may have answered early: read its answer
                tr.error = f"send failed after {sent} bytes: {exc!r}"
            resp = http.client.HTTPResponse(sock, method="PUT")
            try:
                resp.begin()
                tr.status, tr.body = resp.status, resp.read()
            except (OSError, http.client.HTTPException) as exc:
                tr.error = (tr.error + f"; no response: {exc!r}").lstrip("; ")
    except OSError as exc:
        tr.error = f"connect failed: {exc!r}"
    tr.end = time.monotonic()
    return tr


def get_file(srv: Server, image_id: str, dest: Path) -> Transfer:
    """GET /v2/images/{id}/file streamed into `dest`, then fsync."""
    host, port, prefix = srv.endpoint()
    tr = Transfer(start=time.monotonic())
    conn = http.client.HTTPConnection(host, port, timeout=IO_TIMEOUT)
    try:
        conn.request("GET", f"{prefix}/v2/images/{image_id}/file", headers=srv.auth)
        resp = conn.getresponse()
        tr.status = resp.status
        if resp.status != 200:
            tr.body = resp.read()
        else:
            buf = bytearray(MiB)
            view = memoryview(buf)
            with dest.open("wb") as out:
                while n := resp.readinto(buf):
                    out.write(view[:n])
                    tr.nbytes += n
                out.flush()
                tr.end = time.monotonic()
                os.fsync(out.fileno())
    except (OSError, http.client.HTTPException) as exc:
        tr.error = repr(exc)
    finally:
        conn.close()
    if not tr.end:
        tr.end = time.monotonic()
    tr.synced = time.monotonic()
    return tr


def stored_file(srv: Server, size: int, since: float) -> Path | None:
    """The file under the server's store that holds an upload of `size` bytes."""
    best: tuple[float, Path] | None = None
    for root, _, files in os.walk(srv.store_dir):
        for name in files:
            path = Path(root) / name
            try:
                st = path.stat()
            except OSError:
                continue
            if (
                st.st_size == size
                and st.st_mtime >= since - 1
                and (not best or st.st_mtime > best[0])
            ):
                best = (st.st_mtime, path)
    return best[1] if best else None


class RssSampler:
    """Samples the summed RSS of a fixed set of pids every 50 ms in a thread."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.pids = srv.pids()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.srv.rss(self.pids))
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.srv.rss(self.pids))


@dataclass
class Measured:
    seconds: float
    server_cpu_s: float
    other_cores: float  # CPU of processes that are neither the server nor the bench


def measure(srv: Server | None, fn: Callable[[], Any]) -> tuple[Any, Measured]:
    """Run fn() and account the server's CPU and everyone else's."""
    pids = srv.pids() if srv else []
    cpu0 = srv.cpu_s(pids) if srv else 0.0
    busy0, own0, t0 = machine_busy_s(), own_cpu_s(), time.monotonic()
    result = fn()
    seconds = time.monotonic() - t0
    server = (srv.cpu_s(pids) - cpu0) if srv else 0.0
    other = machine_busy_s() - busy0 - server - (own_cpu_s() - own0)
    return result, Measured(seconds, server, max(0.0, other) / seconds if seconds else 0.0)


def background_cores(servers: list[Server], seconds: float = 3.0) -> float:
    """Cores busy over `seconds` with the servers idle, less the servers and the bench."""
    for srv in servers:
        srv.wait_idle()
    servers_cpu = sum(srv.cpu_s() for srv in servers)
    _, m = measure(None, lambda: time.sleep(seconds))
    servers_cpu = sum(srv.cpu_s() for srv in servers) - servers_cpu
    return max(0.0, m.other_cores - servers_cpu / m.seconds)


def hash_costs(mib: int = 256) -> dict[str, float]:
    """CPU seconds per GiB of md5 and sha512 in this process (what Glance-compatible uploads
    must compute: `checksum` and `os_hash_value`), best of 3 runs over `mib` MiB."""
    data = os.urandom(64 * MiB)
    costs = {}
    for algo in ("md5", "sha512"):
        best = float("inf")
        for _ in range(3):
            h = hashlib.new(algo)
            t0 = time.thread_time()
            for _ in range(mib // 64):
                h.update(data)
            best = min(best, time.thread_time() - t0)
        costs[algo] = best * GiB / (mib * MiB)
    return costs


def make_source(path: Path, size: int) -> str:
    """Write `size` random bytes, fsync; returns their md5."""
    digest = hashlib.md5()
    chunk = 4 * MiB
    with path.open("wb") as f:
        left = size
        while left:
            data = os.urandom(min(chunk, left))
            digest.update(data)
            f.write(data)
            left -= len(data)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


def timed_copy(src: Path, dst: Path) -> float:
    """Seconds for `cp src dst` plus fsync of dst."""
    dst.unlink(missing_ok=True)
    os.sync()
    t0 = time.monotonic()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    fsync_path(dst)
    seconds = time.monotonic() - t0
    dst.unlink()
    return seconds


# --------------------------------------------------------------------------- scenarios


@dataclass
class Stats:
    """What the report needs, per server; `None` when not measured."""

    values: dict[str, float | int | str | None] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)

    def __setitem__(self, key: str, value: float | int | str | None) -> None:
        self.values[key] = value


def run_transfer(srv: Server, st: Stats, src: Path, src_md5: str, workdir: Path) -> None:
    """1 GiB upload + download: MB/s, CPU s/GiB, RSS before/peak/after."""
    size = src.stat().st_size
    cli = srv.client()
    status, payload, image_id = cli.create_image(f"bench-transfer-{size}")
    if status != 201:
        srv.note(f"create image for the transfer: {status} {short(payload)}")
        return
    srv.wait_idle()
    os.sync()
    log_offset = srv.log_size()
    rss_before = srv.rss()
    st["rss_before"] = rss_before
    with RssSampler(srv) as sampler:
        since = time.time()
        up, m_up = measure(srv, lambda: put_file(srv, image_id, src, 0, size))
        t_sync = time.monotonic()
        stored = stored_file(srv, size, since) if up.ok else None
        if stored is not None:
            fsync_path(stored)
        else:
            os.sync()
            if up.ok:
                srv.note(f"stored file of {size} bytes not found under {srv.store_dir}; used sync")
        sync_s = time.monotonic() - t_sync
        rss_after_up = srv.rss(sampler.pids)
        if not up.ok:
            srv.note(f"{size / MiB:.0f} MiB upload failed: {up.describe()}")
            for text in srv.log_errors(log_offset):
                srv.note(f"transfer: server log: {text}")
            cli.delete_image(image_id)
            return
        st["up_mbps_response"] = size / up.seconds / MB
        st["up_mbps"] = size / (up.seconds + sync_s) / MB
        st["up_cpu_per_gib"] = m_up.server_cpu_s / (size / GiB)
        st["up_other_cores"] = m_up.other_cores
        log(
            f"{srv.name}: upload {size / MiB:.0f} MiB: {st['up_mbps']:.0f} MB/s incl. fsync "
            f"({st['up_mbps_response']:.0f} MB/s to the response), server CPU "
            f"{st['up_cpu_per_gib']:.2f} s/GiB"
        )
        srv.wait_idle()
        os.sync()
        dest = workdir / f"download-{srv.name}.bin"
        down, m_down = measure(srv, lambda: get_file(srv, image_id, dest))
    st["rss_after_up"] = rss_after_up
    st["rss_peak"] = sampler.peak
    st["rss_after"] = srv.rss()
    st["rss_growth"] = sampler.peak - rss_before
    if not down.ok or down.nbytes != size:
        srv.note(f"download failed: {down.describe()} ({down.nbytes} of {size} bytes)")
        for text in srv.log_errors(log_offset):
            srv.note(f"transfer: server log: {text}")
    else:
        st["down_mbps"] = size / (down.synced - down.start) / MB
        st["down_cpu_per_gib"] = m_down.server_cpu_s / (size / GiB)
        st["down_other_cores"] = m_down.other_cores
        log(
            f"{srv.name}: download: {st['down_mbps']:.0f} MB/s incl. fsync, server CPU "
            f"{st['down_cpu_per_gib']:.2f} s/GiB"
        )
        got = md5_file(dest)
        if got != src_md5:
            srv.note(f"downloaded data differs from the upload (md5 {got} != {src_md5})")
    dest.unlink(missing_ok=True)
    try:
        info = cli.image(image_id)
        if info.get("status") != "active" or info.get("size") != size:
            srv.note(f"after upload: status {info.get('status')} size {info.get('size')}")
        if info.get("checksum") and info["checksum"] != src_md5:
            srv.note(f"image checksum {info['checksum']} != md5 of the data {src_md5}")
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        srv.note(f"GET image after upload: {exc}")
    cli.delete_image(image_id)
    cli.close()


def overlap_stats(uploads: list[Transfer]) -> tuple[int, int, float]:
    """(most uploads active at once, uploads serialized, sum(active)/wall) over the 2xx ones.

    An upload is active from the moment a quarter of its body has been taken by the server
    (past the kernel's socket buffers, so the server is reading it) until its response.
    All uploads start together, so on a server that takes them concurrently every one
    reaches its quarter before any finishes; an upload that reached it only after another
    one had finished waited for that one: it is counted as serialized.
    """
    spans = [(u.time_at(0.25), u.end) for u in uploads if u.ok and u.marks]
    if not spans:
        return 0, 0, 0.0
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    active = most = 0
    for _, delta in events:
        active += delta
        most = max(most, active)
    serialized = 0
    for i, (a, _) in enumerate(spans):
        if any(d <= a for j, (_, d) in enumerate(spans) if j != i):
            serialized += 1
    wall = max(b for _, b in spans) - min(a for a, _ in spans)
    busy = sum(b - a for a, b in spans)
    return most, serialized, busy / wall if wall > 0 else 0.0


def run_concurrent(srv: Server, st: Stats, key: str, count: int, size: int, src: Path) -> None:
    """`count` uploads of `size` bytes at once, each from its own slice of `src`."""
    cli = srv.client()
    ids: list[str] = []
    for i in range(count):
        status, payload, image_id = cli.create_image(f"bench-{key}-{i}")
        if status != 201:
            srv.note(f"{key}: create image {i}: {status} {short(payload)}")
            for done in ids:
                cli.delete_image(done)
            return
        ids.append(image_id)
    src_size = src.stat().st_size
    results: list[Transfer] = [Transfer() for _ in range(count)]
    barrier = threading.Barrier(count)

    def upload(i: int) -> None:
        offset = (i * size) % max(1, src_size - size + 1)
        barrier.wait()
        results[i] = put_file(srv, ids[i], src, offset, size, step=MiB)

    srv.wait_idle()
    os.sync()
    log_offset = srv.log_size()

    def run_all() -> None:
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, m = measure(srv, run_all)
    t0 = min(r.start for r in results)
    t1 = max(r.end for r in results)
    failed = [(i, r) for i, r in enumerate(results) if not r.ok]
    lost: list[str] = []
    for i, r in enumerate(results):
        if r.ok:
            try:
                info = cli.image(ids[i])
            except (RuntimeError, OSError, http.client.HTTPException) as exc:
                lost.append(f"#{i}: {exc}")
                continue
            if info.get("status") != "active" or info.get("size") != size:
                lost.append(f"#{i}: 2xx but status {info.get('status')} size {info.get('size')}")
    for i, r in failed:
        srv.note(f"{key}: upload #{i} failed: {r.describe()}")
    for text in lost:
        srv.note(f"{key}: upload {text}")
    if failed or lost:
        for text in srv.log_errors(log_offset):
            srv.note(f"{key}: server log: {text}")
    most, serialized, parallelism = overlap_stats(results)
    ok_bytes = sum(r.nbytes for r in results if r.ok)
    st[f"{key}_mbps"] = ok_bytes / (t1 - t0) / MB
    st[f"{key}_failed"] = len(failed) + len(lost)
    st[f"{key}_most"] = most
    st[f"{key}_serialized"] = serialized
    st[f"{key}_parallelism"] = parallelism
    st[f"{key}_cpu_per_gib"] = m.server_cpu_s / (count * size / GiB)
    st[f"{key}_other_cores"] = m.other_cores
    st[f"{key}_failures"] = "; ".join(f"#{i}: {r.describe()}" for i, r in failed) or None
    timeline = ", ".join(
        f"#{i} {r.start - t0:.1f}/{r.time_at(0.25) - t0:.1f}/{r.end - t0:.1f}s"
        for i, r in enumerate(results)
    )
    st[f"{key}_timeline"] = timeline
    log(
        f"{srv.name}: {count} x {size / MiB:.0f} MiB at once: {st[f'{key}_mbps']:.0f} MB/s, "
        f"{len(failed) + len(lost)} failed, up to {most} active at once, {serialized} "
        f"serialized; start/25%/end: {timeline}"
    )
    for image_id in ids:
        cli.delete_image(image_id)
    cli.close()


def seed_images(srv: Server, st: Stats, total: int, concurrency: int) -> None:
    """Create images through the API until the server holds `total` (creates/s measured)."""
    cli = srv.client()
    status, payload = cli.request("GET", "/v2/images?limit=1000")
    existing = len(json.loads(payload).get("images", [])) if status == 200 else 0
    cli.close()
    want = max(0, total - existing)
    counter = iter(range(want))
    lock = threading.Lock()
    failures: dict[str, int] = {}
    created = [0]

    def worker() -> None:
        c = srv.client()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            for _attempt in range(5):
                try:
                    status, payload, _ = c.create_image(f"bench-list-{i:06d}")
                except (OSError, http.client.HTTPException) as exc:
                    status, payload = 0, repr(exc).encode()
                if status == 201:
                    with lock:
                        created[0] += 1
                    break
                with lock:
                    reason = f"{status} {short(payload, 120)}"
                    failures[reason] = failures.get(reason, 0) + 1
        c.close()

    log(f"{srv.name}: creating {want} images through the API ({concurrency} connections)")
    srv.wait_idle()
    log_offset = srv.log_size()

    def run_all() -> None:
        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, m = measure(srv, run_all)
    st["creates_per_s"] = created[0] / m.seconds if m.seconds else None
    st["create_cpu_ms"] = 1000 * m.server_cpu_s / created[0] if created[0] else None
    st["create_failures"] = sum(failures.values())
    st["images"] = existing + created[0]
    for reason, n in failures.items():
        srv.note(f"image create failed {n}x (retried up to 5 times): {reason}")
    if failures:
        for text in srv.log_errors(log_offset):
            srv.note(f"seeding: server log: {text}")
    log(
        f"{srv.name}: {created[0]} images in {m.seconds:.1f}s = {st['creates_per_s']:.0f}/s, "
        f"server CPU {fmt(st['create_cpu_ms'], '.2f')} ms each, "
        f"{st['create_failures']} failed attempts"
    )


def run_wrk(
    url: str, headers: dict[str, str], concurrency: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    header_file = "-"
    if headers:
        path = workdir / "wrk-headers.txt"
        path.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
        header_file = str(path)
    cmd = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "60s"]
    cmd += ["-s", str(WRK_LUA), url, "--", "GET", "-", header_file]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("WRK_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
            return result
    raise RuntimeError(f"no WRK_RESULT in wrk output:\n{out}")


def run_list(srv: Server, st: Stats, args: argparse.Namespace, workdir: Path) -> None:
    host, port, prefix = srv.endpoint()
    url = f"http://{host}:{port}{prefix}/v2/images?limit=100"
    cli = srv.client()
    status, payload = cli.request("GET", "/v2/images?limit=100")
    cli.close()
    if status != 200:
        srv.note(f"GET /v2/images?limit=100 -> {status} {short(payload)}")
    else:
        doc = json.loads(payload)
        st["list_page"] = len(doc.get("images", []))
        st["list_bytes"] = len(payload)
        if st["list_page"] != 100:
            srv.note(f"list returned {st['list_page']} images, not 100")
        if "next" not in doc:
            srv.note("list of 100 has no 'next' link")
    for seconds, measured in ((args.warmup, False), (args.duration, True)):
        if seconds <= 0:
            continue
        srv.wait_idle()
        log_offset = srv.log_size()
        log(f"{srv.name}: list {'run' if measured else 'warm-up'} {seconds:g}s")
        r, m = measure(srv, lambda s=seconds: run_wrk(url, srv.auth, args.concurrency, s, workdir))
        if measured:
            secs = r["duration_us"] / 1e6
            errors = sum(
                r[k]
                for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
            )
            st["list_rps"] = r["requests"] / secs
            st["list_p50"] = r["p50_us"] / 1000
            st["list_p99"] = r["p99_us"] / 1000
            st["list_errors"] = errors
            st["list_cpu_ms"] = 1000 * m.server_cpu_s / r["requests"] if r["requests"] else None
            st["list_other_cores"] = m.other_cores
            if errors:
                srv.note(f"list: {errors} errors: {json.dumps(r)}")
                for text in srv.log_errors(log_offset):
                    srv.note(f"list: server log: {text}")
            log(
                f"{srv.name}: list: {st['list_rps']:.1f} req/s, p50 {st['list_p50']:.1f} ms, "
                f"p99 {st['list_p99']:.1f} ms, {errors} errors"
            )


# --------------------------------------------------------------------------- report


def fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, spec)


@dataclass
class Row:
    label: str
    key: str
    spec: str = ".0f"
    scale: float = 1.0
    ratio: bool = True
    target: str = ""
    check: Callable[[dict[str, Stats], float | None], bool | None] | None = None


def value(stats: dict[str, Stats], name: str, key: str, scale: float = 1.0) -> float | None:
    st = stats.get(name)
    v = st[key] if st else None
    return None if v is None or isinstance(v, str) else float(v) / scale


def copy_ratio(stats: dict[str, Stats], key: str) -> float | None:
    v, c = value(stats, "onestack", key), value(stats, "copy", "mbps")
    return v / c if v is not None and c else None


def report_rows(args: argparse.Namespace) -> list[Row]:
    mib = args.transfer_mib

    def at_least(key: str, frac: float) -> Callable[[dict[str, Stats], float | None], bool | None]:
        def check(stats: dict[str, Stats], _ratio: float | None) -> bool | None:
            r = copy_ratio(stats, key)
            return None if r is None else r >= frac

        return check

    def up_check(stats: dict[str, Stats], ratio: float | None) -> bool | None:
        r = copy_ratio(stats, "up_mbps")
        if r is None:
            return None
        return r >= 0.8 and (ratio is None or ratio >= 2.0)

    def zero(key: str) -> Callable[[dict[str, Stats], float | None], bool | None]:
        def check(stats: dict[str, Stats], _ratio: float | None) -> bool | None:
            v = value(stats, "onestack", key)
            return None if v is None else v == 0

        return check

    def below(key: str, limit: float, scale: float = 1.0) -> Callable[..., bool | None]:
        def check(stats: dict[str, Stats], _ratio: float | None) -> bool | None:
            v = value(stats, "onestack", key, scale)
            return None if v is None else v < limit

        return check

    def rps_check(stats: dict[str, Stats], ratio: float | None) -> bool | None:
        return None if ratio is None else ratio >= 10

    rows = [
        Row(
            f"upload {mib} MiB, MB/s (to 2xx + fsync)",
            "up_mbps",
            target=">=80% copy, >=2x up",
            check=up_check,
        ),
        Row("  upload MB/s to the 2xx alone", "up_mbps_response"),
        Row(
            f"download {mib} MiB, MB/s (incl. fsync)",
            "down_mbps",
            target=">=80% copy",
            check=at_least("down_mbps", 0.8),
        ),
        Row("upload server CPU s/GiB", "up_cpu_per_gib", ".2f"),
        Row("download server CPU s/GiB", "down_cpu_per_gib", ".2f"),
        Row("RSS before, MB", "rss_before", scale=MB),
        Row(f"RSS peak moving {mib} MiB up+down, MB", "rss_peak", scale=MB),
        Row(
            "RSS growth (peak - before), MB",
            "rss_growth",
            ".1f",
            MB,
            target="< 50 MB",
            check=below("rss_growth", 50, MB),
        ),
        Row("RSS after, MB", "rss_after", scale=MB),
    ]
    for key, count, size in (("c4", 4, args.c4_mib), ("c16", 16, args.c16_mib)):
        rows += [
            Row(f"{count} x {size} MiB at once, MB/s", f"{key}_mbps"),
            Row(
                f"  {count} x: failed or lost",
                f"{key}_failed",
                "d",
                ratio=False,
                target="none lost",
                check=zero(f"{key}_failed"),
            ),
            Row(
                f"  {count} x: serialized (waited for another)",
                f"{key}_serialized",
                "d",
                ratio=False,
                target="none serialized",
                check=zero(f"{key}_serialized"),
            ),
            Row(f"  {count} x: most active at once", f"{key}_most", "d", ratio=False),
            Row(f"  {count} x: server CPU s/GiB", f"{key}_cpu_per_gib", ".2f"),
        ]
    rows += [
        Row("image creates/s (seeding the list)", "creates_per_s", ".0f"),
        Row("  server CPU ms per create", "create_cpu_ms", ".2f"),
        Row(
            f"list 100 of {args.images} at c{args.concurrency}, req/s",
            "list_rps",
            ".1f",
            target=">=10x upstream",
            check=rps_check,
        ),
        Row("  list p50 ms", "list_p50", ".1f"),
        Row("  list p99 ms", "list_p99", ".1f", target="< 50 ms", check=below("list_p99", 50)),
        Row("  list server CPU ms per request", "list_cpu_ms", ".2f"),
        Row("  list errors (non-2xx, socket)", "list_errors", "d", ratio=False),
    ]
    return rows


def print_report(
    args: argparse.Namespace,
    servers: list[Server],
    stats: dict[str, Stats],
    load_start: str,
    load_end: str,
    df_line: str,
    venv_setup_s: float | None,
    background: dict[str, float],
    hashes: dict[str, float],
) -> None:
    names = [s.name for s in servers]
    both = "onestack" in names and "upstream" in names
    copy = stats.get("copy")
    print()
    print(
        f"Image benchmark: {os.cpu_count()} CPUs, load average at start {load_start}, "
        f"at end {load_end}"
    )
    print(f"data and state on: {df_line}")
    if copy and copy["mbps"] is not None:
        print(
            f"plain copy of {args.transfer_mib} MiB (cp + fsync, source in page cache): "
            f"{copy['mbps']:.0f} MB/s (median of runs: {copy['runs_mbps']} MB/s)"
        )
    print()
    head = f"{'metric':<44}"
    for name in names:
        head += f" {name:>10}"
        if name == "onestack":
            head += f" {'/copy':>6}"
    head += f" {'o/u':>6}  {'target':<22} {'met':>4}" if both else f"  {'target':<22} {'met':>4}"
    print(head)
    print("-" * len(head))
    for row in report_rows(args):
        line = f"{row.label:<44}"
        for name in names:
            v = value(stats, name, row.key, row.scale)
            line += f" {fmt(int(v) if v is not None and row.spec == 'd' else v, row.spec):>10}"
            if name == "onestack":
                r = copy_ratio(stats, row.key) if row.key in ("up_mbps", "down_mbps") else None
                line += f" {fmt(r, '.0%'):>6}"
        ratio = None
        if both and row.ratio:
            a, b = value(stats, "onestack", row.key), value(stats, "upstream", row.key)
            ratio = a / b if a is not None and b else None
        if both:
            line += f" {fmt(ratio, '.2f'):>6}"
        met = row.check(stats, ratio) if row.check and "onestack" in names else None
        line += f"  {row.target:<22} {'' if met is None else ('yes' if met else 'NO'):>4}"
        print(line)
    print(
        "(MB = 10^6 bytes; /copy = onestack's MB/s as a share of the plain copy; o/u = onestack"
        " / upstream;\n 'met' judges onestack against the issue's target; 'serialized' counts"
        " uploads that had 25% of\n their body taken by the server only after another upload"
        " had finished; 'most active at once'\n counts uploads between their 25% mark and"
        " their response at the same time)"
    )
    for name in names:
        st = stats[name]
        for key in ("c4", "c16"):
            if st[f"{key}_timeline"]:
                print(f"{name} {key} start/25%/end per upload: {st[f'{key}_timeline']}")
            if st[f"{key}_failures"]:
                print(f"{name} {key} failures: {st[f'{key}_failures']}")
    others = [
        (v, f"{name} {k}")
        for name in names
        for k, v in stats[name].values.items()
        if k.endswith("_other_cores") and isinstance(v, float)
    ]
    if others:
        worst, where = max(others)
        print(
            f"CPU of everything but the server and the bench during the measurements (kernel "
            f"writeback and softirq included): up to {worst:.2f} cores ({where})"
        )
    if hashes:
        md5, sha = hashes["md5"], hashes["sha512"]
        one_core = GiB / max(md5, sha) / MB
        two_cores = 2 * GiB / (md5 + sha) / MB
        print(
            f"hash bound: md5 {md5:.2f} + sha512 {sha:.2f} CPU s/GiB in the bench process -> an "
            f"upload that computes both cannot exceed ~{one_core:.0f} MB/s (each hash on one "
            f"core) nor ~{two_cores:.0f} MB/s (both hashes filling {os.cpu_count()} cores)"
        )
    quiet = ", ".join(f"{v:.2f} ({k})" for k, v in background.items())
    noisy = any(v > 0.2 for v in background.values())
    print(
        f"CPU of other work with the servers idle, cores: {quiet}"
        f"{'  <- noisy machine: other work is running, rerun on an idle one' if noisy else ''}"
    )
    print()
    for srv in servers:
        st = stats[srv.name]
        if srv.name == "onestack":
            print(
                f"onestack: `up` from an empty state dir to the image API answering: "
                f"{srv.startup_s:.2f} s; auth: {srv.auth_note}"
            )
        else:
            print(
                f"upstream: Glance {glance_version()} under uWSGI ({args.uwsgi_processes} "
                f"workers + HTTP router), SQLite, file store; glance-manage db_sync "
                f"{srv.setup_s:.1f} s, uwsgi start to the API answering {srv.startup_s:.2f} s; "
                f"auth: {srv.auth_note}"
            )
        if st["images"] is not None:
            print(
                f"  images stored for the list: {st['images']}, seeded through the API, "
                f"{st['create_failures']} failed create attempts (retried)"
            )
        for note in srv.notes:
            print(f"  note: {note}")
    if venv_setup_s is not None:
        print(
            f"upstream venv setup (pip install {' '.join(GLANCE_PACKAGES)}): {venv_setup_s:.0f} s"
        )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--skip-upstream", action="store_true", help="benchmark onestack only")
    p.add_argument("--skip-onestack", action="store_true", help="benchmark upstream only")
    p.add_argument(
        "--setup", action="store_true", help="only install the upstream venv and wrk, then exit"
    )
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIO_KEYS),
        help="comma-separated subset of: " + ",".join(SCENARIO_KEYS),
    )
    p.add_argument("--images", type=int, default=10_000, help="images stored for the list")
    p.add_argument("--transfer-mib", type=int, default=1024, help="single transfer size (1024)")
    p.add_argument("--c4-mib", type=int, default=256, help="size of each of 4 uploads (256)")
    p.add_argument("--c16-mib", type=int, default=64, help="size of each of 16 uploads (64)")
    p.add_argument(
        "--copy-runs", type=int, default=3, help="plain copies before each server's transfer (3)"
    )
    p.add_argument("--duration", type=float, default=10.0, help="list run seconds (10)")
    p.add_argument("--warmup", type=float, default=2.0, help="list warm-up seconds (2)")
    p.add_argument("--concurrency", type=int, default=16, help="wrk connections for list (16)")
    p.add_argument(
        "--seed-concurrency", type=int, default=4, help="connections creating images (4)"
    )
    p.add_argument("--uwsgi-processes", type=int, default=2, help="upstream workers (2)")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="parent of the temporary directory holding state, data and logs (/tmp)",
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--keep-state", action="store_true", help="keep state dirs and logs")
    return p.parse_args(argv)


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk missing: apt-get install -y wrk")
        quiet = subprocess.DEVNULL
        install = ["apt-get", "install", "-y", "wrk"]
        if subprocess.run(install, stdout=quiet, stderr=quiet).returncode != 0:
            subprocess.run(["apt-get", "update"], stdout=quiet, stderr=quiet)
            subprocess.run(install, stdout=quiet, stderr=quiet)
    return shutil.which("wrk") is not None


def df(path: Path) -> str:
    out = subprocess.run(["df", "-h", str(path)], capture_output=True, text=True).stdout
    lines = out.strip().splitlines()
    return " ".join(lines[-1].split()) if lines else "?"


@contextlib.contextmanager
def workspace(args: argparse.Namespace) -> Iterator[Path]:
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="image-bench-", dir=args.workdir))
    try:
        yield workdir
    finally:
        # the big data files go in any case; state and logs only without --keep-state
        for path in workdir.glob("*.bin"):
            path.unlink(missing_ok=True)
        if args.keep_state:
            for image_dir in workdir.glob("*-state/images"):
                for path in image_dir.rglob("*"):
                    if path.is_file() and path.stat().st_size > 16 * MiB:
                        path.unlink(missing_ok=True)
            log(f"state and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    wanted = [s for s in args.scenarios.split(",") if s]
    unknown = set(wanted) - set(SCENARIO_KEYS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    have_wrk = ensure_wrk()
    venv_setup_s = setup_glance_venv() if not args.skip_upstream or args.setup else None
    if args.setup:
        return 0
    if "list" in wanted and not have_wrk:
        raise SystemExit("wrk is needed for the list scenario (apt-get install wrk)")
    if not args.skip_onestack and not ONESTACK_BIN.exists():
        raise SystemExit(f"{ONESTACK_BIN} missing: run ./scripts/setup in {REPO}")

    load_start = loadavg()
    log(f"load average {load_start}")
    servers: list[Server] = []
    stats: dict[str, Stats] = {}
    background: dict[str, float] = {}
    hashes: dict[str, float] = {}
    with workspace(args) as workdir:
        df_line = df(workdir)
        free = shutil.disk_usage(workdir).free
        size = args.transfer_mib * MiB
        src_size = max(size, 4 * args.c4_mib * MiB, 16 * args.c16_mib * MiB)
        need = src_size + 3 * size + 2 * GiB
        if free < need:
            raise SystemExit(f"{workdir}: {free / GiB:.1f} GiB free, need {need / GiB:.1f}")
        log(f"workdir {workdir} on {df_line}")
        try:
            if not args.skip_onestack:
                start_onestack(workdir, args.startup_timeout, servers)
            if not args.skip_upstream:
                start_upstream(workdir, args.startup_timeout, args.uwsgi_processes, servers)
            for srv in servers:
                stats[srv.name] = Stats()
            hashes = hash_costs() if {"transfer", "c4", "c16"} & set(wanted) else {}
            background["start"] = background_cores(servers)
            log(f"other work on the machine: {background['start']:.2f} cores")
            src = workdir / "source.bin"
            src_md5 = ""
            if {"transfer", "c4", "c16"} & set(wanted):
                log(f"writing {src_size / MiB:.0f} MiB of random data to {src}")
                src_md5 = make_source(src, src_size)
                if src_size != size:  # the single transfer moves exactly `size` bytes
                    src_md5 = ""
            if "transfer" in wanted:
                copies: list[float] = []
                tsrc = src
                if src_size != size:
                    tsrc = workdir / "transfer.bin"
                    src_md5 = make_source(tsrc, size)
                for srv in servers:  # each server's transfer right after its own copies
                    for _ in range(args.copy_runs):
                        copies.append(size / timed_copy(tsrc, workdir / "copy.bin") / MB)
                        log(f"plain copy: {copies[-1]:.0f} MB/s")
                    run_transfer(srv, stats[srv.name], tsrc, src_md5, workdir)
                if tsrc != src:
                    tsrc.unlink()
                median = sorted(copies)[len(copies) // 2]
                runs = ", ".join(f"{v:.0f}" for v in copies)
                stats["copy"] = Stats({"mbps": median, "runs_mbps": runs})
            for key, count, mib in (("c4", 4, args.c4_mib), ("c16", 16, args.c16_mib)):
                if key in wanted:
                    for srv in servers:
                        run_concurrent(srv, stats[srv.name], key, count, mib * MiB, src)
            src.unlink(missing_ok=True)
            if "list" in wanted:
                for srv in servers:
                    seed_images(srv, stats[srv.name], args.images, args.seed_concurrency)
                for srv in servers:
                    run_list(srv, stats[srv.name], args, workdir)
            for srv in servers:
                if not srv.alive():
                    srv.note(f"server died:\n{srv.log_tail()}")
            background["end"] = background_cores(servers)
        finally:
            for srv in servers:
                srv.stop()
    load_end = loadavg()
    print_report(
        args, servers, stats, load_start, load_end, df_line, venv_setup_s, background, hashes
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "load_average": {"start": load_start, "end": load_end},
                    "background_cores": background,
                    "hash_cpu_s_per_gib": hashes,
                    "stats": {k: v.values for k, v in stats.items()},
                    "notes": {s.name: s.notes for s in servers},
                    "startup_s": {s.name: s.startup_s for s in servers},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
