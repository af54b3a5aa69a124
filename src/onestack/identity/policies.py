"""Identity policy defaults, in the spirit of Keystone's: admin, member and reader personas.

``admin`` anywhere is a cloud administrator (as in Keystone's defaults, for compatibility);
``reader`` with system scope may read everything; domain readers see their domain; users see
and manage what is their own. Operators override any rule from the policy file.
"""

from __future__ import annotations

from onestack.common.policy import Rule

ALL = ("system", "domain", "project")
SYSTEM_READER = "(role:reader and system_scope:all)"
ADMIN_OR_SYSTEM_READER = f"rule:admin_required or {SYSTEM_READER}"


def domain_reader(attr: str) -> str:
    return f"(role:reader and domain_id:%({attr})s)"


def domain_admin(attr: str) -> str:
    return f"(role:admin and domain_id:%({attr})s)"


def _crud(
    name: str, read: str, write: str, *, plural: str | None = None, extra_ops: tuple[str, ...] = ()
) -> list[Rule]:
    plural = plural or f"{name}s"
    rules = [
        Rule(f"identity:get_{name}", read, f"Show a {name}.", ALL),
        Rule(f"identity:list_{plural}", read, f"List {plural}.", ALL),
        Rule(f"identity:create_{name}", write, f"Create a {name}.", ALL),
        Rule(f"identity:update_{name}", write, f"Update a {name}.", ALL),
        Rule(f"identity:delete_{name}", write, f"Delete a {name}.", ALL),
    ]
    rules += [Rule(f"identity:{op}", write, "", ALL) for op in extra_ops]
    return rules


RULES: list[Rule] = [
    Rule("admin_required", "role:admin or is_admin:1", "A cloud administrator."),
    Rule("service_role", "role:service", "A service user."),
    Rule("service_or_admin", "rule:admin_required or rule:service_role"),
    Rule("owner", "user_id:%(user_id)s", "The user the request is about."),
    Rule("admin_or_owner", "rule:admin_required or rule:owner"),
    Rule("token_subject", "user_id:%(target.token.user_id)s", "The token's own user."),
    Rule("admin_or_token_subject", "rule:admin_required or rule:token_subject"),
    Rule("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject"),
    # tokens and the auth API
    Rule(
        "identity:validate_token",
        f"rule:service_admin_or_token_subject or {SYSTEM_READER}",
        "Validate a token.",
        ALL,
    ),
    Rule(
        "identity:check_token",
        f"rule:admin_or_token_subject or {SYSTEM_READER}",
        "Check a token.",
        ALL,
    ),
    Rule("identity:revoke_token", "rule:admin_or_token_subject", "Revoke a token.", ALL),
    Rule("identity:get_auth_catalog", "", "The catalog for the token's scope."),
    Rule("identity:get_auth_projects", "", "Projects the token's user may scope to."),
    Rule("identity:get_auth_domains", "", "Domains the token's user may scope to."),
    Rule("identity:get_auth_system", "", "System scopes the token's user may take."),
    # domains
    Rule(
        "identity:get_domain",
        f"{ADMIN_OR_SYSTEM_READER} or domain_id:%(target.domain.id)s"
        " or project_domain_id:%(target.domain.id)s",
        "Show a domain.",
        ALL,
    ),
    Rule("identity:list_domains", ADMIN_OR_SYSTEM_READER, "List domains.", ALL),
    Rule("identity:create_domain", "rule:admin_required", "Create a domain.", ALL),
    Rule("identity:update_domain", "rule:admin_required", "Update a domain.", ALL),
    Rule("identity:delete_domain", "rule:admin_required", "Delete a domain.", ALL),
    # projects
    Rule(
        "identity:get_project",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.project.domain_id')}"
        " or project_id:%(target.project.id)s",
        "Show a project.",
        ALL,
    ),
    Rule(
        "identity:list_projects",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain_id')}",
        "List projects.",
        ALL,
    ),
    Rule(
        "identity:list_user_projects",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.user.domain_id')}"
        " or user_id:%(target.user.id)s",
        "List the projects of a user.",
        ALL,
    ),
    *[
        Rule(
            f"identity:{op}_project",
            f"rule:admin_required or {domain_admin('target.project.domain_id')}",
            f"{op.capitalize()} a project.",
            ALL,
        )
        for op in ("create", "update", "delete")
    ],
    *[
        Rule(
            f"identity:{op}",
            f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.project.domain_id')}"
            " or project_id:%(target.project.id)s",
            "Read project tags.",
            ALL,
        )
        for op in ("list_project_tags", "get_project_tag")
    ],
    *[
        Rule(
            f"identity:{op}",
            f"rule:admin_required or {domain_admin('target.project.domain_id')}"
            " or (role:admin and project_id:%(target.project.id)s)",
            "Change project tags.",
            ALL,
        )
        for op in (
            "update_project_tags",
            "create_project_tag",
            "delete_project_tag",
            "delete_project_tags",
        )
    ],
    # users
    Rule(
        "identity:get_user",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.user.domain_id')}"
        " or user_id:%(target.user.id)s",
        "Show a user.",
        ALL,
    ),
    Rule(
        "identity:list_users",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain_id')}",
        "List users.",
        ALL,
    ),
    *[
        Rule(
            f"identity:{op}_user",
            f"rule:admin_required or {domain_admin('target.user.domain_id')}",
            f"{op.capitalize()} a user.",
            ALL,
        )
        for op in ("create", "update", "delete")
    ],
    Rule("identity:change_password", "", "Change one's own password (checks the old one)."),
    # groups
    Rule(
        "identity:get_group",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.group.domain_id')}",
        "Show a group.",
        ALL,
    ),
    Rule(
        "identity:list_groups",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain_id')}",
        "List groups.",
        ALL,
    ),
    Rule(
        "identity:list_groups_for_user",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.user.domain_id')}"
        " or user_id:%(user_id)s",
        "List the groups of a user.",
        ALL,
    ),
    Rule(
        "identity:list_users_in_group",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.group.domain_id')}",
        "List the members of a group.",
        ALL,
    ),
    Rule(
        "identity:check_user_in_group",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.group.domain_id')}",
        "Check membership.",
        ALL,
    ),
    *[
        Rule(
            f"identity:{op}",
            f"rule:admin_required or {domain_admin('target.group.domain_id')}",
            "Change a group or its members.",
            ALL,
        )
        for op in (
            "create_group",
            "update_group",
            "delete_group",
            "add_user_to_group",
            "remove_user_from_group",
        )
    ],
    # roles, domain roles, implied roles
    *_crud("role", ADMIN_OR_SYSTEM_READER, "rule:admin_required"),
    *_crud("domain_role", ADMIN_OR_SYSTEM_READER, "rule:admin_required"),
    Rule("identity:get_implied_role", ADMIN_OR_SYSTEM_READER, "Show an inference rule.", ALL),
    Rule("identity:list_implied_roles", ADMIN_OR_SYSTEM_READER, "List implied roles.", ALL),
    Rule("identity:list_role_inference_rules", ADMIN_OR_SYSTEM_READER, "List rules.", ALL),
    Rule("identity:check_implied_role", ADMIN_OR_SYSTEM_READER, "Check a rule.", ALL),
    Rule("identity:create_implied_role", "rule:admin_required", "Create a rule.", ALL),
    Rule("identity:delete_implied_role", "rule:admin_required", "Delete a rule.", ALL),
    # grants and assignments
    Rule(
        "identity:check_grant",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain.id')}"
        f" or {domain_reader('target.project.domain_id')}",
        "Check a role grant.",
        ALL,
    ),
    Rule(
        "identity:list_grants",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain.id')}"
        f" or {domain_reader('target.project.domain_id')}",
        "List role grants.",
        ALL,
    ),
    *[
        Rule(
            f"identity:{op}",
            f"rule:admin_required or {domain_admin('target.domain.id')}"
            f" or {domain_admin('target.project.domain_id')}",
            "Grant or revoke a role.",
            ALL,
        )
        for op in ("create_grant", "revoke_grant")
    ],
    Rule(
        "identity:list_role_assignments",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.domain_id')}",
        "List role assignments.",
        ALL,
    ),
    Rule(
        "identity:list_role_assignments_for_tree",
        f"{ADMIN_OR_SYSTEM_READER} or {domain_reader('target.project.domain_id')}"
        " or (role:admin and project_id:%(target.project.id)s)",
        "List role assignments of a project tree.",
        ALL,
    ),
    Rule("identity:list_system_grants_for_user", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:check_system_grant_for_user", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:create_system_grant_for_user", "rule:admin_required", "", ALL),
    Rule("identity:revoke_system_grant_for_user", "rule:admin_required", "", ALL),
    Rule("identity:list_system_grants_for_group", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:check_system_grant_for_group", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:create_system_grant_for_group", "rule:admin_required", "", ALL),
    Rule("identity:revoke_system_grant_for_group", "rule:admin_required", "", ALL),
    # catalog
    Rule("identity:get_region", "", "Show a region.", ALL),
    Rule("identity:list_regions", "", "List regions.", ALL),
    Rule("identity:create_region", "rule:admin_required", "Create a region.", ALL),
    Rule("identity:update_region", "rule:admin_required", "Update a region.", ALL),
    Rule("identity:delete_region", "rule:admin_required", "Delete a region.", ALL),
    *_crud("service", ADMIN_OR_SYSTEM_READER, "rule:admin_required"),
    *_crud("endpoint", ADMIN_OR_SYSTEM_READER, "rule:admin_required"),
    # credentials
    *[
        Rule(
            f"identity:{op}",
            f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s",
            "Read credentials.",
            ALL,
        )
        for op in ("get_credential", "list_credentials")
    ],
    *[
        Rule(
            f"identity:{op}",
            "rule:admin_required or user_id:%(target.credential.user_id)s",
            "Change credentials.",
            ALL,
        )
        for op in ("create_credential", "update_credential", "delete_credential")
    ],
    # application credentials
    *[
        Rule(f"identity:{op}", f"{ADMIN_OR_SYSTEM_READER} or rule:owner", "", ALL)
        for op in ("get_application_credential", "list_application_credentials")
    ],
    Rule("identity:create_application_credential", "rule:owner", "", ALL),
    Rule("identity:list_access_rules", f"{ADMIN_OR_SYSTEM_READER} or rule:owner", "", ALL),
    Rule("identity:get_access_rule", f"{ADMIN_OR_SYSTEM_READER} or rule:owner", "", ALL),
    Rule("identity:delete_access_rule", "rule:admin_required or rule:owner", "", ALL),
    # EC2 credentials
    Rule("identity:ec2_list_credentials", f"{ADMIN_OR_SYSTEM_READER} or rule:owner", "", ALL),
    Rule("identity:ec2_get_credential", f"{ADMIN_OR_SYSTEM_READER} or rule:owner", "", ALL),
    Rule("identity:ec2_create_credential", "rule:admin_required or rule:owner", "", ALL),
    Rule("identity:ec2_delete_credential", "rule:admin_required or rule:owner", "", ALL),
    # policy documents and domain configuration
    *_crud("policy", ADMIN_OR_SYSTEM_READER, "rule:admin_required", plural="policies"),
    Rule("identity:get_domain_config", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:get_domain_config_default", ADMIN_OR_SYSTEM_READER, "", ALL),
    Rule("identity:create_domain_config", "rule:admin_required", "", ALL),
    Rule("identity:update_domain_config", "rule:admin_required", "", ALL),
    Rule("identity:delete_domain_config", "rule:admin_required", "", ALL),
    Rule("identity:delete_application_credential", "rule:admin_required or rule:owner", "", ALL),
]
