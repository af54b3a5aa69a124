#!/usr/bin/env python3
"""Write a tempest.conf for a running onestack, from its state directory's clouds.yaml.

Usage: make_conf.py [--state-dir DIR] [--cloud NAME] [--workspace DIR] [--scope system|project]
                    [--output FILE]

                    [--no-discover]

Identity is always enabled, and its feature flags say what onestack implements (access rules and
the OS-INHERIT and OS-EC2 extensions; no trusts, no security compliance, no domain-specific
drivers). The Image service is enabled when the cloud's catalog has an `image` endpoint: the
script asks the running cloud (a token's catalog, GET /v2/info/import, /v2/info/stores and
/v2/schemas/image) and describes what onestack's image service does - glance-direct import but
no web-download, copy-image or glance-download, os_glance_* reserved, one store, no image cache,
no locations API, no metadefs, no tasks. With --no-discover the cloud is not asked and only
Identity is enabled. Every other service is marked unavailable. Option names follow
tempest/config.py (Tempest 47).
"""

from __future__ import annotations

import argparse
import configparser
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_STATE_DIR = Path.home() / ".local" / "share" / "onestack"

# Identity API extensions onestack serves (tempest checks OS-INHERIT and OS-EC2 by name).
IDENTITY_EXTENSIONS = ["OS-INHERIT", "OS-EC2"]

# Does the image service refuse data that does not match the image's disk_format? Tempest
# then skips the tests that upload random bytes as, say, qcow2.
IMAGE_FORMAT_ENFORCEMENT = "false"

# Every service tempest knows of, in [service_available]; identity is always expected.
OTHER_SERVICES = ["nova", "glance", "neutron", "cinder", "swift", "horizon"]

# Services of common tempest plugins; oslo.config ignores them when the plugin is absent.
PLUGIN_SERVICES = [
    "barbican",
    "designate",
    "heat",
    "ironic",
    "manila",
    "octavia",
    "placement",
    "aodh",
    "gnocchi",
    "ceilometer",
    "trove",
    "zaqar",
    "mistral",
    "magnum",
    "watcher",
    "zun",
]


def load_cloud(state_dir: Path, cloud: str) -> dict[str, Any]:
    path = state_dir / "clouds.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        sys.exit(f"make_conf: {path} not found (is onestack set up in {state_dir}?)")
    clouds = (data or {}).get("clouds") or {}
    if cloud not in clouds:
        sys.exit(f"make_conf: cloud {cloud!r} not in {path} (have: {', '.join(clouds) or 'none'})")
    entry: dict[str, Any] = clouds[cloud]
    auth = entry.get("auth") or {}
    missing = [k for k in ("auth_url", "username", "password", "project_name") if not auth.get(k)]
    if missing:
        sys.exit(f"make_conf: cloud {cloud!r} in {path} lacks auth {', '.join(missing)}")
    return entry


@dataclass
class ImageService:
    """What the cloud's image service says about itself."""

    url: str  # the catalog's public endpoint, without a version
    import_methods: list[str] = field(default_factory=list)
    disk_formats: list[str] = field(default_factory=list)
    container_formats: list[str] = field(default_factory=list)
    multiple_stores: bool = False


def _request(
    url: str, *, token: str | None = None, body: Any = None, timeout: float = 15
) -> tuple[int, dict[str, str], Any]:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["X-Auth-Token"] = token
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status, resp_headers = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status, resp_headers = exc.code, dict(exc.headers)
    try:
        return status, resp_headers, json.loads(raw) if raw else None
    except ValueError:
        return status, resp_headers, None


def _enum(schema: dict[str, Any], key: str) -> list[str]:
    values = ((schema.get("properties") or {}).get(key) or {}).get("enum") or []
    return [str(v) for v in values if v]


def discover_image_service(entry: dict[str, Any]) -> ImageService | None:
    """The image service of the cloud of clouds.yaml ``entry``, or None without one."""
    auth = entry["auth"]
    auth_url = str(auth["auth_url"]).rstrip("/")
    if not auth_url.endswith("/v3"):
        auth_url += "/v3"
    user_domain = str(auth.get("user_domain_name") or "Default")
    project_domain = str(auth.get("project_domain_name") or "Default")
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "password": auth["password"],
                        "domain": {"name": user_domain},
                    }
                },
            },
            "scope": {
                "project": {"name": auth["project_name"], "domain": {"name": project_domain}}
            },
        }
    }
    try:
        status, headers, token_body = _request(f"{auth_url}/auth/tokens", body=body)
    except OSError as exc:
        sys.exit(f"make_conf: cannot reach {auth_url} to read the catalog: {exc}")
    if status != 201:
        sys.exit(f"make_conf: token request to {auth_url} answered {status}: {token_body}")
    token = {k.lower(): v for k, v in headers.items()}["x-subject-token"]
    interface = str(entry.get("interface") or "public")
    url = None
    for service in token_body["token"].get("catalog") or []:
        if service.get("type") != "image":
            continue
        for endpoint in service.get("endpoints") or []:
            if endpoint.get("interface") == interface:
                url = str(endpoint["url"]).rstrip("/")
    if url is None:
        return None
    image = ImageService(url)
    status, _, info = _request(f"{url}/v2/info/import", token=token)
    if status == 200 and info:
        image.import_methods = list(info.get("import-methods", {}).get("value") or [])
    status, _, stores = _request(f"{url}/v2/info/stores", token=token)
    image.multiple_stores = status == 200 and len((stores or {}).get("stores") or []) > 1
    status, _, schema = _request(f"{url}/v2/schemas/image", token=token)
    if status == 200 and schema:
        image.disk_formats = _enum(schema, "disk_format")
        image.container_formats = _enum(schema, "container_format")
    return image


def _first(preferred: str, values: list[str]) -> list[str]:
    """``values`` with ``preferred`` first: tempest creates its images with the first format."""
    return [preferred, *[v for v in values if v != preferred]] if preferred in values else values


def image_sections(image: ImageService, region: str, interface: str) -> dict[str, dict[str, str]]:
    """[image] and [image-feature-enabled] for onestack's image service."""
    image_conf = {
        "catalog_type": "image",
        "region": region,
        "endpoint_type": interface,
        # no cache (Glance's image_cache_dir), so the cache API tests are skipped
        "image_caching_enabled": "false",
        # no outside downloads: web-download is not served and the tasks API is not either;
        # an empty http_image skips the task tests, which would fetch it
        "http_image": "",
        "http_qcow2_image": "",
        "build_timeout": "60",
        "build_interval": "1",
        "hashing_algorithm": "sha512",
    }
    if image.container_formats:
        image_conf["container_formats"] = ",".join(_first("bare", image.container_formats))
    if image.disk_formats:
        image_conf["disk_formats"] = ",".join(_first("raw", image.disk_formats))
    features = {
        "api_v2": "true",
        "import_image": str("glance-direct" in image.import_methods).lower(),
        "os_glance_reserved": "true",
        # no locations API (show_multiple_locations) and no http store
        "manage_locations": "false",
        "http_store_enabled": "false",
        "image_conversion": "false",
        "image_format_enforcement": IMAGE_FORMAT_ENFORCEMENT,
        "do_secure_hash": "true",
        "store_weight_enabled": "false",
    }
    return {"image": image_conf, "image-feature-enabled": features}


def build_config(
    entry: dict[str, Any],
    workspace: Path | None = None,
    scope: str = "system",
    image: ImageService | None = None,
) -> configparser.ConfigParser:
    """The tempest.conf for the cloud of clouds.yaml ``entry``.

    ``scope`` "system": onestack's default policy (enforce_scope = true, as in Keystone since
    2023.2): the identity admin tests use system-scoped tokens ([identity] use_system_token,
    [auth] admin_system = all). "project": project-scoped admin tokens, as older Keystones.
    """
    auth = entry["auth"]
    auth_url = str(auth["auth_url"]).rstrip("/")
    if auth_url.endswith("/v3"):
        auth_url = auth_url[: -len("/v3")]
    region = str(entry.get("region_name") or "RegionOne")
    user_domain = str(auth.get("user_domain_name") or "Default")
    project_domain = str(auth.get("project_domain_name") or "Default")

    conf = configparser.ConfigParser(interpolation=None)
    conf["DEFAULT"] = {"debug": "true", "use_stderr": "false", "log_file": "tempest.log"}
    if workspace is not None:
        conf["DEFAULT"]["log_dir"] = str(workspace / "logs")
    conf["auth"] = {
        "admin_username": str(auth["username"]),
        "admin_password": str(auth["password"]),
        "admin_project_name": str(auth["project_name"]),
        "admin_domain_name": user_domain,
        "admin_user_domain_name": user_domain,
        "admin_project_domain_name": project_domain,
        **({"admin_system": "all"} if scope == "system" else {}),
        "use_dynamic_credentials": "true",
        "create_isolated_networks": "false",
    }
    conf["identity"] = {
        "uri_v3": f"{auth_url}/v3",
        "auth_version": "v3",
        "region": region,
        "v3_endpoint_type": str(entry.get("interface") or "public"),
        "admin_role": "admin",
        "default_domain_id": "default",
        "use_system_token": str(scope == "system").lower(),
        "disable_ssl_certificate_validation": "false",
    }
    conf["identity-feature-enabled"] = {
        "api_v3": "true",
        "api_extensions": ",".join(IDENTITY_EXTENSIONS),
        "trust": "false",
        "security_compliance": "false",
        "access_rules": "true",
        "domain_specific_drivers": "false",
        "immutable_user_source": "false",
    }
    conf["service_available"] = {name: "false" for name in OTHER_SERVICES + PLUGIN_SERVICES}
    conf["enforce_scope"] = {"keystone": str(scope == "system").lower()}
    if image is not None:
        conf["service_available"]["glance"] = "true"
        for section, values in image_sections(
            image, region, str(entry.get("interface") or "public")
        ).items():
            conf[section] = values
        # onestack's image policies are Glance's secure-RBAC defaults (project reader/member)
        conf["enforce_scope"]["glance"] = "true"
    conf["service-clients"] = {"http_timeout": "60"}
    if workspace is not None:
        conf["oslo_concurrency"] = {"lock_path": str(workspace / "tempest_lock")}
    return conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--cloud", default="onestack")
    parser.add_argument(
        "--scope",
        choices=["system", "project"],
        default="system",
        help="token scope of the admin identity tests (default: system)",
    )
    parser.add_argument("--output", "-o", type=Path, help="default: standard output")
    parser.add_argument(
        "--workspace", type=Path, help="tempest workspace: logs go to WORKSPACE/logs/tempest.log"
    )
    parser.add_argument(
        "--no-discover",
        action="store_true",
        help="do not ask the running cloud for its catalog: Identity only",
    )
    args = parser.parse_args(argv)

    entry = load_cloud(args.state_dir.expanduser(), args.cloud)
    image = None if args.no_discover else discover_image_service(entry)
    conf = build_config(entry, args.workspace, args.scope, image)
    if args.output is None:
        conf.write(sys.stdout)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with args.output.open("w") as f:
            conf.write(f)
        args.output.chmod(0o600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
