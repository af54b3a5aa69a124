"""Role assignments: grants, effective roles for tokens, and the role_assignments listing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestack.common.errors import NotFound, ValidationError
from onestack.identity.core import IdentityCore
from onestack.identity.models import (
    NULL_DOMAIN,
    Assignment,
    Domain,
    Group,
    ImpliedRole,
    Membership,
    Project,
    Role,
    User,
)
from onestack.identity.revocation import revoke
from onestack.identity.roles import implied_closure, role_dict

SYSTEM = "all"


def assignment_type(actor: str, target: str) -> str:
    return {"user": "User", "group": "Group"}[actor] + {
        "project": "Project",
        "domain": "Domain",
        "system": "System",
    }[target]


@dataclass(frozen=True)
class Grant:
    """One line of ``GET /v3/role_assignments``."""

    role_id: str
    actor_kind: str  # user | group
    actor_id: str
    target_kind: str  # project | domain | system
    target_id: str
    inherited: bool = False
    # Where an effective line came from, for its links.
    via_group: str | None = None
    source: Grant | None = None
    prior_role_id: str | None = None


class AssignmentManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    # -- grants ---------------------------------------------------------------------------

    def _check(
        self, s: Session, actor: str, actor_id: str, target: str, target_id: str, role_id: str
    ) -> Role:
        role = self.core.get(s, Role, role_id, "role")
        self.core.get(s, User if actor == "user" else Group, actor_id, actor)
        if target == "project":
            project = self.core.get(s, Project, target_id, "project")
            target_domain = project.domain_id
        elif target == "domain":
            self.core.get(s, Domain, target_id, "domain")
            target_domain = target_id
        else:
            target_domain = None
        if role.domain_id != NULL_DOMAIN and role.domain_id != target_domain:
            raise ValidationError(
                "A domain-specific role can only be assigned within its own domain."
            )
        return role

    def grant(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        with self.core.write() as s:
            self._check(s, actor, actor_id, target, target_id, role_id)
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            if s.get(Assignment, key) is None:
                s.add(
                    Assignment(
                        type=key[0],
                        actor_id=actor_id,
                        target_id=target_id,
                        role_id=role_id,
                        inherited=inherited,
                    )
                )

    def check(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        with self.core.read() as s:
            self._check(s, actor, actor_id, target, target_id, role_id)
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            if s.get(Assignment, key) is None:
                raise NotFound(
                    f"Could not find role assignment with role: {role_id}, {actor}: {actor_id}, "
                    f"{target}: {target_id}."
                )

    def revoke_grant(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        with self.core.write() as s:
            self._check(s, actor, actor_id, target, target_id, role_id)
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            row = s.get(Assignment, key)
            if row is None:
                raise NotFound(
                    f"Could not find role assignment with role: {role_id}, {actor}: {actor_id}, "
                    f"{target}: {target_id}."
                )
            s.delete(row)
            if actor == "user":
                scope = {"project_id": target_id} if target == "project" else {}
                revoke(s, user_id=actor_id, **scope)
            else:
                for member in s.scalars(
                    select(Membership.user_id).where(Membership.group_id == actor_id)
                ):
                    revoke(s, user_id=member)

    def list_grants(
        self, actor: str, actor_id: str, target: str, target_id: str, inherited: bool = False
    ) -> list[dict[str, Any]]:
        with self.core.read() as s:
            self.core.get(s, User if actor == "user" else Group, actor_id, actor)
            if target == "project":
                self.core.get(s, Project, target_id, "project")
            elif target == "domain":
                self.core.get(s, Domain, target_id, "domain")
            query = (
                select(Role)
                .join(Assignment, Assignment.role_id == Role.id)
                .where(
                    Assignment.type == assignment_type(actor, target),
                    Assignment.actor_id == actor_id,
                    Assignment.target_id == target_id,
                    Assignment.inherited == inherited,
                )
                .order_by(Role.name)
            )
            return [role_dict(r) for r in s.scalars(query)]

    # -- effective roles ------------------------------------------------------------------

    def effective_role_ids(
        self,
        s: Session,
        user_id: str,
        *,
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
    ) -> list[str]:
        """Roles a user holds on one target: direct, through groups, inherited, implied.

        Domain-specific roles count only through the global roles they imply.
        """
        actors = [
            user_id,
            *s.scalars(select(Membership.group_id).where(Membership.user_id == user_id)),
        ]
        query = select(Assignment.role_id).where(Assignment.actor_id.in_(actors))
        if system:
            query = query.where(
                Assignment.type.in_(("UserSystem", "GroupSystem")),
                Assignment.target_id == SYSTEM,
            )
        elif domain_id:
            query = query.where(
                Assignment.type.in_(("UserDomain", "GroupDomain")),
                Assignment.target_id == domain_id,
                Assignment.inherited.is_(False),
            )
        elif project_id:
            project = s.get(Project, project_id)
            if project is None:
                return []
            ancestors = []
            parent = project.parent_id
            while parent:
                ancestors.append(parent)
                parent = s.scalar(select(Project.parent_id).where(Project.id == parent))
            direct = query.where(
                Assignment.type.in_(("UserProject", "GroupProject")),
                Assignment.target_id == project_id,
                Assignment.inherited.is_(False),
            )
            inherited = query.where(
                Assignment.inherited.is_(True),
                Assignment.target_id.in_([*ancestors, project.domain_id]),
            )
            query = direct.union(inherited)  # type: ignore[assignment]
        else:
            return []
        role_ids = set(s.scalars(query))
        if not role_ids:
            return []
        role_ids |= implied_closure(s, list(role_ids))
        global_roles = s.scalars(
            select(Role.id).where(Role.id.in_(role_ids), Role.domain_id == NULL_DOMAIN)
        )
        return sorted(global_roles)

    def user_projects(self, user_id: str) -> list[str]:
        """Projects on which the user has any effective role."""
        with self.core.read() as s:
            projects = list(s.scalars(select(Project).where(Project.enabled.is_(True))))
            return [p.id for p in projects if self.effective_role_ids(s, user_id, project_id=p.id)]

    def user_domains(self, user_id: str) -> list[str]:
        with self.core.read() as s:
            domains = list(s.scalars(select(Domain.id).where(Domain.enabled.is_(True))))
            return [d for d in domains if self.effective_role_ids(s, user_id, domain_id=d)]

    def user_has_system(self, user_id: str) -> bool:
        with self.core.read() as s:
            return bool(self.effective_role_ids(s, user_id, system=True))

    # -- GET /v3/role_assignments ---------------------------------------------------------

    def list_assignments(
        self, filters: dict[str, Any], effective: bool, include_subtree: bool
    ) -> list[Grant]:
        with self.core.read() as s:
            raw = [
                Grant(
                    role_id=a.role_id,
                    actor_kind="user" if a.type.startswith("User") else "group",
                    actor_id=a.actor_id,
                    target_kind=a.type.removeprefix("User").removeprefix("Group").lower(),
                    target_id=a.target_id,
                    inherited=a.inherited,
                )
                for a in s.scalars(select(Assignment))
            ]
            project_filter = filters.get("scope.project.id")
            project_ids: set[str] | None = None
            if project_filter:
                project_ids = {project_filter}
                if include_subtree:
                    project_ids |= set(_subtree(s, project_filter))
            if not effective:
                return [g for g in raw if _matches(g, filters, project_ids)]
            expanded = self._expand(s, raw)
            return [g for g in expanded if _matches(g, filters, project_ids)]

    def _expand(self, s: Session, raw: list[Grant]) -> list[Grant]:
        members: dict[str, list[str]] = {}
        for m in s.scalars(select(Membership)):
            members.setdefault(m.group_id, []).append(m.user_id)
        projects = list(s.scalars(select(Project)))
        by_domain: dict[str, list[str]] = {}
        children: dict[str, list[str]] = {}
        for p in projects:
            by_domain.setdefault(p.domain_id, []).append(p.id)
            if p.parent_id:
                children.setdefault(p.parent_id, []).append(p.id)

        def below(project_id: str) -> list[str]:
            result, frontier = [], [project_id]
            while frontier:
                nxt = [c for f in frontier for c in children.get(f, [])]
                result.extend(nxt)
                frontier = nxt
            return result

        # 1. inherited assignments land on the projects below their target.
        placed: list[Grant] = []
        for g in raw:
            if not g.inherited:
                placed.append(g)
                continue
            targets = (
                by_domain.get(g.target_id, []) if g.target_kind == "domain" else below(g.target_id)
            )
            for project_id in targets:
                placed.append(
                    replace(
                        g, target_kind="project", target_id=project_id, inherited=False, source=g
                    )
                )
        # 2. group assignments become one per member.
        users: list[Grant] = []
        for g in placed:
            if g.actor_kind == "user":
                users.append(g)
                continue
            for user_id in members.get(g.actor_id, []):
                users.append(
                    replace(
                        g,
                        actor_kind="user",
                        actor_id=user_id,
                        via_group=g.actor_id,
                        source=g.source or g,
                    )
                )
        # 3. implied roles add lines; domain-specific roles themselves are dropped.
        rules: dict[str, list[str]] = {}
        for rule in s.scalars(select(ImpliedRole)):
            rules.setdefault(rule.prior_role_id, []).append(rule.implied_role_id)
        domain_roles = set(s.scalars(select(Role.id).where(Role.domain_id != NULL_DOMAIN)))
        result: list[Grant] = []
        seen: set[tuple[str, str, str, str]] = set()
        for g in users:
            frontier: list[tuple[str, str | None]] = [(g.role_id, None)]
            while frontier:
                role_id, prior = frontier.pop()
                key = (role_id, g.actor_id, g.target_kind, g.target_id)
                if role_id not in domain_roles and key not in seen:
                    seen.add(key)
                    result.append(replace(g, role_id=role_id, prior_role_id=prior))
                frontier.extend((implied, role_id) for implied in rules.get(role_id, []))
        return result

    def names(self, grants: list[Grant]) -> dict[str, dict[str, Any]]:
        """Names (and domains) of everything the grants mention, keyed by id."""
        with self.core.read() as s:
            domains = {d.id: d.name for d in s.scalars(select(Domain))}
            info: dict[str, dict[str, Any]] = {}
            ids = {g.role_id for g in grants}
            for role in s.scalars(select(Role).where(Role.id.in_(ids))):
                entry: dict[str, Any] = {"id": role.id, "name": role.name}
                if role.domain_id != NULL_DOMAIN:
                    entry["domain"] = {"id": role.domain_id, "name": domains.get(role.domain_id)}
                info[role.id] = entry
            actor_ids = {g.actor_id for g in grants} | {g.via_group for g in grants if g.via_group}
            target_ids = {g.target_id for g in grants}
            for model in (User, Group):
                for row in s.scalars(select(model).where(model.id.in_(actor_ids))):
                    info[row.id] = {
                        "id": row.id,
                        "name": row.name,
                        "domain": {"id": row.domain_id, "name": domains.get(row.domain_id)},
                    }
            for project in s.scalars(select(Project).where(Project.id.in_(target_ids))):
                info[project.id] = {
                    "id": project.id,
                    "name": project.name,
                    "domain": {"id": project.domain_id, "name": domains.get(project.domain_id)},
                }
            for domain_id in target_ids & set(domains):
                info.setdefault(domain_id, {"id": domain_id, "name": domains[domain_id]})
            return info

    def delete_for_target(self, s: Session, target_id: str) -> None:
        s.execute(delete(Assignment).where(Assignment.target_id == target_id))


def _subtree(s: Session, project_id: str) -> list[str]:
    result, frontier = [], [project_id]
    while frontier:
        nxt = list(s.scalars(select(Project.id).where(Project.parent_id.in_(frontier))))
        result.extend(nxt)
        frontier = nxt
    return result


def _matches(g: Grant, filters: dict[str, Any], project_ids: set[str] | None) -> bool:
    if "user.id" in filters and not (g.actor_kind == "user" and g.actor_id == filters["user.id"]):
        return False
    if "group.id" in filters and not (
        g.actor_kind == "group" and g.actor_id == filters["group.id"]
    ):
        return False
    if "role.id" in filters and g.role_id != filters["role.id"]:
        return False
    if project_ids is not None and not (g.target_kind == "project" and g.target_id in project_ids):
        return False
    if "scope.domain.id" in filters and not (
        g.target_kind == "domain" and g.target_id == filters["scope.domain.id"]
    ):
        return False
    if "scope.system" in filters and g.target_kind != "system":
        return False
    return not ("scope.OS-INHERIT:inherited_to" in filters and not g.inherited)
