"""``onestack bootstrap``: the identity data a new cloud needs. Safe to run again and again."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from onestack.common.db import new_id
from onestack.identity.models import (
    NULL_DOMAIN,
    Assignment,
    Domain,
    Endpoint,
    ImpliedRole,
    Project,
    Region,
    Role,
    Service,
    User,
)
from onestack.identity.passwords import hash_password
from onestack.identity.service import IdentityService

log = logging.getLogger(__name__)

DEFAULT_DOMAIN_ID = "default"


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    name: str
    path: str  # under the public URL, e.g. "/identity"
    description: str = ""


def bootstrap(
    service: IdentityService,
    admin_password: str | None,
    public_url: str,
    catalog: list[CatalogEntry],
) -> bool:
    """Create what is missing; return True when the admin user was created now."""
    settings = service.settings.identity
    created_admin = False
    password_hash = (
        hash_password(admin_password, settings.password_hash_rounds) if admin_password else None
    )
    with service.core.write() as s:
        if s.get(Domain, DEFAULT_DOMAIN_ID) is None:
            s.add(
                Domain(
                    id=DEFAULT_DOMAIN_ID,
                    name="Default",
                    description="The default domain",
                    enabled=True,
                    extra={},
                    options={},
                )
            )
            s.flush()

        def project(name: str, description: str) -> Project:
            row = s.scalar(
                select(Project).where(Project.name == name, Project.domain_id == DEFAULT_DOMAIN_ID)
            )
            if row is None:
                row = Project(
                    id=new_id(),
                    name=name,
                    domain_id=DEFAULT_DOMAIN_ID,
                    description=description,
                    enabled=True,
                    extra={},
                    options={},
                )
                s.add(row)
                s.flush()
            return row

        admin_project = project(settings.admin_project, "Bootstrap project for the cloud admin")
        project("service", "Project of the service users")

        roles: dict[str, Role] = {}
        for name in ("admin", "member", "reader", "service"):
            row = s.scalar(select(Role).where(Role.name == name, Role.domain_id == NULL_DOMAIN))
            if row is None:
                row = Role(id=new_id(), name=name, domain_id=NULL_DOMAIN, extra={}, options={})
                s.add(row)
                s.flush()
            roles[name] = row
        for prior, implied in (("admin", "member"), ("member", "reader")):
            pair = (roles[prior].id, roles[implied].id)
            if s.get(ImpliedRole, pair) is None:
                s.add(ImpliedRole(prior_role_id=pair[0], implied_role_id=pair[1]))

        admin = s.scalar(
            select(User).where(
                User.name == settings.admin_user, User.domain_id == DEFAULT_DOMAIN_ID
            )
        )
        if admin is None:
            if password_hash is None:
                raise RuntimeError("the admin user does not exist: a password is needed")
            admin = User(
                id=new_id(),
                name=settings.admin_user,
                domain_id=DEFAULT_DOMAIN_ID,
                enabled=True,
                password_hash=password_hash,
                extra={},
                options={},
                default_project_id=admin_project.id,
            )
            s.add(admin)
            s.flush()
            created_admin = True
        for kind, target in (("UserProject", admin_project.id), ("UserSystem", "all")):
            key = (kind, admin.id, target, roles["admin"].id, False)
            if s.get(Assignment, key) is None:
                s.add(
                    Assignment(
                        type=kind,
                        actor_id=admin.id,
                        target_id=target,
                        role_id=roles["admin"].id,
                        inherited=False,
                    )
                )

        region = settings.region
        if s.get(Region, region) is None:
            s.add(Region(id=region, description="", extra={}))
            s.flush()
        for entry in catalog:
            svc = s.scalar(select(Service).where(Service.type == entry.type))
            if svc is None:
                svc = Service(
                    id=new_id(),
                    type=entry.type,
                    enabled=True,
                    extra={"name": entry.name, "description": entry.description},
                )
                s.add(svc)
                s.flush()
            url = f"{public_url}{entry.path}"
            for interface in ("public", "internal", "admin"):
                endpoint = s.scalar(
                    select(Endpoint).where(
                        Endpoint.service_id == svc.id, Endpoint.interface == interface
                    )
                )
                if endpoint is None:
                    s.add(
                        Endpoint(
                            id=new_id(),
                            service_id=svc.id,
                            interface=interface,
                            url=url,
                            region_id=region,
                            enabled=True,
                            extra={},
                        )
                    )
                elif endpoint.url != url:
                    log.info("catalog: %s %s endpoint moves to %s", entry.type, interface, url)
                    endpoint.url = url
    return created_admin
