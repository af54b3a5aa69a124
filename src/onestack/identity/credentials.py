"""Credentials (encrypted blobs, e.g. EC2 keys) and application credentials."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestack.common.db import new_id, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationError
from onestack.identity.core import IdentityCore
from onestack.identity.models import (
    AccessRule,
    ApplicationCredential,
    Credential,
    Project,
    Role,
    User,
)
from onestack.identity.passwords import hash_password
from onestack.identity.revocation import revoke
from onestack.identity.roles import role_dict
from onestack.identity.tokens import KeyRepository


def credential_dict(row: Credential, blob: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "type": row.type,
        "blob": blob,
        **(row.extra or {}),
    }


class CredentialManager:
    def __init__(self, core: IdentityCore, keys: KeyRepository) -> None:
        self.core = core
        self.keys = keys
        self._fernet: MultiFernet | None = None

    def _crypto(self) -> MultiFernet:
        if self._fernet is None:
            self._fernet = MultiFernet([Fernet(k) for k in self.keys.all_keys()])
        return self._fernet

    def _decrypt(self, row: Credential) -> str:
        return self._crypto().decrypt(row.encrypted_blob.encode()).decode()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        known = {k: body[k] for k in ("id", "user_id", "project_id", "type", "blob") if k in body}
        extra = {k: v for k, v in body.items() if k not in known and k != "links"}
        ident = known.get("id")
        if known["type"] == "ec2":
            if not known.get("project_id"):
                raise ValidationError("Credentials of type ec2 require a project_id.")
            try:
                access = orjson.loads(known["blob"]).get("access")
            except (orjson.JSONDecodeError, AttributeError):
                raise ValidationError("The blob of an ec2 credential must be JSON.") from None
            if not access:
                raise ValidationError("The blob of an ec2 credential needs an access key.")
            ident = hashlib.sha256(str(access).encode()).hexdigest()
        with self.core.write() as s:
            if s.get(User, known["user_id"]) is None:
                raise ValidationError(f"Could not find user: {known['user_id']}.")
            ident = ident or new_id()
            if s.get(Credential, ident) is not None:
                raise Conflict(
                    f"Conflict occurred attempting to store credential - Duplicate ID, {ident}."
                )
            row = Credential(
                id=ident,
                user_id=known["user_id"],
                project_id=known.get("project_id"),
                type=known["type"],
                encrypted_blob=self._crypto().encrypt(known["blob"].encode()).decode(),
                extra=extra,
            )
            s.add(row)
            s.flush()
            return credential_dict(row, known["blob"])

    def get(self, credential_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            row = self.core.get(s, Credential, credential_id, "credential")
            return credential_dict(row, self._decrypt(row))

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Credential).order_by(Credential.id)
        for key in ("user_id", "type"):
            if key in filters:
                query = query.where(getattr(Credential, key) == filters[key])
        with self.core.read() as s:
            return [credential_dict(r, self._decrypt(r)) for r in s.scalars(query)]

    def update(self, credential_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.core.write() as s:
            row = self.core.get(s, Credential, credential_id, "credential")
            if "user_id" in body and body["user_id"] != row.user_id:
                if s.get(User, body["user_id"]) is None:
                    raise ValidationError(f"Could not find user: {body['user_id']}.")
                row.user_id = body["user_id"]
            for key in ("project_id", "type"):
                if key in body:
                    setattr(row, key, body[key])
            if row.type == "ec2" and not row.project_id:
                raise ValidationError("Credentials of type ec2 require a project_id.")
            if "blob" in body:
                row.encrypted_blob = self._crypto().encrypt(body["blob"].encode()).decode()
            extra = {
                k: v
                for k, v in body.items()
                if k not in ("id", "user_id", "project_id", "type", "blob", "links")
            }
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return credential_dict(row, self._decrypt(row))

    def delete(self, credential_id: str) -> None:
        with self.core.write() as s:
            s.delete(self.core.get(s, Credential, credential_id, "credential"))

    # -- EC2 credentials (the OS-EC2 extension) ---------------------------------------------

    def _ec2(self, row: Credential) -> dict[str, Any]:
        blob = orjson.loads(self._decrypt(row))
        return {
            "user_id": row.user_id,
            "tenant_id": row.project_id,
            "access": blob.get("access"),
            "secret": blob.get("secret"),
            "trust_id": blob.get("trust_id"),
        }

    def ec2_create(self, user_id: str, project_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            if s.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            if s.get(Project, project_id) is None:
                raise NotFound(f"Could not find project: {project_id}.")
        access, secret = secrets.token_hex(16), secrets.token_hex(16)
        blob = orjson.dumps({"access": access, "secret": secret, "trust_id": None}).decode()
        self.create({"user_id": user_id, "project_id": project_id, "type": "ec2", "blob": blob})
        return {
            "user_id": user_id,
            "tenant_id": project_id,
            "access": access,
            "secret": secret,
            "trust_id": None,
        }

    def ec2_list(self, user_id: str) -> list[dict[str, Any]]:
        with self.core.read() as s:
            if s.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            query = select(Credential).where(
                Credential.user_id == user_id, Credential.type == "ec2"
            )
            return [self._ec2(r) for r in s.scalars(query)]

    def _ec2_row(self, s: Session, user_id: str, access: str) -> Credential:
        row = s.get(Credential, hashlib.sha256(access.encode()).hexdigest())
        if row is None or row.user_id != user_id or row.type != "ec2":
            raise NotFound(f"Could not find credential: {access}.")
        return row

    def ec2_get(self, user_id: str, access: str) -> dict[str, Any]:
        with self.core.read() as s:
            return self._ec2(self._ec2_row(s, user_id, access))

    def ec2_delete(self, user_id: str, access: str) -> None:
        with self.core.write() as s:
            s.delete(self._ec2_row(s, user_id, access))


def access_rule_dict(row: AccessRule) -> dict[str, Any]:
    return {"id": row.id, "service": row.service, "method": row.method, "path": row.path}


def app_cred_dict(
    row: ApplicationCredential, roles: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "system": row.system,
        # Naive ISO 8601, as Keystone shows application credential expiry.
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "unrestricted": row.unrestricted,
        "roles": roles,
        "access_rules": rules,
    }


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Invalid timestamp: {value!r}.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


class ApplicationCredentialManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def create(
        self, user_id: str, project_id: str, token_role_ids: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        expires_at = parse_time(body.get("expires_at"))
        if expires_at is not None and expires_at <= utcnow():
            raise BadRequest(
                "The expiration time of an application credential must be in the future."
            )
        secret = body.get("secret") or secrets.token_urlsafe(64)
        secret_hash = hash_password(secret, self.core.settings.identity.password_hash_rounds)
        with self.core.write() as s:
            if s.get(Project, project_id) is None:
                raise NotFound(f"Could not find project: {project_id}.")
            wanted = body.get("roles")
            role_ids: list[str] = []
            if wanted:
                for ref in wanted:
                    role = None
                    if ref.get("id"):
                        role = s.get(Role, ref["id"])
                    elif ref.get("name"):
                        role = s.scalar(select(Role).where(Role.name == ref["name"]))
                    if role is None or role.id not in token_role_ids:
                        wanted_role = ref.get("id") or ref.get("name")
                        raise NotFound(
                            f"Could not find role assignment with role: {wanted_role}, "
                            f"user or group: {user_id}, project, domain, or system: {project_id}."
                        )
                    role_ids.append(role.id)
            else:
                role_ids = list(token_role_ids)
            name = body["name"]
            if s.scalar(
                select(ApplicationCredential.id).where(
                    ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
                )
            ):
                raise Conflict(
                    f"Conflict occurred attempting to store application_credential - Duplicate "
                    f"entry found with name {name}."
                )
            rule_ids = self._access_rules(s, user_id, body.get("access_rules") or [])
            row = ApplicationCredential(
                id=new_id(),
                name=name,
                user_id=user_id,
                project_id=project_id,
                secret_hash=secret_hash,
                description=body.get("description"),
                expires_at=expires_at,
                unrestricted=bool(body.get("unrestricted", False)),
                role_ids=list(dict.fromkeys(role_ids)),
                access_rules=[{"id": r} for r in rule_ids],
            )
            s.add(row)
            s.flush()
            result = app_cred_dict(row, self._roles(s, row.role_ids), self._rules(s, row))
        result["secret"] = secret
        return result

    @staticmethod
    def _access_rules(s: Session, user_id: str, wanted: list[dict[str, Any]]) -> list[str]:
        """Ids of the user's access rules matching ``wanted``, creating the missing ones."""
        ids: list[str] = []
        for spec in wanted:
            if spec.get("id"):
                rule = s.get(AccessRule, spec["id"])
                if rule is None or rule.user_id != user_id:
                    raise NotFound(f"Could not find access rule: {spec['id']}.")
                ids.append(rule.id)
                continue
            missing = {"service", "method", "path"} - set(spec)
            if missing:
                raise ValidationError(f"An access rule needs {', '.join(sorted(missing))}.")
            found = s.scalar(
                select(AccessRule).where(
                    AccessRule.user_id == user_id,
                    AccessRule.service == spec["service"],
                    AccessRule.method == spec["method"],
                    AccessRule.path == spec["path"],
                )
            )
            if found is None:
                found = AccessRule(
                    id=new_id(),
                    user_id=user_id,
                    service=spec["service"],
                    method=spec["method"],
                    path=spec["path"],
                )
                s.add(found)
                s.flush()
            ids.append(found.id)
        return list(dict.fromkeys(ids))

    @staticmethod
    def _rules(s: Session, row: ApplicationCredential) -> list[dict[str, Any]]:
        ids = [r["id"] for r in row.access_rules or [] if isinstance(r, dict) and "id" in r]
        if not ids:
            return []
        found = {r.id: r for r in s.scalars(select(AccessRule).where(AccessRule.id.in_(ids)))}
        return [access_rule_dict(found[i]) for i in ids if i in found]

    # -- access rules -----------------------------------------------------------------------

    def access_rules(self, user_id: str) -> list[dict[str, Any]]:
        with self.core.read() as s:
            if s.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            query = select(AccessRule).where(AccessRule.user_id == user_id).order_by(AccessRule.id)
            return [access_rule_dict(r) for r in s.scalars(query)]

    def access_rule(self, user_id: str, rule_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            rule = s.get(AccessRule, rule_id)
            if rule is None or rule.user_id != user_id:
                raise NotFound(f"Could not find access rule: {rule_id}.")
            return access_rule_dict(rule)

    def delete_access_rule(self, user_id: str, rule_id: str) -> None:
        with self.core.write() as s:
            rule = s.get(AccessRule, rule_id)
            if rule is None or rule.user_id != user_id:
                raise NotFound(f"Could not find access rule: {rule_id}.")
            creds = s.scalars(
                select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
            )
            for cred in creds:
                if any(r.get("id") == rule_id for r in cred.access_rules or []):
                    raise Forbidden(
                        f"Access rule {rule_id} is used by application credential {cred.id}."
                    )
            s.delete(rule)

    @staticmethod
    def _roles(s: Any, role_ids: list[str]) -> list[dict[str, Any]]:
        rows = {r.id: r for r in s.scalars(select(Role).where(Role.id.in_(role_ids)))}
        return [
            {k: v for k, v in role_dict(rows[r]).items() if k in ("id", "name", "domain_id")}
            for r in role_ids
            if r in rows
        ]

    def get(self, user_id: str, app_cred_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            row = s.get(ApplicationCredential, app_cred_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"Could not find Application Credential: {app_cred_id}.")
            return app_cred_dict(row, self._roles(s, row.role_ids), self._rules(s, row))

    def listing(self, user_id: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if "name" in filters:
            query = query.where(ApplicationCredential.name == filters["name"])
        with self.core.read() as s:
            if s.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            return [
                app_cred_dict(r, self._roles(s, r.role_ids), self._rules(s, r))
                for r in s.scalars(query.order_by(ApplicationCredential.name))
            ]

    def delete(self, user_id: str, app_cred_id: str) -> None:
        with self.core.write() as s:
            row = s.get(ApplicationCredential, app_cred_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"Could not find Application Credential: {app_cred_id}.")
            revoke(s, application_credential_id=app_cred_id)
            s.execute(delete(ApplicationCredential).where(ApplicationCredential.id == app_cred_id))
