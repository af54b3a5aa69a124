"""Configuration: defaults, TOML file, environment, precedence and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.common import config


def test_defaults_need_no_file(tmp_path: Path) -> None:
    settings = config.load(env={"ONESTACK_STATE_DIR": str(tmp_path)})
    assert settings.state_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'onestack.db'}"
    assert settings.server.port == 5000
    assert settings.identity.password_hash_rounds == 12
    assert settings.public_url == "http://127.0.0.1:5000"


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "onestack.toml"
    path.write_text(
        '[server]\nport = 6000\nhost = "0.0.0.0"\n'
        "[identity]\ntoken_expiration = 60\npassword_hash_rounds = 10\n"
    )
    env = {
        "ONESTACK_CONFIG": str(path),
        "ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS": "4",
        "ONESTACK_DATABASE__URL": "postgresql+psycopg://x@y/z",
        "ONESTACK_SERVER__ENABLED_SERVICES": "identity, image",
        "ONESTACK_POLICY__ENFORCE_SCOPE": "false",
    }
    settings = config.load(env=env)
    assert settings.server.port == 6000
    assert settings.identity.token_expiration == 60
    assert settings.identity.password_hash_rounds == 4  # the environment wins
    assert settings.database_url == "postgresql+psycopg://x@y/z"
    assert settings.server.enabled_services == ["identity", "image"]
    assert settings.policy.enforce_scope is False
    assert settings.public_url == "http://127.0.0.1:6000"  # a wildcard bind is not a URL


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ONESTACK_SERVER__PORT": "many"}, "expected an integer"),
        ({"ONESTACK_POLICY__ENFORCE_SCOPE": "perhaps"}, "expected a boolean"),
    ],
)
def test_bad_values_are_reported(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(env=env)


def test_unknown_environment_names_are_ignored() -> None:
    # ONESTACK_TEST_*, ONESTACK_ADMIN_PASSWORD and the like belong to other tools.
    env = {
        "ONESTACK_SERVER__NO_SUCH": "1",
        "ONESTACK_TEST_DB_BACKENDS": "all",
        "ONESTACK_ADMIN_PASSWORD": "x",
        "ONESTACK_SERVER": "flat",
    }
    settings = config.load(env=env)
    assert settings.server.port == 5000


def test_unknown_file_setting(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[identity]\ntoken_lifetime = 5\n")
    with pytest.raises(config.ConfigError, match="token_lifetime"):
        config.load(path, env={})
