"""Roles (global and domain-specific) and implied roles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from onestack.common.db import new_id
from onestack.common.errors import Forbidden, NotFound, ValidationError
from onestack.identity.core import IdentityCore
from onestack.identity.models import NULL_DOMAIN, Assignment, Domain, ImpliedRole, Role
from onestack.identity.util import apply_extra, split_extra

ROLE_FIELDS = {"id", "name", "domain_id", "description", "options"}
ROLE_OPTIONS = {"immutable"}
# A role that implies admin would make anyone with it an administrator: refused, as Keystone.
PROHIBITED_IMPLIED = {"admin"}


def role_dict(row: Role) -> dict[str, Any]:
    data = {
        "id": row.id,
        "name": row.name,
        "domain_id": None if row.domain_id == NULL_DOMAIN else row.domain_id,
        "description": row.description,
        "options": row.options or {},
    }
    return apply_extra(data, row.extra)


def _check_options(options: dict[str, Any] | None) -> dict[str, Any]:
    options = options or {}
    unknown = set(options) - ROLE_OPTIONS
    if unknown:
        raise ValidationError(f"Invalid role option(s): {', '.join(sorted(unknown))}.")
    return {k: v for k, v in options.items() if v is not None}


class RoleManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, ROLE_FIELDS)
        with self.core.write() as s:
            domain_id = known.get("domain_id") or NULL_DOMAIN
            if domain_id != NULL_DOMAIN and s.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            self._check_name(s, known["name"], domain_id)
            row = Role(
                id=known.get("id") or new_id(),
                name=known["name"],
                domain_id=domain_id,
                description=known.get("description"),
                options=_check_options(known.get("options")),
                extra=extra,
            )
            s.add(row)
            s.flush()
            return role_dict(row)

    def _check_name(
        self, s: Session, name: str, domain_id: str, exclude: str | None = None
    ) -> None:
        self.core.check_unique(
            s,
            Role.name,
            name,
            (Role.domain_id, domain_id),
            (Role.id, exclude) if exclude else None,
            f"Conflict occurred attempting to store role - Duplicate entry found with name {name}.",
        )

    def get(self, role_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return role_dict(self.core.get(s, Role, role_id, "role"))

    def find(self, name: str) -> dict[str, Any] | None:
        with self.core.read() as s:
            row = s.scalar(select(Role).where(Role.name == name, Role.domain_id == NULL_DOMAIN))
            return role_dict(row) if row else None

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Role).order_by(Role.name)
        query = query.where(Role.domain_id == (filters.get("domain_id") or NULL_DOMAIN))
        if "name" in filters:
            query = query.where(Role.name == filters["name"])
        with self.core.read() as s:
            return [role_dict(r) for r in s.scalars(query)]

    def update(self, role_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, ROLE_FIELDS)
        if "id" in known and known["id"] != role_id:
            raise ValidationError("Cannot change the ID of a role.")
        with self.core.write() as s:
            row = self.core.get(s, Role, role_id, "role")
            options = dict(row.options or {})
            if options.get("immutable") and not (
                set(known) <= {"options"} and "immutable" in (known.get("options") or {})
            ):
                raise Forbidden(f"Role {role_id} is immutable; unset the immutable option first.")
            if "domain_id" in known and (known["domain_id"] or NULL_DOMAIN) != row.domain_id:
                raise ValidationError("Cannot change the domain of a role.")
            if "name" in known and known["name"] != row.name:
                self._check_name(s, known["name"], row.domain_id, exclude=role_id)
                row.name = known["name"]
            if "description" in known:
                row.description = known["description"]
            if "options" in known:
                row.options = _check_options({**options, **(known["options"] or {})})
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return role_dict(row)

    def delete(self, role_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, Role, role_id, "role")
            if (row.options or {}).get("immutable"):
                raise Forbidden(f"Role {role_id} is immutable and cannot be deleted.")
            s.execute(delete(Assignment).where(Assignment.role_id == role_id))
            s.execute(
                delete(ImpliedRole).where(
                    or_(
                        ImpliedRole.prior_role_id == role_id, ImpliedRole.implied_role_id == role_id
                    )
                )
            )
            s.delete(row)

    # -- implied roles --------------------------------------------------------------------

    def create_implied(
        self, prior_id: str, implied_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        with self.core.write() as s:
            prior = self.core.get(s, Role, prior_id, "role")
            implied = self.core.get(s, Role, implied_id, "role")
            if implied.name in PROHIBITED_IMPLIED:
                raise Forbidden(f"{implied.name} role cannot be an implied role.")
            if prior.domain_id == NULL_DOMAIN and implied.domain_id != NULL_DOMAIN:
                raise Forbidden("A global role cannot imply a domain-specific role.")
            if prior_id == implied_id or prior_id in implied_closure(s, [implied_id]):
                raise Forbidden(f"Role {prior_id} implying {implied_id} creates a cycle.")
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                s.add(ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
            return role_dict(prior), role_dict(implied)

    def get_implied(self, prior_id: str, implied_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        with self.core.read() as s:
            prior = self.core.get(s, Role, prior_id, "role")
            implied = self.core.get(s, Role, implied_id, "role")
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                raise NotFound(f"{prior_id} does not imply {implied_id}.")
            return role_dict(prior), role_dict(implied)

    def delete_implied(self, prior_id: str, implied_id: str) -> None:
        with self.core.write() as s:
            self.core.get(s, Role, prior_id, "role")
            self.core.get(s, Role, implied_id, "role")
            row = s.get(ImpliedRole, (prior_id, implied_id))
            if row is None:
                raise NotFound(f"{prior_id} does not imply {implied_id}.")
            s.delete(row)

    def list_implied(self, prior_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self.core.read() as s:
            prior = self.core.get(s, Role, prior_id, "role")
            query = (
                select(Role)
                .join(ImpliedRole, ImpliedRole.implied_role_id == Role.id)
                .where(ImpliedRole.prior_role_id == prior_id)
                .order_by(Role.name)
            )
            return role_dict(prior), [role_dict(r) for r in s.scalars(query)]

    def list_inferences(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        with self.core.read() as s:
            roles = {r.id: role_dict(r) for r in s.scalars(select(Role))}
            grouped: dict[str, list[dict[str, Any]]] = {}
            for rule in s.scalars(select(ImpliedRole)):
                grouped.setdefault(rule.prior_role_id, []).append(roles[rule.implied_role_id])
            return [(roles[p], implied) for p, implied in grouped.items()]


def implied_closure(s: Session, role_ids: list[str]) -> set[str]:
    """Every role reachable through implication rules from the given roles."""
    rules: dict[str, list[str]] = {}
    for rule in s.scalars(select(ImpliedRole)):
        rules.setdefault(rule.prior_role_id, []).append(rule.implied_role_id)
    seen: set[str] = set()
    frontier = list(role_ids)
    while frontier:
        current = frontier.pop()
        for implied in rules.get(current, ()):
            if implied not in seen:
                seen.add(implied)
                frontier.append(implied)
    return seen
