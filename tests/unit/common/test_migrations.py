"""Migrations upgrade an empty database, match the models, and downgrade to nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import onestack.identity.models
import onestack.image.models  # noqa: F401
from onestack.common.db import Base, Database
from tests.unit.dbservers import create_database, drop_database

SERVICES = ["identity", "image"]


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url: str | None = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        url = create_database(request.param, "onestack_mig")
        if url is None:
            pytest.skip(f"no {request.param} server reachable on localhost")
    assert url is not None
    db = Database(url)
    yield db
    db.dispose()
    if request.param != "sqlite":
        drop_database(url)


def test_upgrade_matches_models_and_downgrades(database: Database) -> None:
    database.upgrade(SERVICES)
    tables = set(inspect(database.engine).get_table_names())
    assert {"identity_user", "identity_project", "identity_assignment"} <= tables
    assert {"image_image", "image_member", "image_quota", "image_deleted"} <= tables
    assert {
        "image_metadef_namespace",
        "image_metadef_resource_type",
        "image_metadef_resource_type_assoc",
        "image_metadef_object",
        "image_metadef_property",
        "image_metadef_tag",
    } <= tables
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    database.upgrade(SERVICES)  # a second upgrade is a no-op
    database.downgrade(SERVICES)
    left = set(inspect(database.engine).get_table_names()) - {"alembic_version"}
    assert left == set()


def test_upgrade_keeps_existing_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'keep.db'}")
    db.upgrade(SERVICES)
    with db.write() as s:
        s.execute(
            text(
                "INSERT INTO identity_domain (id, name, enabled, extra, options, created_at,"
                " updated_at) VALUES ('d', 'D', 1, '{}', '{}', '2026-01-01', '2026-01-01')"
            )
        )
    db.upgrade(SERVICES)
    with db.read() as s:
        assert s.execute(text("SELECT name FROM identity_domain")).scalar() == "D"
    db.dispose()
