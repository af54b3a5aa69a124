"""Stored documents: policy blobs (/v3/policies) and per-domain configuration.

Neither changes how onestack itself behaves today: policies are opaque documents kept for
other services, and a domain configuration is stored and shown (onestack has no LDAP driver yet).
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestack.common.db import new_id
from onestack.common.errors import Forbidden, NotFound
from onestack.identity.core import IdentityCore
from onestack.identity.models import Domain, DomainConfig, Policy
from onestack.identity.util import apply_extra

# The groups and options a domain may set, with their defaults (as Keystone allows).
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_description_attribute": "description",
        "user_mail_attribute": "mail",
        "user_enabled_attribute": "enabled",
        "user_enabled_default": "True",
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_member_attribute": "member",
        "group_desc_attribute": "description",
        "use_tls": False,
        "tls_req_cert": "demand",
    },
}
SENSITIVE = {"ldap": {"password"}}


def _check(config: dict[str, Any]) -> None:
    for group, options in config.items():
        if group not in DEFAULTS:
            raise Forbidden(f"Invalid domain specific configuration: group {group} is not allowed.")
        if not isinstance(options, dict):
            raise Forbidden(f"Invalid domain specific configuration: {group} must be a mapping.")
        for option in options:
            if option not in DEFAULTS[group] and option not in SENSITIVE.get(group, set()):
                raise Forbidden(
                    f"Invalid domain specific configuration: option {option} in group {group} "
                    "is not allowed."
                )


def _visible(config: dict[str, Any]) -> dict[str, Any]:
    return {
        group: {k: v for k, v in options.items() if k not in SENSITIVE.get(group, set())}
        for group, options in config.items()
    }


class PolicyManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    @staticmethod
    def _dict(row: Policy) -> dict[str, Any]:
        return apply_extra({"id": row.id, "type": row.type, "blob": row.blob}, row.extra)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        extra = {k: v for k, v in body.items() if k not in ("id", "type", "blob", "links")}
        with self.core.write() as s:
            row = Policy(id=new_id(), type=body["type"], blob=body["blob"], extra=extra)
            s.add(row)
            s.flush()
            return self._dict(row)

    def get(self, policy_id: str) -> dict[str, Any]:
        with self.core.read() as s:
            return self._dict(self.core.get(s, Policy, policy_id, "policy"))

    def listing(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        query = select(Policy).order_by(Policy.id)
        if "type" in filters:
            query = query.where(Policy.type == filters["type"])
        with self.core.read() as s:
            return [self._dict(r) for r in s.scalars(query)]

    def update(self, policy_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.core.write() as s:
            row = self.core.get(s, Policy, policy_id, "policy")
            if "type" in body:
                row.type = body["type"]
            if "blob" in body:
                row.blob = body["blob"]
            extra = {k: v for k, v in body.items() if k not in ("id", "type", "blob", "links")}
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            s.flush()
            return self._dict(row)

    def delete(self, policy_id: str) -> None:
        with self.core.write() as s:
            s.delete(self.core.get(s, Policy, policy_id, "policy"))


class DomainConfigManager:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def _row(self, s: Session, domain_id: str) -> DomainConfig:
        self.core.get(s, Domain, domain_id, "domain")
        row = s.get(DomainConfig, domain_id)
        if row is None:
            raise NotFound(f"Could not find config for domain {domain_id}.")
        return row

    def replace(self, domain_id: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Set the whole configuration; True when there was none before."""
        _check(config)
        with self.core.write() as s:
            self.core.get(s, Domain, domain_id, "domain")
            row = s.get(DomainConfig, domain_id)
            created = row is None
            if row is None:
                row = DomainConfig(domain_id=domain_id, config=copy.deepcopy(config))
                s.add(row)
            else:
                row.config = copy.deepcopy(config)
            return _visible(config), created

    def get(
        self, domain_id: str, group: str | None = None, option: str | None = None
    ) -> dict[str, Any]:
        with self.core.read() as s:
            config = _visible(self._row(s, domain_id).config or {})
        return _pick(config, group, option, f"domain {domain_id}")

    def update(
        self,
        domain_id: str,
        config: dict[str, Any],
        group: str | None = None,
        option: str | None = None,
    ) -> dict[str, Any]:
        if group is not None:
            if option is not None:
                config = {group: {option: config.get(option)}}
            elif set(config) - {group}:
                raise Forbidden(f"Only group {group} may be changed at this address.")
        _check(config)
        with self.core.write() as s:
            row = self._row(s, domain_id)
            merged = copy.deepcopy(row.config or {})
            if group is not None and group not in merged:
                raise NotFound(f"Group {group} is not in the configuration of {domain_id}.")
            if option is not None and option not in merged.get(group or "", {}):
                raise NotFound(f"Option {option} is not in group {group} of {domain_id}.")
            for name, options in config.items():
                merged.setdefault(name, {}).update(options)
            row.config = merged
            return _visible(merged)

    def delete(self, domain_id: str, group: str | None = None, option: str | None = None) -> None:
        with self.core.write() as s:
            row = self._row(s, domain_id)
            if group is None:
                s.delete(row)
                return
            config = copy.deepcopy(row.config or {})
            if group not in config:
                raise NotFound(f"Group {group} is not in the configuration of {domain_id}.")
            if option is None:
                del config[group]
            else:
                if option not in config[group]:
                    raise NotFound(f"Option {option} is not in group {group} of {domain_id}.")
                del config[group][option]
                if not config[group]:
                    del config[group]
            row.config = config

    @staticmethod
    def defaults(group: str | None = None, option: str | None = None) -> dict[str, Any]:
        if group is not None and group not in DEFAULTS:
            raise Forbidden(f"Invalid domain specific configuration: group {group} is not allowed.")
        return _pick(copy.deepcopy(DEFAULTS), group, option, "the defaults")


def _pick(
    config: dict[str, Any], group: str | None, option: str | None, where: str
) -> dict[str, Any]:
    if group is None:
        return config
    if group not in config:
        raise NotFound(f"Group {group} is not in the configuration of {where}.")
    if option is None:
        return {group: config[group]}
    if option not in config[group]:
        raise NotFound(f"Option {option} of group {group} is not in {where}.")
    return {option: config[group][option]}
