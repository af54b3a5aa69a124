#!/usr/bin/env python3
"""Write a tempest.conf for a running onestack, from its state directory's clouds.yaml.

Usage: make_conf.py [--state-dir DIR] [--cloud NAME] [--workspace DIR] [--scope system|project]
                    [--output FILE]

Only the Identity service is enabled; every other service is marked unavailable, and the
identity feature flags say what onestack implements (access rules and the OS-INHERIT and OS-EC2
extensions; no trusts, no security compliance, no domain-specific drivers). Option names follow
tempest/config.py (Tempest 47).
"""

from __future__ import annotations

import argparse
import configparser
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_STATE_DIR = Path.home() / ".local" / "share" / "onestack"

# Identity API extensions onestack serves (tempest checks OS-INHERIT and OS-EC2 by name).
IDENTITY_EXTENSIONS = ["OS-INHERIT", "OS-EC2"]

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


def build_config(
    entry: dict[str, Any], workspace: Path | None = None, scope: str = "system"
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
    args = parser.parse_args(argv)

    entry = load_cloud(args.state_dir.expanduser(), args.cloud)
    conf = build_config(entry, args.workspace, args.scope)
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
