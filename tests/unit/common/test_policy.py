"""The policy language: checks, operators, substitutions, rules, scope types, overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from onestack.common.context import AuthInfo, RequestContext
from onestack.common.errors import Forbidden
from onestack.common.policy import Enforcer, PolicySyntaxError, Rule, parse

ADMIN = {"roles": ["admin", "member"], "project_id": "p1", "user_id": "u1", "scope_type": "project"}
READER = {"roles": ["reader"], "project_id": "p2", "user_id": "u2", "scope_type": "project"}


def check(text: str, creds: dict[str, Any], target: dict[str, Any] | None = None) -> bool:
    enforcer = Enforcer()
    return parse(text)(target or {}, creds, enforcer)


@pytest.mark.parametrize(
    ("text", "creds", "expected"),
    [
        ("", READER, True),
        ("@", READER, True),
        ("!", ADMIN, False),
        ("role:admin", ADMIN, True),
        ("role:ADMIN", ADMIN, True),
        ("role:admin", READER, False),
        ("role:admin or role:reader", READER, True),
        ("role:admin and role:reader", READER, False),
        ("not role:admin", READER, True),
        ("not role:admin", ADMIN, False),
        ("(role:admin or role:member) and project_id:p1", ADMIN, True),
        ("(role:admin or role:member) and project_id:p2", ADMIN, False),
        ("not (role:reader or role:member)", ADMIN, False),
        ("role:reader and not role:admin and project_id:p2", READER, True),
    ],
)
def test_operators(text: str, creds: dict[str, Any], expected: bool) -> None:
    assert check(text, creds) is expected


def test_generic_check_against_target() -> None:
    rule = "project_id:%(target.project.id)s"
    assert check(rule, ADMIN, {"target": {"project": {"id": "p1"}}})
    assert not check(rule, ADMIN, {"target": {"project": {"id": "p9"}}})
    # A flat dotted key works as oslo.policy's flattened targets do.
    assert check(rule, ADMIN, {"target.project.id": "p1"})
    # A missing target attribute never matches.
    assert not check(rule, ADMIN, {})


def test_substitution_inside_parentheses() -> None:
    rule = "(role:reader and project_id:%(target.project.id)s) or role:admin"
    assert check(rule, READER, {"target": {"project": {"id": "p2"}}})
    assert not check(rule, READER, {"target": {"project": {"id": "p1"}}})


def test_literal_checks() -> None:
    assert check("'member':%(role.name)s", READER, {"role": {"name": "member"}})
    assert not check("'member':%(role.name)s", READER, {"role": {"name": "admin"}})
    assert check("True:%(enabled)s", READER, {"enabled": True})
    assert not check("True:%(enabled)s", READER, {"enabled": False})


def test_role_from_target() -> None:
    assert check("role:%(wanted)s", ADMIN, {"wanted": "member"})
    assert not check("role:%(wanted)s", READER, {"wanted": "member"})


def test_none_credential_never_matches() -> None:
    creds = {"roles": [], "system_scope": None}
    assert not check("system_scope:None", creds)
    assert check("system_scope:all", {"roles": [], "system_scope": "all"})


@pytest.mark.parametrize(
    "text", ["role:admin or", "(role:admin", "role:admin)", "and role:admin", "admin", "not"]
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(PolicySyntaxError):
        parse(text)


def test_rule_references_and_unknown_rules() -> None:
    enforcer = Enforcer()
    enforcer.register(
        [
            Rule("admin_required", "role:admin"),
            Rule("owner", "user_id:%(user_id)s"),
            Rule("x:get", "rule:admin_required or rule:owner"),
            Rule("x:broken", "rule:no_such_rule"),
        ]
    )
    assert enforcer.allowed("x:get", {"user_id": "u2"}, READER)
    assert not enforcer.allowed("x:get", {"user_id": "u9"}, READER)
    assert enforcer.allowed("x:get", {"user_id": "u9"}, ADMIN)
    assert not enforcer.allowed("x:broken", {}, ADMIN)
    with pytest.raises(KeyError):
        enforcer.allowed("x:unregistered", {}, ADMIN)


def test_scope_types() -> None:
    enforcer = Enforcer(enforce_scope=True)
    enforcer.register([Rule("x:system", "role:reader", scope_types=("system",))])
    system_reader = {"roles": ["reader"], "scope_type": "system", "system_scope": "all"}
    assert enforcer.allowed("x:system", {}, system_reader)
    assert not enforcer.allowed("x:system", {}, READER)
    relaxed = Enforcer(enforce_scope=False)
    relaxed.register([Rule("x:system", "role:reader", scope_types=("system",))])
    assert relaxed.allowed("x:system", {}, READER)


def test_overrides_from_yaml(tmp_path: Path) -> None:
    enforcer = Enforcer()
    enforcer.register([Rule("x:create", "role:admin")])
    assert not enforcer.allowed("x:create", {}, READER)
    policy = tmp_path / "policy.yaml"
    policy.write_text('"x:create": "role:reader"\n')
    enforcer.load_overrides(policy)
    assert enforcer.allowed("x:create", {}, READER)
    # Overrides loaded first still win over defaults registered later.
    enforcer.register([Rule("x:create", "role:admin")])
    assert enforcer.allowed("x:create", {}, READER)


def test_enforce_raises_forbidden() -> None:
    enforcer = Enforcer()
    enforcer.register([Rule("x:delete", "role:admin", scope_types=("project",))])
    auth = AuthInfo(
        user_id="u2",
        user_name="reader",
        user_domain_id="default",
        user_domain_name="Default",
        roles=("reader",),
        role_ids=("r",),
        expires_at=0,
        issued_at=0,
        audit_ids=("a",),
        methods=("password",),
        project_id="p2",
    )
    ctx = RequestContext(request_id="req-1", auth=auth)
    with pytest.raises(Forbidden) as raised:
        enforcer.enforce(ctx, "x:delete", {})
    assert raised.value.status == 403
    assert "x:delete" in raised.value.message
