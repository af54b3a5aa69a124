"""Authentication, token issue, validation and revocation.

Validation is the hottest path of the whole cloud (every API call of every service does one),
so it avoids the database when it can: what a token's user and scope resolve to (names, enabled
flags, effective roles) is cached per (user, scope) and dropped whenever identity data changes
in this process (see ``IdentityCore.generation``) or after ``token_cache_time`` seconds.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestack.common.context import AuthInfo
from onestack.common.db import utcnow
from onestack.common.errors import Forbidden, NotFound, Unauthorized, ValidationError
from onestack.identity.assignments import AssignmentManager
from onestack.identity.catalog import CatalogManager
from onestack.identity.core import IdentityCore
from onestack.identity.models import ApplicationCredential, Domain, Project, Role, User
from onestack.identity.passwords import DummyHash, verify_password
from onestack.identity.revocation import RevocationList, revoke
from onestack.identity.roles import implied_closure
from onestack.identity.tokens import (
    InvalidTokenError,
    TokenFormatter,
    TokenPayload,
    new_audit_id,
)

AUTH_FAILED = "The request you have made requires authentication."
SUPPORTED_METHODS = ("password", "token", "application_credential")


def iso_epoch(value: float) -> str:
    """Keystone's timestamp format, e.g. 2026-01-01T00:00:00.000000Z."""
    whole = int(value)
    micros = round((value - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_iso_second(whole)}.{micros:06d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(whole: int) -> str:
    # Every token response formats two timestamps, and most share their second with the
    # previous response (issue time) or with many others (a parent token's expiry).
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


@dataclass(frozen=True)
class ScopeInfo:
    """What a (user, scope) pair resolves to; shared by every token with that pair."""

    user: dict[str, Any]
    user_domain: dict[str, str]
    project: dict[str, Any] | None
    domain: dict[str, str] | None
    system: str | None
    roles: tuple[dict[str, str], ...]
    app_cred: dict[str, Any] | None


@dataclass(frozen=True)
class ValidToken:
    token: str
    payload: TokenPayload
    scope: ScopeInfo

    @functools.cached_property
    def auth(self) -> AuthInfo:
        """The request-context view of the token; built only when a request needs it."""
        return _auth_info(self.payload, self.scope)


class TokenService:
    def __init__(
        self,
        core: IdentityCore,
        formatter: TokenFormatter,
        assignments: AssignmentManager,
        catalog: CatalogManager,
    ) -> None:
        self.core = core
        self.formatter = formatter
        self.assignments = assignments
        self.catalog = catalog
        ident = core.settings.identity
        self.cache_time = ident.token_cache_time
        self.revocations = RevocationList(core.db, ident.token_cache_time, ident.token_expiration)
        self._dummy: DummyHash | None = None
        self._scopes: dict[tuple[Any, ...], tuple[int, float, ScopeInfo | None]] = {}
        self._tokens: dict[str, tuple[int, float, ValidToken]] = {}
        self._lock = threading.Lock()

    def dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = DummyHash(self.core.settings.identity.password_hash_rounds)
        return self._dummy.value

    # -- issue ----------------------------------------------------------------------------

    def authenticate(self, auth: dict[str, Any]) -> ValidToken:
        identity = auth["identity"]
        methods: list[str] = list(dict.fromkeys(identity["methods"]))
        if not methods:
            raise ValidationError("At least one authentication method is required.")
        for method in methods:
            if method not in SUPPORTED_METHODS:
                raise Unauthorized("Attempted to authenticate with an unsupported method.")
            if method not in identity:
                raise ValidationError(f"Missing the '{method}' section of the auth request.")
        user_id: str | None = None
        parent: ValidToken | None = None
        app_cred: ApplicationCredential | None = None
        for method in methods:
            if method == "password":
                found = self._password(identity["password"])
            elif method == "token":
                parent = self._token_method(identity["token"])
                found = parent.payload.user_id
            else:
                app_cred = self._app_cred(identity["application_credential"])
                found = app_cred.user_id
            if user_id is not None and found != user_id:
                raise Unauthorized(AUTH_FAILED)
            user_id = found
        assert user_id is not None
        scope = auth.get("scope")
        project_id = domain_id = system = None
        if app_cred is not None:
            if scope:
                raise Unauthorized("Application credentials cannot request a scope.")
            project_id, system = app_cred.project_id, app_cred.system
        elif parent is not None and parent.payload.application_credential_id:
            raise Forbidden("Tokens from application credentials cannot be rescoped.")
        elif isinstance(scope, dict):
            project_id, domain_id, system = self._resolve_scope(scope)
        elif scope is None:
            project_id = self._default_project(user_id)
        elif scope != "unscoped":
            raise ValidationError("Invalid scope.")
        now = time.time()
        audit_ids: tuple[str, ...]
        if parent is not None:
            expires = parent.payload.expires_at
            audit_ids = (new_audit_id(), parent.payload.audit_ids[-1])
            all_methods = tuple(dict.fromkeys([*methods, *parent.payload.methods]))
        else:
            expires = now + self.core.settings.identity.token_expiration
            audit_ids = (new_audit_id(),)
            all_methods = tuple(methods)
        if app_cred is not None and app_cred.expires_at is not None:
            expires = min(expires, app_cred.expires_at.replace(tzinfo=UTC).timestamp())
        payload = TokenPayload(
            user_id=user_id,
            methods=all_methods,
            expires_at=expires,
            issued_at=now,
            audit_ids=audit_ids,
            project_id=project_id,
            domain_id=domain_id,
            system=system,
            application_credential_id=app_cred.id if app_cred else None,
        )
        info = self._scope_info(payload)
        if info is None:
            raise Unauthorized(self._scope_failure(payload))
        token = self.formatter.encode(payload)
        # Not cached here: most issued tokens are validated elsewhere or not at all, and a cache
        # filled at issue rate only makes the garbage collector's pauses longer.
        return ValidToken(token, payload, info)

    def _password(self, section: dict[str, Any]) -> str:
        user = section.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("password"), str):
            raise ValidationError("The password method needs user.password.")
        with self.core.read() as s:
            row = self._find_user(s, user)
            usable = row is not None and row.enabled and self._domain_enabled(s, row.domain_id)
            stored = row.password_hash if row is not None else None
            user_id = row.id if row is not None else None
        # Always check a hash, so unknown users and wrong passwords take the same time.
        ok = verify_password(user["password"], stored or self.dummy_hash())
        if not (ok and usable and stored and user_id):
            raise Unauthorized(AUTH_FAILED)
        return user_id

    @staticmethod
    def _domain_enabled(s: Session, domain_id: str) -> bool:
        return bool(s.scalar(select(Domain.enabled).where(Domain.id == domain_id)))

    def _find_user(self, s: Session, ref: dict[str, Any]) -> User | None:
        if ref.get("id"):
            return s.get(User, ref["id"])
        name = ref.get("name")
        if not name:
            raise ValidationError("A user needs an id, or a name and a domain.")
        domain_id = self._domain_ref(s, ref.get("domain"))
        if domain_id is None:
            return None
        return s.scalar(select(User).where(User.name == name, User.domain_id == domain_id))

    @staticmethod
    def _domain_ref(s: Session, ref: Any) -> str | None:
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise ValidationError("A name must come with a domain id or name.")
        if ref.get("id"):
            return str(ref["id"])
        return s.scalar(select(Domain.id).where(Domain.name == ref["name"]))

    def _token_method(self, section: dict[str, Any]) -> ValidToken:
        token = section.get("id")
        if not isinstance(token, str):
            raise ValidationError("The token method needs token.id.")
        try:
            return self.validate(token)
        except NotFound:
            raise Unauthorized(AUTH_FAILED) from None

    def _app_cred(self, section: dict[str, Any]) -> ApplicationCredential:
        secret = section.get("secret")
        if not isinstance(secret, str):
            raise ValidationError("The application_credential method needs a secret.")
        with self.core.read() as s:
            row: ApplicationCredential | None = None
            if section.get("id"):
                row = s.get(ApplicationCredential, section["id"])
            elif section.get("name") and isinstance(section.get("user"), dict):
                user = self._find_user(s, section["user"])
                if user is not None:
                    row = s.scalar(
                        select(ApplicationCredential).where(
                            ApplicationCredential.user_id == user.id,
                            ApplicationCredential.name == section["name"],
                        )
                    )
            else:
                raise ValidationError("An application credential needs an id, or a name and user.")
        ok = verify_password(secret, row.secret_hash if row else self.dummy_hash())
        if row is None or not ok:
            raise Unauthorized(AUTH_FAILED)
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise Unauthorized("The application credential has expired.")
        return row

    def _resolve_scope(self, scope: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
        if len(scope) != 1:
            raise ValidationError("Specify exactly one of project, domain or system as scope.")
        if "system" in scope:
            if scope["system"] != {"all": True}:
                raise ValidationError("The only system scope is {'all': true}.")
            return None, None, "all"
        kind = "project" if "project" in scope else "domain" if "domain" in scope else ""
        ref = scope.get(kind) if kind else None
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise ValidationError(f"A {kind or 'scope'} needs an id, or a name (and a domain).")
        if ref.get("id"):
            ident = str(ref["id"])
            return (ident, None, None) if kind == "project" else (None, ident, None)
        # Names resolve the same way until identity data changes: remember them.
        key = ("scope", kind, ref["name"], self.core.key(ref.get("domain") or {}))
        found = self.core.memo(key, lambda: self._scope_by_name(kind, ref))
        if found is None:
            raise Unauthorized(f"Could not find {kind}: {ref['name']}.")
        return (found, None, None) if kind == "project" else (None, found, None)

    def _scope_by_name(self, kind: str, ref: dict[str, Any]) -> str | None:
        with self.core.read() as s:
            if kind == "domain":
                return self._domain_ref(s, ref)
            domain_id = self._domain_ref(s, ref.get("domain"))
            return s.scalar(
                select(Project.id).where(
                    Project.name == ref["name"], Project.domain_id == domain_id
                )
            )

    def _default_project(self, user_id: str) -> str | None:
        with self.core.read() as s:
            user = s.get(User, user_id)
            project_id = user.default_project_id if user else None
            if not project_id:
                return None
            project = s.get(Project, project_id)
            if project is None or not project.enabled:
                return None
            if not self.assignments.effective_role_ids(s, user_id, project_id=project_id):
                return None
            return project_id

    def _scope_failure(self, payload: TokenPayload) -> str:
        if payload.project_id:
            return f"User {payload.user_id} has no access to project {payload.project_id}."
        if payload.domain_id:
            return f"User {payload.user_id} has no access to domain {payload.domain_id}."
        if payload.system:
            return f"User {payload.user_id} has no access to the system."
        return AUTH_FAILED

    # -- validation -----------------------------------------------------------------------

    def peek(self, token: str) -> ValidToken | None:
        """The cached meaning of a token, without touching the database; None if not cached."""
        cached = self._tokens.get(token)
        if cached is None:
            return None
        gen, at, valid = cached
        if gen != self.core.generation or time.monotonic() - at >= self.cache_time:
            return None
        if valid.payload.expires_at <= time.time():
            raise NotFound("The token has expired.")
        return valid

    def validate(self, token: str) -> ValidToken:
        """The token's meaning, or NotFound when it is invalid, expired or revoked."""
        cached = self.peek(token)
        if cached is not None:
            return cached
        now = time.time()
        generation = self.core.generation
        try:
            payload = self.formatter.decode(token)
        except InvalidTokenError:
            raise NotFound("Could not recognize the token.") from None
        if payload.expires_at <= now:
            raise NotFound("The token has expired.")
        info = self._scope_info(payload)
        if info is None:
            raise NotFound("The token is no longer valid.")
        self.revocations.refresh_if_needed(generation)
        project_domain = info.project["domain"]["id"] if info.project else None
        if self.revocations.is_revoked(payload, project_domain, info.user_domain["id"]):
            raise NotFound("The token has been revoked.")
        valid = ValidToken(token, payload, info)
        self._remember(valid, generation)
        return valid

    def _remember(self, valid: ValidToken, generation: int | None = None) -> None:
        if len(self._tokens) > 50_000:
            self._tokens.clear()
        gen = self.core.generation if generation is None else generation
        self._tokens[valid.token] = (gen, time.monotonic(), valid)

    def _scope_info(self, p: TokenPayload) -> ScopeInfo | None:
        key = (p.user_id, p.project_id, p.domain_id, p.system, p.application_credential_id)
        generation = self.core.generation
        cached = self._scopes.get(key)
        if cached is not None:
            gen, at, info = cached
            if gen == generation and time.monotonic() - at < self.cache_time:
                return info
        with self.core.read() as s:
            info = self._load_scope(s, p)
        if len(self._scopes) > 50_000:
            self._scopes.clear()
        self._scopes[key] = (generation, time.monotonic(), info)
        return info

    def _load_scope(self, s: Session, p: TokenPayload) -> ScopeInfo | None:
        user = s.get(User, p.user_id)
        if user is None or not user.enabled:
            return None
        domains = {d.id: d for d in s.scalars(select(Domain))}
        user_domain = domains.get(user.domain_id)
        if user_domain is None or not user_domain.enabled:
            return None
        project = domain = None
        if p.project_id:
            row = s.get(Project, p.project_id)
            if row is None or not row.enabled:
                return None
            pdomain = domains.get(row.domain_id)
            if pdomain is None or not pdomain.enabled:
                return None
            project = {
                "id": row.id,
                "name": row.name,
                "domain": {"id": pdomain.id, "name": pdomain.name},
            }
        elif p.domain_id:
            drow = domains.get(p.domain_id)
            if drow is None or not drow.enabled:
                return None
            domain = {"id": drow.id, "name": drow.name}
        role_ids = self.assignments.effective_role_ids(
            s,
            p.user_id,
            project_id=p.project_id,
            domain_id=p.domain_id,
            system=bool(p.system),
        )
        app_cred = None
        if p.application_credential_id:
            cred = s.get(ApplicationCredential, p.application_credential_id)
            if cred is None or cred.user_id != p.user_id:
                return None
            if cred.expires_at is not None and cred.expires_at <= utcnow():
                return None
            allowed = set(cred.role_ids)
            # Implied roles of the credential's roles stay usable.
            allowed |= implied_closure(s, list(allowed))
            role_ids = [r for r in role_ids if r in allowed]
            app_cred = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
        if (p.project_id or p.domain_id or p.system) and not role_ids:
            return None
        roles = tuple(
            {"id": r.id, "name": r.name}
            for r in s.scalars(select(Role).where(Role.id.in_(role_ids)).order_by(Role.name))
        )
        return ScopeInfo(
            user={
                "id": user.id,
                "name": user.name,
                "password_expires_at": None,
                "domain": {"id": user_domain.id, "name": user_domain.name},
            },
            user_domain={"id": user_domain.id, "name": user_domain.name},
            project=project,
            domain=domain,
            system=p.system,
            roles=roles,
            app_cred=app_cred,
        )

    # -- revocation -----------------------------------------------------------------------

    def revoke_token(self, token: str) -> None:
        valid = self.validate(token)
        with self.core.write() as s:
            revoke(s, audit_id=valid.payload.audit_ids[0])
        self._tokens.pop(token, None)

    # -- responses ------------------------------------------------------------------------

    def token_body(self, valid: ValidToken, include_catalog: bool) -> dict[str, Any]:
        p, info = valid.payload, valid.scope
        body: dict[str, Any] = {
            "methods": list(p.methods),
            "user": info.user,
            "audit_ids": list(p.audit_ids),
            "expires_at": iso_epoch(p.expires_at),
            "issued_at": iso_epoch(p.issued_at),
        }
        if info.project is not None:
            body["project"] = info.project
            body["is_domain"] = False
        elif info.domain is not None:
            body["domain"] = info.domain
        elif info.system:
            body["system"] = {"all": True}
        if info.project is not None or info.domain is not None or info.system:
            body["roles"] = list(info.roles)
            if include_catalog:
                body["catalog"] = self.catalog.catalog(p.project_id, p.user_id)
        if info.app_cred is not None:
            body["application_credential"] = info.app_cred
        return {"token": body}


def _auth_info(p: TokenPayload, info: ScopeInfo) -> AuthInfo:
    return AuthInfo(
        user_id=p.user_id,
        user_name=info.user["name"],
        user_domain_id=info.user_domain["id"],
        user_domain_name=info.user_domain["name"],
        roles=tuple(r["name"] for r in info.roles),
        role_ids=tuple(r["id"] for r in info.roles),
        expires_at=p.expires_at,
        issued_at=p.issued_at,
        audit_ids=p.audit_ids,
        methods=p.methods,
        project_id=p.project_id,
        project_name=info.project["name"] if info.project else None,
        project_domain_id=info.project["domain"]["id"] if info.project else None,
        project_domain_name=info.project["domain"]["name"] if info.project else None,
        domain_id=info.domain["id"] if info.domain else None,
        domain_name=info.domain["name"] if info.domain else None,
        system_scope=p.system,
        application_credential_id=p.application_credential_id,
    )
