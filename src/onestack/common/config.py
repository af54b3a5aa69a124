"""Configuration: defaults in code, overridden by a TOML file, overridden by the environment.

The environment wins so that tests and containers can change one setting without a file:
``ONESTACK_<SECTION>__<KEY>=value`` (e.g. ``ONESTACK_DATABASE__URL``). Values from the
environment are parsed as the type of the default they replace.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "ONESTACK_"


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 5000
    # Public base URL written into the catalog and clouds.yaml; derived from host/port if empty.
    public_url: str = ""
    max_request_body_size: int = 1024 * 1024  # bytes; larger bodies get 413
    log_level: str = "INFO"
    log_format: str = "text"  # "text" or "json"
    enabled_services: list[str] = field(default_factory=lambda: ["identity", "image"])


@dataclass
class DatabaseSettings:
    # Empty means SQLite at <state_dir>/onestack.db.
    url: str = ""
    pool_size: int = 10
    echo: bool = False


@dataclass
class IdentitySettings:
    token_expiration: int = 3600  # seconds
    password_hash_rounds: int = 12  # bcrypt cost
    # How long the auth middleware trusts a validated token without asking again (seconds).
    # In one process revocations take effect at once; across processes within this time.
    token_cache_time: float = 5.0
    max_active_keys: int = 3
    list_limit: int = 0  # 0: no limit, as Keystone's default
    region: str = "RegionOne"
    admin_user: str = "admin"
    admin_project: str = "admin"


@dataclass
class ImageSettings:
    # Where image data lives; empty means <state_dir>/images (and <state_dir>/images/staging
    # for data staged by the glance-direct import method).
    store_dir: str = ""
    # Per-project defaults, as Glance's unified-limit names; -1 means unlimited. Operators
    # override them per project with `onestack image-quota set`.
    image_count_total: int = -1
    image_size_total: int = -1  # MiB, summed over the project's images (active and uploading)
    image_stage_total: int = -1  # MiB staged for import at once
    image_count_uploading: int = -1
    list_limit_max: int = 1000  # the most images one list page holds, as Glance's api_limit_max
    list_limit_default: int = (
        25  # page size when the request names none (Glance: limit_param_default)
    )
    image_size_cap: int = 1024**4  # bytes; larger uploads get 413 (Glance's default: 1 TiB)


@dataclass
class PolicySettings:
    # Operator overrides: a YAML (or JSON) file mapping rule names to check strings.
    file: str = ""
    enforce_scope: bool = True


@dataclass
class Settings:
    state_dir: Path = field(default_factory=lambda: Path("~/.local/share/onestack").expanduser())
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    image: ImageSettings = field(default_factory=ImageSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'onestack.db'}"

    @property
    def image_store_dir(self) -> Path:
        return (
            Path(self.image.store_dir).expanduser()
            if self.image.store_dir
            else (self.state_dir / "images")
        )

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"


class ConfigError(ValueError):
    pass


def _coerce(value: str, annotation: Any, name: str) -> Any:
    kind = annotation if isinstance(annotation, type) else None
    text = str(annotation)
    if kind is bool or text == "bool":
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected a boolean, got {value!r}")
    if kind is int or text == "int":
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if kind is float or text == "float":
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if text.startswith("list"):
        return [item.strip() for item in value.split(",") if item.strip()]
    if text == "Path":
        return Path(value).expanduser()
    return value


def _apply(section: Any, values: dict[str, Any], where: str, strict: bool = True) -> None:
    hints = get_type_hints(type(section))
    for key, value in values.items():
        if key not in hints:
            if not strict:
                # Other tools use the ONESTACK_ prefix too (tests, scripts): not ours to refuse.
                continue
            raise ConfigError(f"{where}: unknown setting {key!r}")
        current = getattr(section, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                if not strict:
                    continue
                raise ConfigError(f"{where}.{key}: expected a table")
            _apply(current, value, f"{where}.{key}", strict)
            continue
        if isinstance(value, dict):
            if not strict:
                continue
            raise ConfigError(f"{where}.{key}: expected a value, not a table")
        if isinstance(value, str) and not isinstance(current, str):
            value = _coerce(value, hints[key], f"{where}.{key}")
        elif isinstance(current, Path):
            value = Path(str(value)).expanduser()
        setattr(section, key, value)


def load(
    path: str | Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Build settings: defaults, then the TOML file, then the environment, then overrides."""
    env = dict(os.environ) if env is None else env
    settings = Settings()
    path = path or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        with open(path, "rb") as handle:
            _apply(settings, tomllib.load(handle), "config")
    from_env: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        target = from_env
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if not isinstance(target.get(parts[-1]), dict):
            target[parts[-1]] = value
    _apply(settings, from_env, "environment", strict=False)
    if overrides:
        _apply(settings, overrides, "overrides")
    settings.state_dir = Path(settings.state_dir).expanduser().resolve()
    return settings
