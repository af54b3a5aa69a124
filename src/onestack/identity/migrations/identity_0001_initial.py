"""identity: the first tables

Revision ID: identity_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = None
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_application_credential",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("system", sa.String(length=16), nullable=True),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("unrestricted", sa.Boolean(), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("access_rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_app_cred_user_name"),
    )
    op.create_index(
        op.f("ix_identity_application_credential_user_id"),
        "identity_application_credential",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "identity_credential",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("encrypted_blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_identity_credential_user_id"), "identity_credential", ["user_id"], unique=False
    )
    op.create_table(
        "identity_domain",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "identity_region",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_region_id", sa.String(length=255), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_revocation_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.String(length=32), nullable=True),
        sa.Column("audit_chain_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("domain_id", sa.String(length=64), nullable=True),
        sa.Column("role_id", sa.String(length=64), nullable=True),
        sa.Column("application_credential_id", sa.String(length=64), nullable=True),
        sa.Column("issued_before", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_identity_revocation_event_audit_id"),
        "identity_revocation_event",
        ["audit_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identity_revocation_event_revoked_at"),
        "identity_revocation_event",
        ["revoked_at"],
        unique=False,
    )
    op.create_table(
        "identity_role",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "domain_id", name="uq_role_name_domain"),
    )
    op.create_table(
        "identity_service",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_identity_service_type"), "identity_service", ["type"], unique=False)
    op.create_table(
        "identity_assignment",
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.Column("inherited", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["identity_role.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("type", "actor_id", "target_id", "role_id", "inherited"),
    )
    op.create_index("ix_assignment_actor", "identity_assignment", ["actor_id"], unique=False)
    op.create_index("ix_assignment_role", "identity_assignment", ["role_id"], unique=False)
    op.create_index("ix_assignment_target", "identity_assignment", ["target_id"], unique=False)
    op.create_table(
        "identity_endpoint",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("region_id", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["identity_service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_identity_endpoint_service_id"), "identity_endpoint", ["service_id"], unique=False
    )
    op.create_table(
        "identity_group",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "name", name="uq_group_domain_name"),
    )
    op.create_index(
        op.f("ix_identity_group_domain_id"), "identity_group", ["domain_id"], unique=False
    )
    op.create_table(
        "identity_implied_role",
        sa.Column("prior_role_id", sa.String(length=64), nullable=False),
        sa.Column("implied_role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["implied_role_id"], ["identity_role.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prior_role_id"], ["identity_role.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("prior_role_id", "implied_role_id"),
    )
    op.create_table(
        "identity_project",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["identity_project.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "name", name="uq_project_domain_name"),
    )
    op.create_index(
        op.f("ix_identity_project_domain_id"), "identity_project", ["domain_id"], unique=False
    )
    op.create_index(
        op.f("ix_identity_project_parent_id"), "identity_project", ["parent_id"], unique=False
    )
    op.create_table(
        "identity_user",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_project_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("password_created_at", sa.DateTime(), nullable=True),
        sa.Column("password_expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_active_at", sa.DateTime(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domain.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "name", name="uq_user_domain_name"),
    )
    op.create_index(
        op.f("ix_identity_user_domain_id"), "identity_user", ["domain_id"], unique=False
    )
    op.create_table(
        "identity_membership",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["identity_group.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["identity_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "group_id"),
    )
    op.create_index(
        op.f("ix_identity_membership_group_id"), "identity_membership", ["group_id"], unique=False
    )
    op.create_table(
        "identity_project_tag",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["identity_project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "name"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop an index a foreign key uses).
    op.drop_table("identity_project_tag")
    op.drop_table("identity_membership")
    op.drop_table("identity_user")
    op.drop_table("identity_project")
    op.drop_table("identity_implied_role")
    op.drop_table("identity_group")
    op.drop_table("identity_endpoint")
    op.drop_table("identity_assignment")
    op.drop_table("identity_service")
    op.drop_table("identity_role")
    op.drop_table("identity_revocation_event")
    op.drop_table("identity_region")
    op.drop_table("identity_domain")
    op.drop_table("identity_credential")
    op.drop_table("identity_application_credential")
