"""Regions, services, endpoints, and the service catalog built from them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from onestack.common.db import new_id
from onestack.common.errors import Conflict, Forbidden, NotFound, ValidationError
from onestack.identity.core import IdentityCore
from onestack.identity.models import Endpoint, Region, Service
from onestack.identity.util import apply_extra, split_extra

INTERFACES = ("public", "internal", "admin")
_SUBST = re.compile(r"\$\((\w+)\)s|%\((\w+)\)s")


def region_dict(row: Region) -> dict[str, Any]:
    data = {
        "id": row.id,
        "description": row.description or "",
        "parent_region_id": row.parent_region_id,
    }
    return apply_extra(data, row.extra)


def service_dict(row: Service) -> dict[str, Any]:
    data: dict[str, Any] = {"id": row.id, "type": row.type, "enabled": row.enabled}
    return apply_extra(data, row.extra)


def endpoint_dict(row: Endpoint) -> dict[str, Any]:
    data = {
        "id": row.id,
        "interface": row.interface,
        "region": row.region_id,
        "region_id": row.region_id,
        "service_id": row.service_id,
        "url": row.url,
        "enabled": row.enabled,
    }
    return apply_extra(data, row.extra)


class CatalogManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    # -- regions --------------------------------------------------------------------------

    def create_region(self, body: dict[str, Any], region_id: str | None = None) -> dict[str, Any]:
        known, extra = split_extra(body, {"id", "description", "parent_region_id"})
        ident = region_id or known.get("id") or new_id()
        with self.core.write() as s:
            if s.get(Region, ident) is not None:
                raise Conflict(
                    f"Conflict occurred attempting to store region - Duplicate ID, {ident}."
                )
            parent = known.get("parent_region_id")
            if parent and s.get(Region, parent) is None:
                raise NotFound(f"Could not find region: {parent}.")
            row = Region(
                id=ident,
                description=known.get("description") or "",
                parent_region_id=parent,
                extra=extra,
            )
            s.add(row)
            s.flush()
            return region_dict(row)

    def get_region(self, region_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return region_dict(self.core.get(s, Region, region_id, "region"))

    def list_regions(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Region).order_by(Region.id)
        if "parent_region_id" in filters:
            query = query.where(Region.parent_region_id == filters["parent_region_id"])
        with self.core.read() as s:
            return [region_dict(r) for r in s.scalars(query)]

    def update_region(self, region_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, {"id", "description", "parent_region_id"})
        with self.core.write() as s:
            row = self.core.get(s, Region, region_id, "region")
            if "id" in known and known["id"] != region_id:
                raise ValidationError("Cannot change the ID of a region.")
            if "parent_region_id" in known:
                parent = known["parent_region_id"]
                cursor = parent
                while cursor:
                    if cursor == region_id:
                        raise ValidationError(
                            f"Circular reference detected: region {region_id} parent {parent}."
                        )
                    found = s.get(Region, cursor)
                    if found is None:
                        raise NotFound(f"Could not find region: {cursor}.")
                    cursor = found.parent_region_id
                row.parent_region_id = parent
            if "description" in known:
                row.description = known["description"] or ""
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return region_dict(row)

    def delete_region(self, region_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, Region, region_id, "region")
            if s.scalar(select(Region.id).where(Region.parent_region_id == region_id).limit(1)):
                raise Forbidden(f"Cannot delete region {region_id}: it has child regions.")
            if s.scalar(select(Endpoint.id).where(Endpoint.region_id == region_id).limit(1)):
                raise Forbidden(f"Cannot delete region {region_id}: it has endpoints.")
            s.delete(row)

    # -- services -------------------------------------------------------------------------

    def create_service(self, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, {"id", "type", "enabled"})
        with self.core.write() as s:
            row = Service(
                id=known.get("id") or new_id(),
                type=known["type"],
                enabled=known.get("enabled", True),
                extra=extra,
            )
            s.add(row)
            s.flush()
            return service_dict(row)

    def get_service(self, service_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return service_dict(self.core.get(s, Service, service_id, "service"))

    def list_services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Service).order_by(Service.type, Service.id)
        if "type" in filters:
            query = query.where(Service.type == filters["type"])
        with self.core.read() as s:
            rows = [service_dict(r) for r in s.scalars(query)]
        if "name" in filters:
            rows = [r for r in rows if r.get("name") == filters["name"]]
        return rows

    def update_service(self, service_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(body, {"id", "type", "enabled"})
        with self.core.write() as s:
            row = self.core.get(s, Service, service_id, "service")
            if "id" in known and known["id"] != service_id:
                raise ValidationError("Cannot change the ID of a service.")
            if "type" in known:
                row.type = known["type"]
            if "enabled" in known:
                row.enabled = known["enabled"]
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return service_dict(row)

    def delete_service(self, service_id: str) -> None:
        with self.core.write() as s:
            row = self.core.get(s, Service, service_id, "service")
            for endpoint in s.scalars(select(Endpoint).where(Endpoint.service_id == service_id)):
                s.delete(endpoint)
            s.delete(row)

    # -- endpoints ------------------------------------------------------------------------

    def create_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(
            body, {"id", "service_id", "interface", "url", "region_id", "region", "enabled"}
        )
        with self.core.write() as s:
            if s.get(Service, known["service_id"]) is None:
                raise ValidationError(f"Could not find service: {known['service_id']}.")
            region_id = known.get("region_id") or known.get("region")
            if region_id and s.get(Region, region_id) is None:
                if "region_id" in known:
                    raise ValidationError(f"Could not find region: {region_id}.")
                s.add(Region(id=region_id, description="", extra={}))  # legacy "region" field
            row = Endpoint(
                id=known.get("id") or new_id(),
                service_id=known["service_id"],
                interface=known["interface"],
                url=known["url"],
                region_id=region_id,
                enabled=known.get("enabled", True),
                extra=extra,
            )
            s.add(row)
            s.flush()
            return endpoint_dict(row)

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return endpoint_dict(self.core.get(s, Endpoint, endpoint_id, "endpoint"))

    def list_endpoints(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Endpoint).order_by(Endpoint.id)
        for key in ("interface", "service_id", "region_id"):
            if key in filters:
                query = query.where(getattr(Endpoint, key) == filters[key])
        with self.core.read() as s:
            return [endpoint_dict(r) for r in s.scalars(query)]

    def update_endpoint(self, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        known, extra = split_extra(
            body, {"id", "service_id", "interface", "url", "region_id", "region", "enabled"}
        )
        with self.core.write() as s:
            row = self.core.get(s, Endpoint, endpoint_id, "endpoint")
            if "id" in known and known["id"] != endpoint_id:
                raise ValidationError("Cannot change the ID of a endpoint.")
            if "service_id" in known:
                if s.get(Service, known["service_id"]) is None:
                    raise ValidationError(f"Could not find service: {known['service_id']}.")
                row.service_id = known["service_id"]
            region_id = known.get("region_id", known.get("region", row.region_id))
            if region_id != row.region_id:
                if region_id and s.get(Region, region_id) is None:
                    if "region_id" in known:
                        raise ValidationError(f"Could not find region: {region_id}.")
                    s.add(Region(id=region_id, description="", extra={}))  # legacy "region"
                row.region_id = region_id
            for key in ("interface", "url", "enabled"):
                if key in known:
                    setattr(row, key, known[key])
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return endpoint_dict(row)

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.core.write() as s:
            s.delete(self.core.get(s, Endpoint, endpoint_id, "endpoint"))

    # -- the catalog ----------------------------------------------------------------------

    def _rows(self) -> list[tuple[Service, list[Endpoint]]]:
        return self.core.memo(("catalog-rows",), self._load_rows)

    def _load_rows(self) -> list[tuple[Service, list[Endpoint]]]:
        with self.core.read() as s:
            services = list(s.scalars(select(Service).where(Service.enabled.is_(True))))
            endpoints = list(
                s.scalars(select(Endpoint).where(Endpoint.enabled.is_(True)).order_by(Endpoint.id))
            )
        return [(svc, [e for e in endpoints if e.service_id == svc.id]) for svc in services]

    def catalog(self, project_id: str | None, user_id: str | None) -> list[dict[str, Any]]:
        """The catalog for a scope. Shared between callers: treat it as read-only."""
        return self.core.memo(
            ("catalog", project_id, user_id), lambda: self._build(project_id, user_id)
        )

    def _build(self, project_id: str | None, user_id: str | None) -> list[dict[str, Any]]:
        values = {"project_id": project_id, "tenant_id": project_id, "user_id": user_id}
        result = []
        for service, endpoints in self._rows():
            entries = []
            for endpoint in endpoints:
                url = _substitute(endpoint.url, values)
                if url is None:
                    continue
                entries.append(
                    {
                        "id": endpoint.id,
                        "interface": endpoint.interface,
                        "region": endpoint.region_id,
                        "region_id": endpoint.region_id,
                        "url": url,
                    }
                )
            result.append(
                {
                    "endpoints": entries,
                    "id": service.id,
                    "type": service.type,
                    "name": (service.extra or {}).get("name", ""),
                }
            )
        return result


def _substitute(url: str, values: dict[str, str | None]) -> str | None:
    """Fill ``$(project_id)s``-style placeholders; None when a value is missing."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1) or match.group(2))
        if value is None:
            missing = True
            return ""
        return value

    filled = _SUBST.sub(fill, url)
    return None if missing else filled
