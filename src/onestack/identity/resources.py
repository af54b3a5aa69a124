"""Domains and projects (with the project hierarchy and tags)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from onestack.common.db import new_id
from onestack.common.errors import Conflict, Forbidden, NotFound, ValidationError
from onestack.identity.core import IdentityCore
from onestack.identity.models import (
    ApplicationCredential,
    Assignment,
    Credential,
    Domain,
    Group,
    Project,
    ProjectTag,
    Role,
    User,
)
from onestack.identity.revocation import revoke
from onestack.identity.util import apply_extra, split_extra

DOMAIN_FIELDS = {"id", "name", "description", "enabled", "options", "tags", "explicit_domain_id"}
PROJECT_FIELDS = {
    "id",
    "name",
    "domain_id",
    "parent_id",
    "description",
    "enabled",
    "is_domain",
    "tags",
    "options",
}
MAX_DEPTH = 5  # Keystone's default max_project_tree_depth
MAX_TAGS = 80


def domain_dict(row: Domain) -> dict[str, Any]:
    data = {
        "id": row.id,
        "name": row.name,
        "description": row.description or "",
        "enabled": row.enabled,
        "tags": [],
        "options": row.options or {},
    }
    return apply_extra(data, row.extra)


def project_dict(row: Project, tags: list[str]) -> dict[str, Any]:
    data = {
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "parent_id": row.parent_id or row.domain_id,
        "description": row.description or "",
        "enabled": row.enabled,
        "is_domain": False,
        "tags": sorted(tags),
        "options": row.options or {},
    }
    return apply_extra(data, row.extra)


def domain_as_project(domain: dict[str, Any]) -> dict[str, Any]:
    """A domain seen through the projects API (Keystone's "project acting as a domain")."""
    return {
        "id": domain["id"],
        "name": domain["name"],
        "domain_id": None,
        "parent_id": None,
        "description": domain.get("description") or "",
        "enabled": domain["enabled"],
        "is_domain": True,
        "tags": [],
        "options": domain.get("options") or {},
    }


def validate_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A project may have at most {MAX_TAGS} tags.")
    for tag in tags:
        if not tag or len(tag) > 255 or "/" in tag or "," in tag:
            raise ValidationError(f"Invalid tag {tag!r}: 1-255 characters, no '/' or ','.")
    return list(dict.fromkeys(tags))


class DomainManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, DOMAIN_FIELDS)
        with self.core.write() as s:
            ident = known.get("explicit_domain_id") or known.get("id") or new_id()
            self._check_name(s, known["name"])
            if s.get(Domain, ident) is not None:
                raise Conflict(
                    f"Conflict occurred attempting to store domain - Duplicate ID, {ident}."
                )
            row = Domain(
                id=ident,
                name=known["name"],
                description=known.get("description"),
                enabled=known.get("enabled", True),
                options=known.get("options") or {},
                extra=extra,
            )
            s.add(row)
            s.flush()
            return domain_dict(row)

    def _check_name(self, s: Session, name: str, exclude: str | None = None) -> None:
        self.core.check_unique(
            s,
            Domain.name,
            name,
            None,
            (Domain.id, exclude) if exclude else None,
            "Conflict occurred attempting to store domain - Duplicate entry found with "
            f"name {name}.",
        )

    def get(self, domain_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            with self.core.read() as s:
                return domain_dict(self.core.get(s, Domain, domain_id, "domain"))

        return dict(self.core.memo(("domain", domain_id), load))

    def find(self, name_or_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            row = s.get(Domain, name_or_id) or s.scalar(
                select(Domain).where(Domain.name == name_or_id)
            )
            if row is None:
                raise NotFound(f"Could not find domain: {name_or_id}.")
            return domain_dict(row)

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Domain).order_by(Domain.name)
        if "name" in filters:
            query = query.where(Domain.name == filters["name"])
        if "enabled" in filters:
            query = query.where(Domain.enabled == filters["enabled"])
        if "ids" in filters:
            query = query.where(Domain.id.in_(filters["ids"]))
        with self.core.read() as s:
            return [domain_dict(r) for r in s.scalars(query)]

    def update(self, domain_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, DOMAIN_FIELDS)
        if "id" in known and known["id"] != domain_id:
            raise ValidationError("Cannot change the ID of a domain.")
        with self.core.write() as s:
            row = self.core.get(s, Domain, domain_id, "domain")
            if "name" in known and known["name"] != row.name:
                self._check_name(s, known["name"], exclude=domain_id)
                row.name = known["name"]
            if "description" in known:
                row.description = known["description"]
            if "options" in known:
                row.options = {**(row.options or {}), **known["options"]}
            if "enabled" in known:
                if not known["enabled"] and row.enabled:
                    revoke(s, domain_id=domain_id)
                row.enabled = known["enabled"]
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return domain_dict(row)

    def delete(self, domain_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, Domain, domain_id, "domain")
            if row.enabled:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            project_ids = list(s.scalars(select(Project.id).where(Project.domain_id == domain_id)))
            user_ids = list(s.scalars(select(User.id).where(User.domain_id == domain_id)))
            group_ids = list(s.scalars(select(Group.id).where(Group.domain_id == domain_id)))
            actors = user_ids + group_ids
            targets = [*project_ids, domain_id]
            s.execute(
                delete(Assignment).where(
                    or_(Assignment.target_id.in_(targets), Assignment.actor_id.in_(actors))
                )
            )
            s.execute(delete(Credential).where(Credential.user_id.in_(user_ids)))
            s.execute(
                delete(ApplicationCredential).where(ApplicationCredential.user_id.in_(user_ids))
            )
            s.execute(delete(ProjectTag).where(ProjectTag.project_id.in_(project_ids)))
            # Children before parents: clear the hierarchy links first.
            for project in s.scalars(select(Project).where(Project.domain_id == domain_id)):
                project.parent_id = None
            s.flush()
            s.execute(delete(Project).where(Project.domain_id == domain_id))
            s.execute(delete(User).where(User.domain_id == domain_id))
            s.execute(delete(Group).where(Group.domain_id == domain_id))
            s.execute(delete(Role).where(Role.domain_id == domain_id))
            revoke(s, domain_id=domain_id)
            s.delete(row)


class ProjectManager:
    def __init__(self, core: IdentityCore, domains: DomainManager) -> None:
        self.core = core
        self.domains = domains

    def _domain_or_none(self, project_id: str) -> dict[str, Any] | None:
        """The domain with this id when the id names no project but a domain."""
        with self.core.read() as s:
            if s.get(Project, project_id) is not None or s.get(Domain, project_id) is None:
                return None
        return self.domains.get(project_id)

    @staticmethod
    def _tags(s: Session, project_ids: list[str]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {pid: [] for pid in project_ids}
        if not project_ids:
            return result
        query = select(ProjectTag).where(ProjectTag.project_id.in_(project_ids))
        for tag in s.scalars(query):
            result[tag.project_id].append(tag.name)
        return result

    def _dict(self, s: Session, row: Project) -> dict[str, Any]:
        return project_dict(row, self._tags(s, [row.id])[row.id])

    def _depth(self, s: Session, parent_id: str | None) -> int:
        depth = 0
        while parent_id is not None:
            depth += 1
            parent_id = s.scalar(select(Project.parent_id).where(Project.id == parent_id))
        return depth

    def create(self, body: dict[str, Any], default_domain_id: str | None) -> dict[str, Any]:
        known, extra = split_extra(body, PROJECT_FIELDS)
        if known.get("is_domain"):
            if known.get("parent_id") or known.get("domain_id"):
                raise ValidationError("A project acting as a domain has no parent or domain.")
            fields: dict[str, Any] = {
                k: known[k] for k in ("name", "description", "enabled") if k in known
            }
            return domain_as_project(self.domains.create({**fields, **extra}))
        tags = validate_tags(known.get("tags") or [])
        with self.core.write() as s:
            parent_id = known.get("parent_id")
            domain_id = known.get("domain_id")
            parent: Project | None = None
            if parent_id:
                parent = s.get(Project, parent_id)
                if parent is None:
                    # A domain id as parent means a top-level project in that domain.
                    if s.get(Domain, parent_id) is not None:
                        domain_id = domain_id or parent_id
                        if domain_id != parent_id:
                            raise ValidationError("The parent must be in the project's domain.")
                        parent_id = None
                    else:
                        raise NotFound(f"Could not find project: {parent_id}.")
                else:
                    domain_id = domain_id or parent.domain_id
                    if domain_id != parent.domain_id:
                        raise ValidationError(
                            "Cannot create project, the parent and the project belong to "
                            "different domains."
                        )
                    if not parent.enabled and known.get("enabled", True):
                        raise Forbidden("Cannot enable a project whose parent is disabled.")
                    if self._depth(s, parent_id) + 1 >= MAX_DEPTH + 1:
                        raise Forbidden(f"Max hierarchy depth reached for {parent_id} branch.")
            domain_id = domain_id or default_domain_id
            if not domain_id:
                raise ValidationError("domain_id is required.")
            if s.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            name = known["name"]
            exists = s.scalar(
                select(Project.id).where(Project.domain_id == domain_id, Project.name == name)
            )
            if exists:
                raise Conflict(
                    f"Conflict occurred attempting to store project - it is not permitted to "
                    f"have two projects with the same name in the same domain : {name}."
                )
            row = Project(
                id=known.get("id") or new_id(),
                name=name,
                domain_id=domain_id,
                parent_id=parent_id,
                description=known.get("description"),
                enabled=known.get("enabled", True),
                options=known.get("options") or {},
                extra=extra,
            )
            s.add(row)
            s.flush()
            for tag in tags:
                s.add(ProjectTag(project_id=row.id, name=tag))
            s.flush()
            return project_dict(row, tags)

    def get(self, project_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            with self.core.read() as s:
                row = s.get(Project, project_id)
                if row is not None:
                    return self._dict(s, row)
                domain = s.get(Domain, project_id)
                if domain is not None:
                    return domain_as_project(domain_dict(domain))
                raise NotFound(f"Could not find project: {project_id}.")

        return dict(self.core.memo(("project", project_id), load))

    def find(self, name: str, domain_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            row = s.scalar(
                select(Project).where(Project.name == name, Project.domain_id == domain_id)
            )
            if row is None:
                raise NotFound(f"Could not find project: {name}.")
            return self._dict(s, row)

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        if filters.get("is_domain") is True:
            wanted: dict[str, Any] = {
                k: filters[k] for k in ("name", "enabled", "ids") if k in filters
            }
            return [domain_as_project(d) for d in self.domains.listing(wanted)]
        found = self.core.memo(("projects", self.core.key(filters)), lambda: self._list(filters))
        return [dict(p) for p in found]

    def _list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Project).order_by(Project.name, Project.id)
        if "name" in filters:
            query = query.where(Project.name == filters["name"])
        if "domain_id" in filters:
            query = query.where(Project.domain_id == filters["domain_id"])
        if "enabled" in filters:
            query = query.where(Project.enabled == filters["enabled"])
        if "ids" in filters:
            query = query.where(Project.id.in_(filters["ids"]))
        if "parent_id" in filters:
            parent = filters["parent_id"]
            query = query.where(
                or_(
                    Project.parent_id == parent,
                    (Project.parent_id.is_(None)) & (Project.domain_id == parent),
                )
            )
        with self.core.read() as s:
            rows = list(s.scalars(query))
            tags = self._tags(s, [r.id for r in rows])
        result = [project_dict(r, tags[r.id]) for r in rows]
        return [p for p in result if _tags_match(set(p["tags"]), filters)]

    def update(self, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, PROJECT_FIELDS)
        if self._domain_or_none(project_id) is not None:
            fields: dict[str, Any] = {
                k: known[k] for k in ("name", "description", "enabled") if k in known
            }
            return domain_as_project(self.domains.update(project_id, {**fields, **extra}))
        if "id" in known and known["id"] != project_id:
            raise ValidationError("Cannot change the ID of a project.")
        with self.core.write() as s:
            row = self.core.get(s, Project, project_id, "project")
            if "domain_id" in known and known["domain_id"] != row.domain_id:
                raise ValidationError("Update of `domain_id` is not allowed.")
            if "parent_id" in known and known["parent_id"] != (row.parent_id or row.domain_id):
                raise Forbidden("Update of `parent_id` is not allowed.")
            if known.get("is_domain"):
                raise ValidationError("Update of `is_domain` is not allowed.")
            if "name" in known and known["name"] != row.name:
                clash = s.scalar(
                    select(Project.id).where(
                        Project.domain_id == row.domain_id,
                        Project.name == known["name"],
                        Project.id != row.id,
                    )
                )
                if clash:
                    raise Conflict(
                        "Conflict occurred attempting to store project - it is not permitted "
                        f"to have two projects with the same name in the same domain : "
                        f"{known['name']}."
                    )
                row.name = known["name"]
            if "description" in known:
                row.description = known["description"]
            if "options" in known:
                row.options = {**(row.options or {}), **known["options"]}
            if "enabled" in known and known["enabled"] != row.enabled:
                if known["enabled"] and row.parent_id:
                    parent = s.get(Project, row.parent_id)
                    if parent is not None and not parent.enabled:
                        raise Forbidden("Cannot enable a project whose parent is disabled.")
                if not known["enabled"]:
                    enabled_below = s.scalar(
                        select(Project.id)
                        .where(Project.parent_id == row.id, Project.enabled.is_(True))
                        .limit(1)
                    )
                    if enabled_below:
                        raise Forbidden(
                            f"Cannot disable project {row.id} since its subtree contains "
                            "enabled projects."
                        )
                    revoke(s, project_id=row.id)
                row.enabled = known["enabled"]
            if "tags" in known:
                self._replace_tags(s, row.id, validate_tags(known["tags"] or []))
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return self._dict(s, row)

    @staticmethod
    def _replace_tags(s: Session, project_id: str, tags: list[str]) -> None:
        s.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
        s.flush()
        for tag in tags:
            s.add(ProjectTag(project_id=project_id, name=tag))

    def delete(self, project_id: str) -> None:
        if self._domain_or_none(project_id) is not None:
            self.domains.delete(project_id)
            return
        with self.core.write() as s:
            row = self.core.get(s, Project, project_id, "project")
            if s.scalar(select(Project.id).where(Project.parent_id == project_id).limit(1)):
                raise Forbidden(
                    f"Cannot delete the project {project_id} since it is not a leaf in the "
                    "hierarchy."
                )
            s.execute(delete(Assignment).where(Assignment.target_id == project_id))
            s.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
            s.execute(
                delete(ApplicationCredential).where(ApplicationCredential.project_id == project_id)
            )
            for user in s.scalars(select(User).where(User.default_project_id == project_id)):
                user.default_project_id = None
            revoke(s, project_id=project_id)
            s.delete(row)

    # -- hierarchy ------------------------------------------------------------------------

    def parents(self, project_id: str) -> list[dict[str, Any]]:
        with self.core.read() as s:
            row = self.core.get(s, Project, project_id, "project")
            chain = []
            parent_id = row.parent_id
            while parent_id:
                parent = s.get(Project, parent_id)
                if parent is None:
                    break
                chain.append(self._dict(s, parent))
                parent_id = parent.parent_id
            return chain

    def subtree_ids(self, s: Session, project_id: str) -> list[str]:
        result: list[str] = []
        frontier = [project_id]
        while frontier:
            children = list(s.scalars(select(Project.id).where(Project.parent_id.in_(frontier))))
            result.extend(children)
            frontier = children
        return result

    def subtree(self, project_id: str) -> list[dict[str, Any]]:
        with self.core.read() as s:
            self.core.get(s, Project, project_id, "project")
            ids = self.subtree_ids(s, project_id)
            rows = list(s.scalars(select(Project).where(Project.id.in_(ids)))) if ids else []
            tags = self._tags(s, ids)
            return [project_dict(r, tags[r.id]) for r in rows]

    # -- tags -----------------------------------------------------------------------------

    def tags(self, project_id: str) -> list[str]:
        with self.core.read() as s:
            self.core.get(s, Project, project_id, "project")
            return sorted(self._tags(s, [project_id])[project_id])

    def set_tags(self, project_id: str, tags: list[str]) -> list[str]:
        tags = validate_tags(tags)
        with self.core.write() as s:
            self.core.get(s, Project, project_id, "project")
            self._replace_tags(s, project_id, tags)
        return sorted(tags)

    def add_tag(self, project_id: str, tag: str) -> None:
        validate_tags([tag])
        with self.core.write() as s:
            self.core.get(s, Project, project_id, "project")
            current = self._tags(s, [project_id])[project_id]
            if tag in current:
                return
            if len(current) >= MAX_TAGS:
                raise ValidationError(f"A project may have at most {MAX_TAGS} tags.")
            s.add(ProjectTag(project_id=project_id, name=tag))

    def has_tag(self, project_id: str, tag: str) -> bool:
        return tag in self.tags(project_id)

    def remove_tag(self, project_id: str, tag: str) -> None:
        with self.core.write() as s:
            self.core.get(s, Project, project_id, "project")
            result = s.execute(
                delete(ProjectTag).where(
                    ProjectTag.project_id == project_id, ProjectTag.name == tag
                )
            )
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"Tag {tag} not found for project {project_id}.")


def _tags_match(tags: set[str], filters: dict[str, Any]) -> bool:
    if "tags" in filters and not set(filters["tags"]) <= tags:
        return False
    if "tags-any" in filters and not set(filters["tags-any"]) & tags:
        return False
    if "not-tags" in filters and set(filters["not-tags"]) <= tags:
        return False
    return not ("not-tags-any" in filters and set(filters["not-tags-any"]) & tags)
