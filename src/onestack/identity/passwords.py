"""Password and secret hashing with bcrypt.

bcrypt reads at most 72 bytes; longer secrets are cut there, as Keystone does. Hashing runs
in a worker thread (bcrypt releases the GIL), so two hashes use both cores.
"""

from __future__ import annotations

import bcrypt

MAX_BYTES = 72


def _bytes(secret: str) -> bytes:
    return secret.encode("utf-8")[:MAX_BYTES]


def hash_password(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(_bytes(secret), bcrypt.gensalt(rounds)).decode()


def verify_password(secret: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(_bytes(secret), hashed.encode())
    except ValueError:
        return False


class DummyHash:
    """A hash to check against when the user does not exist, so the answer takes as long."""

    def __init__(self, rounds: int) -> None:
        self.value = hash_password("onestack-dummy-password", rounds)
