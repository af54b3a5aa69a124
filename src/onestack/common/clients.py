"""How services reach each other.

Every service talks to another one only through a client with this interface. The in-process
clients call the other service's code directly (the default: one process); an HTTP client
with the same methods is used when services run in separate processes.
"""

from __future__ import annotations

from typing import Protocol

from onestack.common.context import AuthInfo


class IdentityClient(Protocol):
    async def validate_token(self, token: str) -> AuthInfo | None:
        """What the token says about its bearer, or None when it is not valid."""
