#!/usr/bin/env python3
"""Identity API benchmark: onestack vs. upstream OpenStack Keystone.

Starts both servers on loopback (fresh temporary state for each), loads each with
wrk at a fixed concurrency for a fixed time per scenario, and prints req/s, p50
and p99 per scenario plus onestack/upstream ratios, onestack's time from an empty
state directory to the first issued token, server RSS after the load, and the
bcrypt "password-hash bound". See bench/README.md.

This is a benchmark, not a test: nothing here asserts on timing.

Run:  .venv/bin/python bench/identity_bench.py [--duration 10] [--skip-upstream]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ONESTACK_BIN = REPO / ".venv" / "bin" / "onestack"
WRK_LUA = BENCH_DIR / "request.lua"
KEYSTONE_HOME = Path(os.environ.get("KEYSTONE_BENCH_HOME", "/opt/keystone-bench"))
KEYSTONE_VENV = KEYSTONE_HOME / "venv"
KEYSTONE_PACKAGES = ["keystone", "uwsgi"]
HASH_ROUNDS = 12
LOOPBACK = "127.0.0.1"
UPSTREAM_ADMIN_PASSWORD = "bench-admin-secret"

KEYSTONE_CONF = """\
[DEFAULT]
log_file = {state}/keystone.log
use_stderr = false
debug = false

[database]
connection = sqlite:///{state}/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = {state}/fernet-keys

[fernet_receipts]
key_repository = {state}/fernet-keys

[credential]
key_repository = {state}/credential-keys

[cache]
enabled = true
backend = dogpile.cache.memory

[identity]
password_hash_algorithm = bcrypt
password_hash_rounds = {rounds}
"""

# Close to devstack's keystone-uwsgi-public.ini, but with uwsgi's own HTTP router
# (keep-alive) in front instead of Apache + mod_proxy_uwsgi.
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
module = keystone.wsgi.api:application
virtualenv = {venv}
disable-logging = true
"""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def http_request(
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request with the stdlib; returns (status, headers, body), never raises on 4xx/5xx."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def password_auth(user: str, password: str, domain: str, project: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": domain}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": domain}}},
        }
    }


def header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    v3_url: str  # e.g. http://127.0.0.1:P/identity/v3
    state_dir: Path
    log_path: Path
    password: str
    user: str = "admin"
    domain: str = "Default"
    project: str = "admin"
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0  # process start -> first issued token
    setup_s: float = 0.0  # state preparation before the process starts (upstream only)
    token: str = ""
    project_id: str = ""
    notes: list[str] = field(default_factory=list)

    def issue_password_token(self, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
        body = password_auth(self.user, self.password, self.domain, self.project)
        return http_request("POST", f"{self.v3_url}/auth/tokens", body, timeout=timeout)

    def login(self) -> None:
        status, hdrs, body = self.issue_password_token()
        token = header(hdrs, "X-Subject-Token")
        if status != 201 or not token:
            raise RuntimeError(f"{self.name}: token issue failed: {status} {body[:500]!r}")
        self.token = token
        self.project_id = json.loads(body)["token"]["project"]["id"]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """All live processes in the server's process group (it is a session leader)."""
        if self.proc is None:
            return []
        pgid = self.proc.pid
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:  # fields: state, ppid, pgrp, ...
                found.append(int(entry.name))
        return found

    def rss_bytes(self) -> tuple[int, int]:
        """(sum of VmRSS over the process group, number of processes)."""
        total, count = 0, 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    count += 1
        return total, count

    def cpu_s(self) -> float:
        """utime + stime of the live processes in the group, in seconds."""
        total = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # workers of a killed master may linger briefly in the same group
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log(f"{self.name}: stopped")

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_for_token(srv: Server, started: float, timeout: float) -> float:
    """Poll until a password token is issued; return seconds since `started`."""
    deadline = started + timeout
    last = ""
    while time.monotonic() < deadline:
        if not srv.alive():
            raise RuntimeError(f"{srv.name} exited early:\n{srv.log_tail()}")
        if srv.password:
            try:
                status, _, body = srv.issue_password_token(timeout=10)
                if status == 201:
                    return time.monotonic() - started
                last = f"{status} {body[:300]!r}"
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
        time.sleep(0.05)
    raise RuntimeError(f"{srv.name}: no token within {timeout}s (last: {last})\n{srv.log_tail()}")


def start_onestack(workdir: Path, timeout: float, servers: list[Server]) -> Server:
    state = workdir / "onestack-state"  # does not exist yet: `up` from an empty state
    port = free_port()
    log_path = workdir / "onestack.log"
    srv = Server("onestack", "", state, log_path, password="")
    servers.append(srv)  # registered before Popen so that `finally` always stops it
    env = dict(os.environ)
    env["ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS"] = str(HASH_ROUNDS)
    cmd = [str(ONESTACK_BIN), "up", "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--state-dir", str(state)]
    log(f"onestack: {' '.join(cmd)}")
    started = time.monotonic()
    with log_path.open("wb") as out:
        srv.proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    clouds = state / "clouds.yaml"
    while True:
        if not srv.alive():
            raise RuntimeError(f"onestack exited early:\n{srv.log_tail()}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"onestack: no {clouds} within {timeout}s\n{srv.log_tail()}")
        if clouds.exists():
            try:
                cloud = (yaml.safe_load(clouds.read_text()) or {})["clouds"]["onestack"]
                auth = cloud["auth"]
                srv.password = str(auth["password"])
                break
            except (yaml.YAMLError, KeyError, TypeError):
                pass  # possibly half-written; retry
        time.sleep(0.02)
    srv.user = str(auth.get("username", "admin"))
    srv.project = str(auth.get("project_name", "admin"))
    srv.domain = str(auth.get("user_domain_name", "Default"))
    if srv.domain != auth.get("project_domain_name", srv.domain):
        srv.notes.append("user and project domains differ in clouds.yaml; using the user's")
    auth_url = str(auth["auth_url"]).rstrip("/")
    srv.v3_url = auth_url if auth_url.endswith("/v3") else auth_url + "/v3"
    if not srv.v3_url.startswith(f"http://{LOOPBACK}:"):
        raise RuntimeError(f"onestack auth_url is not on {LOOPBACK}: {auth_url}")
    srv.startup_s = wait_for_token(srv, started, timeout)
    log(f"onestack: first token {srv.startup_s:.2f}s after start ({srv.v3_url})")
    return srv


def keystone_installed() -> bool:
    py = KEYSTONE_VENV / "bin" / "python"
    if not (py.exists() and (KEYSTONE_VENV / "bin" / "uwsgi").exists()):
        return False
    probe = "import importlib.util as u; assert u.find_spec('keystone.wsgi.api')"
    return subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0


def setup_keystone_venv() -> float | None:
    """Create the upstream venv if missing (idempotent). Returns seconds spent, None if none."""
    if keystone_installed():
        return None
    python = shutil.which("python3.11") or shutil.which("python3")
    if python is None:
        raise RuntimeError("python3.11 not found on PATH")
    log(f"upstream: installing {' '.join(KEYSTONE_PACKAGES)} into {KEYSTONE_VENV}")
    t0 = time.monotonic()
    KEYSTONE_HOME.mkdir(parents=True, exist_ok=True)
    if not (KEYSTONE_VENV / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(KEYSTONE_VENV)], check=True)
    pip = [str(KEYSTONE_VENV / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *KEYSTONE_PACKAGES], check=True)
    if not keystone_installed():
        raise RuntimeError("keystone.wsgi.api not importable after install")
    spent = time.monotonic() - t0
    log(f"upstream: venv ready in {spent:.0f}s")
    return spent


def start_upstream(workdir: Path, timeout: float, processes: int, servers: list[Server]) -> Server:
    state = workdir / "keystone-state"
    state.mkdir()
    port = free_port()
    conf = state / "keystone.conf"
    conf.write_text(KEYSTONE_CONF.format(state=state, rounds=HASH_ROUNDS))
    ini = state / "uwsgi.ini"
    ini.write_text(
        UWSGI_INI.format(processes=processes, host=LOOPBACK, port=port, venv=KEYSTONE_VENV)
    )
    log_path = workdir / "keystone-uwsgi.log"
    srv = Server(
        "upstream",
        f"http://{LOOPBACK}:{port}/v3",
        state,
        log_path,
        password=UPSTREAM_ADMIN_PASSWORD,
    )
    servers.append(srv)
    manage = [str(KEYSTONE_VENV / "bin" / "keystone-manage"), "--config-file", str(conf)]
    owner = ["--keystone-user", "root", "--keystone-group", "root"]
    if os.geteuid() != 0:
        import grp
        import pwd

        owner = [
            "--keystone-user",
            pwd.getpwuid(os.geteuid()).pw_name,
            "--keystone-group",
            grp.getgrgid(os.getegid()).gr_name,
        ]
    steps = [
        ["db_sync"],
        ["fernet_setup", *owner],
        ["credential_setup", *owner],
        [
            "bootstrap",
            "--bootstrap-password",
            UPSTREAM_ADMIN_PASSWORD,
            "--bootstrap-region-id",
            "RegionOne",
            "--bootstrap-public-url",
            f"http://{LOOPBACK}:{port}/v3",
        ],
    ]
    t0 = time.monotonic()
    with (state / "keystone-manage.log").open("wb") as out:
        for step in steps:
            subprocess.run([*manage, *step], stdout=out, stderr=subprocess.STDOUT, check=True)
    srv.setup_s = time.monotonic() - t0
    log(f"upstream: keystone-manage db_sync/fernet_setup/bootstrap took {srv.setup_s:.1f}s")
    env = dict(os.environ)
    env["OS_KEYSTONE_CONFIG_FILES"] = str(conf)
    cmd = [str(KEYSTONE_VENV / "bin" / "uwsgi"), "--ini", str(ini)]
    started = time.monotonic()
    with log_path.open("wb") as out:
        srv.proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    srv.startup_s = wait_for_token(srv, started, timeout)
    log(f"upstream: first token {srv.startup_s:.2f}s after uwsgi start ({srv.v3_url})")
    return srv


# --------------------------------------------------------------------------- load


@dataclass
class Scenario:
    key: str
    title: str
    method: str
    path: str  # appended to the server's v3 URL
    expect: int

    def body(self, srv: Server) -> dict[str, Any] | None:
        if self.key == "password":
            return password_auth(srv.user, srv.password, srv.domain, srv.project)
        if self.key == "token":
            return {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": srv.token}},
                    "scope": {"project": {"id": srv.project_id}},
                }
            }
        return None

    def headers(self, srv: Server) -> dict[str, str]:
        if self.key == "validate":
            return {"X-Auth-Token": srv.token, "X-Subject-Token": srv.token}
        if self.key == "projects":
            return {"X-Auth-Token": srv.token}
        return {}


SCENARIOS = [
    Scenario("password", "token issue (password)", "POST", "/auth/tokens", 201),
    Scenario("token", "token issue (token)", "POST", "/auth/tokens", 201),
    Scenario("validate", "token validate", "GET", "/auth/tokens", 200),
    Scenario("projects", "project list", "GET", "/projects", 200),
    Scenario("version", "version document", "GET", "", 200),
]


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses + socket errors + timeouts
    server_cpu_s: float = 0.0  # CPU time used by the server's processes during the run
    other_cpu_s: float = 0.0  # CPU time used by anything else but the load generator

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_req(self) -> float:
        return 1000 * self.server_cpu_s / self.requests if self.requests else 0.0

    @property
    def other_cores(self) -> float:
        return self.other_cpu_s / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    method: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    threads: int,
    workdir: Path,
) -> Result:
    body_file, header_file = "-", "-"
    if body is not None:
        body_path = workdir / "body.json"
        body_path.write_text(json.dumps(body))
        body_file = str(body_path)
    if headers:
        header_path = workdir / "headers.txt"
        header_path.write_text("".join(f"{k}: {v}\n" for k, v in headers.items()))
        header_file = str(header_path)
    cmd = [
        "wrk",
        "-t",
        str(min(threads, concurrency)),
        "-c",
        str(concurrency),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "60s",
        "-s",
        str(WRK_LUA),
        url,
        "--",
        method,
        body_file,
        header_file,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("WRK_RESULT "):
            r = json.loads(line.removeprefix("WRK_RESULT "))
            errors = sum(
                r[k]
                for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
            )
            return Result(
                r["requests"],
                r["duration_us"] / 1e6,
                r["p50_us"] / 1000,
                r["p99_us"] / 1000,
                errors,
            )
    raise RuntimeError(f"no WRK_RESULT in wrk output:\n{out}")


def run_python_load(
    url: str,
    method: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
) -> Result:
    """Fallback when wrk is missing: threads with keep-alive http.client connections.

    It competes with the servers for the GIL-free part of 2 cores far more than wrk does,
    so numbers are lower than with wrk and should only be compared with each other.
    """
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or LOOPBACK
    path = parsed.path or "/"
    data = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker() -> None:
        conn = http.client.HTTPConnection(host, parsed.port, timeout=60)
        local: list[float] = []
        local_errors = 0
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    local_errors += 1
            except (OSError, http.client.HTTPException):
                local_errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, parsed.port, timeout=60)
            local.append(time.perf_counter() - t)
        conn.close()
        with lock:
            latencies.extend(local)
            errors[0] += local_errors

    t0 = time.monotonic()
    workers = [threading.Thread(target=worker) for _ in range(concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - t0
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return Result(len(latencies), elapsed, pct(50), pct(99), errors[0])


def ensure_wrk(allow_install: bool) -> bool:
    if shutil.which("wrk"):
        return True
    if allow_install and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "wrk"]
        quiet = subprocess.DEVNULL
        if subprocess.run(install, stdout=quiet, stderr=quiet).returncode != 0:
            subprocess.run(["apt-get", "update"], stdout=quiet, stderr=quiet)
            subprocess.run(install, stdout=quiet, stderr=quiet)
    return shutil.which("wrk") is not None


def measure_bcrypt(rounds: int, samples: int = 5) -> tuple[float, float]:
    """(seconds per hashpw, seconds per checkpw) at the given cost, in this process."""
    pw = b"benchmark-password"
    t0 = time.perf_counter()
    for _ in range(samples):
        hashed = bcrypt.hashpw(pw, bcrypt.gensalt(rounds))
    t_hash = (time.perf_counter() - t0) / samples
    t0 = time.perf_counter()
    for _ in range(samples):
        bcrypt.checkpw(pw, hashed)
    return t_hash, (time.perf_counter() - t0) / samples


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds spent busy on all cores since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user/nice
    return (sum(fields) - idle - guest) / CLK_TCK


def children_cpu_s() -> float:
    """CPU seconds of this process's reaped children (the load generator runs)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def wait_idle(srv: Server, timeout: float = 60.0) -> None:
    """Wait until the server has finished requests that the load generator abandoned.

    When wrk stops, requests it sent are still queued in the server (16 password requests are
    ~2 s of bcrypt on 2 cores); without this they would run during the next measurement.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and srv.alive():
        before = srv.cpu_s()
        time.sleep(0.25)
        if srv.cpu_s() - before < 0.02:  # < 8 % of one core
            return


def measured_run(srv: Server, load: Callable[[], Result]) -> Result:
    """Run `load` and attribute the machine's CPU time to the server and to everyone else."""
    wait_idle(srv)
    srv_before, busy_before = srv.cpu_s(), machine_busy_s()
    mine_before = children_cpu_s() + self_cpu_s()
    result = load()
    server_cpu = srv.cpu_s() - srv_before
    mine = children_cpu_s() + self_cpu_s() - mine_before
    result.server_cpu_s = server_cpu
    result.other_cpu_s = max(0.0, machine_busy_s() - busy_before - server_cpu - mine)
    return result


# --------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def print_report(
    args: argparse.Namespace,
    servers: list[Server],
    results: dict[tuple[str, str], Result],
    rss: dict[str, tuple[int, int]],
    bcrypt_times: tuple[float, float],
    venv_setup_s: float | None,
    loader: str,
    loadavg: str,
) -> None:
    names = [s.name for s in servers]
    cols = [
        ("req/s", ".1f"),
        ("p50 ms", ".1f"),
        ("p99 ms", ".1f"),
        ("cpu ms", ".2f"),
        ("err", "d"),
    ]
    head = f"{'scenario':<24}"
    for name in names:
        head += " | " + " ".join(
            f"{name[:9] + ' ' + c:>15}" if i == 0 else f"{c:>8}" for i, (c, _) in enumerate(cols)
        )
    if len(names) == 2:
        head += f" | {'rps o/u':>8} {'p50 o/u':>8} {'p99 o/u':>8} {'cpu o/u':>8}"
    print()
    print(
        f"Identity benchmark: concurrency {args.concurrency}, {args.duration:g}s per scenario "
        f"(+{args.warmup:g}s warm-up), loader {loader}, bcrypt cost {HASH_ROUNDS}, "
        f"{os.cpu_count()} CPUs, load average at start {loadavg}"
    )
    print(head)
    print("-" * len(head))
    for sc in SCENARIOS:
        row = f"{sc.title:<24}"
        for name in names:
            r = results.get((sc.key, name))
            vals: list[float | int | None] = (
                [r.rps, r.p50_ms, r.p99_ms, r.cpu_ms_per_req, r.errors] if r else [None] * 5
            )
            cells = [fmt(v, spec) for v, (_, spec) in zip(vals, cols, strict=True)]
            row += " | " + " ".join(
                f"{c:>15}" if i == 0 else f"{c:>8}" for i, c in enumerate(cells)
            )
        a, b = (results.get((sc.key, n)) for n in names) if len(names) == 2 else (None, None)
        if a is not None and b is not None:
            pairs = [
                (a.rps, b.rps),
                (a.p50_ms, b.p50_ms),
                (a.p99_ms, b.p99_ms),
                (a.cpu_ms_per_req, b.cpu_ms_per_req),
            ]
            row += " | " + " ".join(f"{fmt(ratio(x, y), '.2f'):>8}" for x, y in pairs)
        print(row)
    print(
        "(cpu ms = server CPU time per request, all its processes; err = non-2xx + socket "
        "errors;\n o/u = onestack / upstream: req/s > 1 and latency, cpu < 1 favour onestack)"
    )
    if results:
        (key, name), worst = max(results.items(), key=lambda kv: kv[1].other_cores)
        print(
            f"CPU used by other processes during the runs: up to {worst.other_cores:.2f} "
            f"cores ({name}, {key}){'  <- noisy machine' if worst.other_cores > 0.2 else ''}"
        )
    print()
    t_hash, t_check = bcrypt_times
    cores = os.cpu_count() or 1
    bound = cores / t_check
    print(
        f"bcrypt cost {HASH_ROUNDS} in the bench process: hashpw {t_hash * 1000:.0f} ms, "
        f"checkpw {t_check * 1000:.0f} ms -> password-hash bound ~{bound:.1f} req/s "
        f"on {cores} cores"
    )
    for srv in servers:
        r = results.get(("password", srv.name))
        if r:
            print(
                f"  {srv.name} password token issue: {r.rps:.1f} req/s = "
                f"{100 * r.rps / bound:.0f}% of the bound"
            )
    print()
    for srv in servers:
        mib, nproc = rss.get(srv.name, (0, 0))
        if srv.name == "onestack":
            print(
                f"onestack: `up` from an empty state dir to first issued token: "
                f"{srv.startup_s:.2f} s"
            )
        else:
            print(
                f"upstream: keystone-manage db_sync+fernet_setup+credential_setup+bootstrap "
                f"{srv.setup_s:.1f} s; uwsgi start to first issued token {srv.startup_s:.2f} s"
                f" (total {srv.setup_s + srv.startup_s:.1f} s)"
            )
        print(f"  RSS after load: {mib / 2**20:.0f} MiB in {nproc} process(es)")
        for note in srv.notes:
            print(f"  note: {note}")
    if venv_setup_s is not None:
        print(
            f"upstream venv setup (pip install {' '.join(KEYSTONE_PACKAGES)}) this run: "
            f"{venv_setup_s:.0f} s"
        )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per scenario (10)")
    p.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each measured run (2)"
    )
    p.add_argument("--concurrency", type=int, default=16, help="open connections (16)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument(
        "--python-loader", action="store_true", help="use the Python fallback instead of wrk"
    )
    p.add_argument("--skip-upstream", action="store_true", help="benchmark onestack only")
    p.add_argument("--skip-onestack", action="store_true", help="benchmark upstream only")
    p.add_argument(
        "--setup",
        action="store_true",
        help="only install the upstream venv and wrk if missing, then exit",
    )
    p.add_argument("--uwsgi-processes", type=int, default=2, help="upstream workers (2)")
    p.add_argument(
        "--scenarios",
        default=",".join(s.key for s in SCENARIOS),
        help="comma-separated subset of: " + ",".join(s.key for s in SCENARIOS),
    )
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument(
        "--keep-state", action="store_true", help="keep the temporary state/log directory"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # turn SIGTERM into an exception so that the finally block stops the servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIG_IGN
    use_upstream = not args.skip_upstream
    use_onestack = not args.skip_onestack
    wanted = set(args.scenarios.split(","))
    unknown = wanted - {s.key for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    SCENARIOS[:] = [s for s in SCENARIOS if s.key in wanted]

    have_wrk = not args.python_loader and ensure_wrk(allow_install=True)
    venv_setup_s = setup_keystone_venv() if use_upstream or args.setup else None
    if args.setup:
        return 0
    loader = "wrk" if have_wrk else "python threads"
    if not have_wrk and not args.python_loader:
        log("wrk not available: falling back to the Python thread load generator")
    if use_onestack and not ONESTACK_BIN.exists():
        raise SystemExit(f"{ONESTACK_BIN} missing: run ./scripts/setup in {REPO}")

    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    log(f"load average {loadavg}; measuring bcrypt cost {HASH_ROUNDS}")
    bcrypt_times = measure_bcrypt(HASH_ROUNDS)

    workdir = Path(tempfile.mkdtemp(prefix="identity-bench-"))
    servers: list[Server] = []
    results: dict[tuple[str, str], Result] = {}
    rss: dict[str, tuple[int, int]] = {}
    try:
        # start one after the other so that startup times are not disturbed
        if use_onestack:
            start_onestack(workdir, args.startup_timeout, servers)
        if use_upstream:
            start_upstream(workdir, args.startup_timeout, args.uwsgi_processes, servers)
        for srv in servers:
            srv.login()
        for sc in SCENARIOS:
            for srv in servers:
                url = srv.v3_url + sc.path
                body, hdrs = sc.body(srv), sc.headers(srv)
                status, _, resp = http_request(sc.method, url, body, hdrs)
                if status != sc.expect:
                    note = (
                        f"{sc.method} {url} -> {status} (expected {sc.expect}): "
                        f"{resp[:300].decode(errors='replace')}"
                    )
                    srv.notes.append(note)
                    log(f"{srv.name}: {note}")
                runs = [(args.warmup, False), (args.duration, True)]
                for seconds, measured in runs:
                    if seconds <= 0:
                        continue
                    log(f"{srv.name}: {sc.title} {'run' if measured else 'warm-up'} {seconds:g}s")
                    if have_wrk:
                        load = functools.partial(
                            run_wrk,
                            url,
                            sc.method,
                            body,
                            hdrs,
                            args.concurrency,
                            seconds,
                            args.wrk_threads,
                            workdir,
                        )
                    else:
                        load = functools.partial(
                            run_python_load, url, sc.method, body, hdrs, args.concurrency, seconds
                        )
                    r = measured_run(srv, load)
                    if measured:
                        results[(sc.key, srv.name)] = r
                        log(
                            f"{srv.name}: {r.rps:.1f} req/s, p50 {r.p50_ms:.1f} ms, "
                            f"p99 {r.p99_ms:.1f} ms, server CPU {r.cpu_ms_per_req:.2f} ms/req, "
                            f"other processes {r.other_cores:.2f} cores"
                        )
                if not srv.alive():
                    raise RuntimeError(f"{srv.name} died during {sc.title}:\n{srv.log_tail()}")
        for srv in servers:
            rss[srv.name] = srv.rss_bytes()
    finally:
        for srv in servers:
            srv.stop()
        if args.keep_state:
            log(f"state and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_report(args, servers, results, rss, bcrypt_times, venv_setup_s, loader, loadavg)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "duration": args.duration,
                    "concurrency": args.concurrency,
                    "loader": loader,
                    "bcrypt_hash_s": bcrypt_times[0],
                    "bcrypt_check_s": bcrypt_times[1],
                    "results": {
                        f"{k[1]}/{k[0]}": vars(v)
                        | {"rps": v.rps, "cpu_ms_per_req": v.cpu_ms_per_req}
                        for k, v in results.items()
                    },
                    "startup_s": {s.name: s.startup_s for s in servers},
                    "upstream_setup_s": {
                        s.name: s.setup_s for s in servers if s.name == "upstream"
                    },
                    "rss_bytes": {k: v[0] for k, v in rss.items()},
                    "notes": {s.name: s.notes for s in servers},
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
