"""Users, groups and group membership."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestack.common.db import new_id, utcnow
from onestack.common.errors import NotFound, Unauthorized, ValidationError
from onestack.identity.core import IdentityCore, iso
from onestack.identity.models import (
    ApplicationCredential,
    Assignment,
    Credential,
    Domain,
    Group,
    Membership,
    Project,
    User,
)
from onestack.identity.passwords import hash_password, verify_password
from onestack.identity.revocation import revoke
from onestack.identity.util import apply_extra, split_extra

USER_FIELDS = {
    "id",
    "name",
    "domain_id",
    "enabled",
    "password",
    "default_project_id",
    "options",
    "federated",
}
GROUP_FIELDS = {"id", "name", "domain_id", "description"}
USER_OPTIONS = {
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "multi_factor_auth_enabled",
    "multi_factor_auth_rules",
    "ignore_user_inactivity",
}


def user_dict(row: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "enabled": row.enabled,
        "password_expires_at": iso(row.password_expires_at),
        "options": row.options or {},
    }
    if row.default_project_id:
        data["default_project_id"] = row.default_project_id
    if row.description is not None:
        data["description"] = row.description
    if row.email is not None:
        data["email"] = row.email
    return apply_extra(data, row.extra)


def group_dict(row: Group) -> dict[str, Any]:
    data = {
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "description": row.description or "",
    }
    return apply_extra(data, row.extra)


def _options(values: dict[str, Any] | None) -> dict[str, Any]:
    values = values or {}
    unknown = set(values) - USER_OPTIONS
    if unknown:
        raise ValidationError(f"Invalid user option(s): {', '.join(sorted(unknown))}.")
    return {k: v for k, v in values.items() if v is not None}


class UserManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def _hash(self, password: str) -> str:
        return hash_password(password, self.core.settings.identity.password_hash_rounds)

    def create(self, body: dict[str, Any], default_domain_id: str | None) -> dict[str, Any]:
        known, extra = split_extra(body, USER_FIELDS)
        description = extra.pop("description", None)
        email = extra.pop("email", None)
        options = _options(known.get("options"))
        # Hash before taking the write lock: it is the slow part.
        password_hash = self._hash(known["password"]) if known.get("password") else None
        with self.core.write() as s:
            domain_id = known.get("domain_id") or default_domain_id
            if not domain_id:
                raise ValidationError("domain_id is required.")
            if s.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            self._check_name(s, known["name"], domain_id)
            project_id = known.get("default_project_id")
            if project_id and s.get(Project, project_id) is None:
                raise NotFound(f"Could not find project: {project_id}.")
            now = utcnow()
            row = User(
                id=known.get("id") or new_id(),
                name=known["name"],
                domain_id=domain_id,
                enabled=known.get("enabled", True),
                default_project_id=project_id,
                description=description,
                email=email,
                password_hash=password_hash,
                password_created_at=now if password_hash else None,
                options=options,
                extra=extra,
            )
            s.add(row)
            s.flush()
            return user_dict(row)

    def _check_name(
        self, s: Session, name: str, domain_id: str, exclude: str | None = None
    ) -> None:
        self.core.check_unique(
            s,
            User.name,
            name,
            (User.domain_id, domain_id),
            (User.id, exclude) if exclude else None,
            f"Conflict occurred attempting to store user - Duplicate entry found with name "
            f"{name} at domain ID {domain_id}.",
        )

    def get(self, user_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            with self.core.read() as s:
                return user_dict(self.core.get(s, User, user_id, "user"))

        return dict(self.core.memo(("user", user_id), load))

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.core.memo(("users", self.core.key(filters)), lambda: self._list(filters))
        return [dict(u) for u in found]

    def _list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(User).order_by(User.name, User.id)
        if "name" in filters:
            query = query.where(User.name == filters["name"])
        if "domain_id" in filters:
            query = query.where(User.domain_id == filters["domain_id"])
        if "enabled" in filters:
            query = query.where(User.enabled == filters["enabled"])
        if "ids" in filters:
            query = query.where(User.id.in_(filters["ids"]))
        with self.core.read() as s:
            return [user_dict(r) for r in s.scalars(query)]

    def update(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, USER_FIELDS)
        if "id" in known and known["id"] != user_id:
            raise ValidationError("Cannot change the ID of a user.")
        password_hash = self._hash(known["password"]) if known.get("password") else None
        with self.core.write() as s:
            row = self.core.get(s, User, user_id, "user")
            if "domain_id" in known and known["domain_id"] != row.domain_id:
                raise ValidationError("Cannot change the domain of a user.")
            if "name" in known and known["name"] != row.name:
                self._check_name(s, known["name"], row.domain_id, exclude=user_id)
                row.name = known["name"]
            if "default_project_id" in known:
                project_id = known["default_project_id"]
                if project_id and s.get(Project, project_id) is None:
                    raise NotFound(f"Could not find project: {project_id}.")
                row.default_project_id = project_id
            if "options" in known:
                merged = {**(row.options or {}), **(known["options"] or {})}
                row.options = _options(merged)
            if "description" in extra:
                row.description = extra.pop("description")
            if "email" in extra:
                row.email = extra.pop("email")
            if "enabled" in known and known["enabled"] != row.enabled:
                if not known["enabled"]:
                    revoke(s, user_id=user_id)
                row.enabled = known["enabled"]
            if password_hash:
                row.password_hash = password_hash
                row.password_created_at = utcnow()
                revoke(s, user_id=user_id)
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return user_dict(row)

    def change_password(self, user_id: str, original: str, new: str) -> None:
        with self.core.read() as s:
            row = s.get(User, user_id)
            current_hash = row.password_hash if row is not None else None
            enabled = row is not None and row.enabled
        if not enabled or not verify_password(original, current_hash):
            raise Unauthorized("The request you have made requires authentication.")
        if original == new:
            raise ValidationError("Changing password failed: the new password is the same.")
        new_hash = self._hash(new)
        with self.core.write() as s:
            row = self.core.get(s, User, user_id, "user")
            row.password_hash = new_hash
            row.password_created_at = utcnow()
            revoke(s, user_id=user_id)

    def delete(self, user_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, User, user_id, "user")
            s.execute(delete(Membership).where(Membership.user_id == user_id))
            s.execute(delete(Assignment).where(Assignment.actor_id == user_id))
            s.execute(delete(Credential).where(Credential.user_id == user_id))
            s.execute(delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id))
            revoke(s, user_id=user_id)
            s.delete(row)

    def groups(self, user_id: str) -> list[dict[str, Any]]:
        with self.core.read() as s:
            self.core.get(s, User, user_id, "user")
            query = (
                select(Group)
                .join(Membership, Membership.group_id == Group.id)
                .where(Membership.user_id == user_id)
                .order_by(Group.name)
            )
            return [group_dict(g) for g in s.scalars(query)]


class GroupManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def create(self, body: dict[str, Any], default_domain_id: str | None) -> dict[str, Any]:
        known, extra = split_extra(body, GROUP_FIELDS)
        with self.core.write() as s:
            domain_id = known.get("domain_id") or default_domain_id
            if not domain_id:
                raise ValidationError("domain_id is required.")
            if s.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            self._check_name(s, known["name"], domain_id)
            row = Group(
                id=known.get("id") or new_id(),
                name=known["name"],
                domain_id=domain_id,
                description=known.get("description"),
                extra=extra,
            )
            s.add(row)
            s.flush()
            return group_dict(row)

    def _check_name(
        self, s: Session, name: str, domain_id: str, exclude: str | None = None
    ) -> None:
        self.core.check_unique(
            s,
            Group.name,
            name,
            (Group.domain_id, domain_id),
            (Group.id, exclude) if exclude else None,
            f"Conflict occurred attempting to store group - Duplicate entry found with name "
            f"{name} at domain ID {domain_id}.",
        )

    def get(self, group_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return group_dict(self.core.get(s, Group, group_id, "group"))

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Group).order_by(Group.name, Group.id)
        if "name" in filters:
            query = query.where(Group.name == filters["name"])
        if "domain_id" in filters:
            query = query.where(Group.domain_id == filters["domain_id"])
        with self.core.read() as s:
            return [group_dict(r) for r in s.scalars(query)]

    def update(self, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, GROUP_FIELDS)
        if "id" in known and known["id"] != group_id:
            raise ValidationError("Cannot change the ID of a group.")
        with self.core.write() as s:
            row = self.core.get(s, Group, group_id, "group")
            if "domain_id" in known and known["domain_id"] != row.domain_id:
                raise ValidationError("Cannot change the domain of a group.")
            if "name" in known and known["name"] != row.name:
                self._check_name(s, known["name"], row.domain_id, exclude=group_id)
                row.name = known["name"]
            if "description" in known:
                row.description = known["description"]
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return group_dict(row)

    def delete(self, group_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, Group, group_id, "group")
            s.execute(delete(Membership).where(Membership.group_id == group_id))
            s.execute(delete(Assignment).where(Assignment.actor_id == group_id))
            s.delete(row)

    def members(self, group_id: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        with self.core.read() as s:
            self.core.get(s, Group, group_id, "group")
            query = (
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.group_id == group_id)
                .order_by(User.name)
            )
            if "name" in filters:
                query = query.where(User.name == filters["name"])
            if "domain_id" in filters:
                query = query.where(User.domain_id == filters["domain_id"])
            return [user_dict(u) for u in s.scalars(query)]

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.core.write() as s:
            self.core.get(s, Group, group_id, "group")
            self.core.get(s, User, user_id, "user")
            if s.get(Membership, (user_id, group_id)) is None:
                s.add(Membership(user_id=user_id, group_id=group_id))

    def check_member(self, group_id: str, user_id: str) -> None:
        with self.core.read() as s:
            self.core.get(s, Group, group_id, "group")
            self.core.get(s, User, user_id, "user")
            if s.get(Membership, (user_id, group_id)) is None:
                raise NotFound(f"User '{user_id}' not found in group '{group_id}'.")

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.core.write() as s:
            self.core.get(s, Group, group_id, "group")
            self.core.get(s, User, user_id, "user")
            membership = s.get(Membership, (user_id, group_id))
            if membership is None:
                raise NotFound(f"User '{user_id}' not found in group '{group_id}'.")
            s.delete(membership)
            # Roles that came through the group may be gone: cut the member's tokens short.
            revoke(s, user_id=user_id)
