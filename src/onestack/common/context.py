"""The request context: who is calling, in which scope, with which roles."""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass, field
from typing import Any

# The current request id, read by the log formatter so every line carries it.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


# The hex digit of a UUID's variant nibble (10xx, RFC 4122) for each random hex digit.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_request_id() -> str:
    """``req-`` and a random (version 4) UUID, as ``f"req-{uuid.uuid4()}"`` gives.

    Built from 16 random bytes directly: a UUID object and its formatting cost three times
    as much, on every request.
    """
    h = os.urandom(16).hex()
    return f"req-{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class AuthInfo:
    """What a validated token says about its bearer. Built by the identity service."""

    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    roles: tuple[str, ...]  # role names (effective, implied roles expanded)
    role_ids: tuple[str, ...]
    expires_at: float  # unix seconds
    issued_at: float
    audit_ids: tuple[str, ...]
    methods: tuple[str, ...]
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None  # domain scope
    domain_name: str | None = None
    system_scope: str | None = None  # "all" when system scoped
    application_credential_id: str | None = None
    is_admin_project: bool = False

    @property
    def scope_type(self) -> str | None:
        if self.system_scope:
            return "system"
        if self.domain_id:
            return "domain"
        if self.project_id:
            return "project"
        return None


@dataclass
class RequestContext:
    request_id: str
    auth: AuthInfo | None = None
    token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> str | None:
        return self.auth.user_id if self.auth else None

    @property
    def project_id(self) -> str | None:
        return self.auth.project_id if self.auth else None

    @property
    def roles(self) -> tuple[str, ...]:
        return self.auth.roles if self.auth else ()

    def credentials(self) -> dict[str, Any]:
        """The credential dict that policy check strings are evaluated against."""
        a = self.auth
        if a is None:
            return {"roles": [], "system_scope": None}
        return {
            "user_id": a.user_id,
            "user_domain_id": a.user_domain_id,
            "project_id": a.project_id,
            "project_domain_id": a.project_domain_id,
            "domain_id": a.domain_id,
            "system_scope": a.system_scope,
            "roles": list(a.roles),
            "is_admin_project": a.is_admin_project,
            "application_credential_id": a.application_credential_id,
            "scope_type": a.scope_type,
        }
