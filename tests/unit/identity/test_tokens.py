"""Fernet token format and the key repository with rotation."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from onestack.identity.tokens import (
    InvalidTokenError,
    KeyRepository,
    TokenFormatter,
    TokenPayload,
    new_audit_id,
)


def payload(**changes: object) -> TokenPayload:
    values: dict[str, object] = {
        "user_id": "0123456789abcdef0123456789abcdef",
        "methods": ("password",),
        "expires_at": time.time() + 3600,
        "issued_at": time.time(),
        "audit_ids": (new_audit_id(),),
        "project_id": "fedcba9876543210fedcba9876543210",
    }
    values.update(changes)
    return TokenPayload(**values)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> KeyRepository:
    repository = KeyRepository(tmp_path / "keys", max_active_keys=3)
    assert repository.initialize()
    return repository


def test_initialize_creates_staged_and_primary_private(repo: KeyRepository) -> None:
    names = sorted(p.name for p in repo.directory.iterdir())
    assert names == ["0", "1"]
    assert stat.S_IMODE(repo.directory.stat().st_mode) == 0o700
    for path in repo.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not repo.initialize()  # existing repository is left alone


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"project_id": None, "domain_id": "default"},
        {"project_id": None, "system": "all"},
        {"project_id": None},
        {"methods": ("token", "password"), "audit_ids": ("a" * 22, "b" * 22)},
        {"methods": ("application_credential",), "application_credential_id": "c" * 32},
    ],
)
def test_round_trip(repo: KeyRepository, changes: dict[str, object]) -> None:
    formatter = TokenFormatter(repo)
    original = payload(**changes)
    token = formatter.encode(original)
    assert "=" not in token  # padding is stripped, as Keystone does
    assert len(token) < 400
    decoded = formatter.decode(token)
    assert decoded.user_id == original.user_id
    assert set(decoded.methods) == set(original.methods)  # kept as a bit set
    assert decoded.project_id == original.project_id
    assert decoded.domain_id == original.domain_id
    assert decoded.system == original.system
    assert decoded.audit_ids == original.audit_ids
    assert decoded.application_credential_id == original.application_credential_id
    assert abs(decoded.expires_at - original.expires_at) < 1e-5
    assert abs(decoded.issued_at - original.issued_at) < 1e-5


@pytest.mark.parametrize("garbage", ["", "abc", "gAAAAA" + "x" * 100, "é" * 10, "A" * 2000])
def test_garbage_is_rejected(repo: KeyRepository, garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        TokenFormatter(repo).decode(garbage)


def test_tampered_token_is_rejected(repo: KeyRepository) -> None:
    formatter = TokenFormatter(repo)
    token = formatter.encode(payload())
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(InvalidTokenError):
        formatter.decode(flipped)


def test_rotation_keeps_old_tokens_valid_until_their_key_is_dropped(
    repo: KeyRepository,
) -> None:
    formatter = TokenFormatter(repo)
    token = formatter.encode(payload())
    # The staged key becomes primary: tokens signed with the old primary still validate.
    assert repo.rotate() == 2
    formatter.reload()
    assert formatter.decode(token).user_id == payload().user_id
    assert sorted(int(p.name) for p in repo.directory.iterdir()) == [0, 1, 2]
    # With max_active_keys=3 the next rotation drops key 1, and with it the old token.
    assert repo.rotate() == 3
    formatter.reload()
    assert sorted(int(p.name) for p in repo.directory.iterdir()) == [0, 2, 3]
    with pytest.raises(InvalidTokenError):
        formatter.decode(token)


def test_new_tokens_use_the_new_primary(repo: KeyRepository) -> None:
    formatter = TokenFormatter(repo)
    repo.rotate()
    formatter.reload()
    token = formatter.encode(payload())
    # A formatter that only knows the staged key of before cannot read it... but the staged
    # key of before IS the new primary, so a host that has not reloaded still validates it.
    stale = KeyRepository(repo.directory)
    assert TokenFormatter(stale).decode(token).user_id == payload().user_id


def test_signature_changes_on_rotation(repo: KeyRepository) -> None:
    before = repo.signature()
    assert before == repo.signature()
    repo.rotate()
    assert repo.signature() != before
