"""Shared fixtures of the image unit tests: a migrated database, image rows, store trees."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from onestack.common.db import Database
from onestack.image.models import Image, ImageMember
from tests.unit.dbservers import create_database, drop_database

BASE_TIME = datetime(2026, 1, 1, 12, 0, 0, 123456)
MakeImage = Callable[..., str]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """An SQLite database file with the image migrations applied."""
    database = Database(f"sqlite:///{tmp_path / 'image.db'}")
    database.upgrade(["image"])
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The image tables on SQLite, and on PostgreSQL and MariaDB when a local server runs."""
    if request.param == "sqlite":
        url: str | None = f"sqlite:///{tmp_path / 'image.db'}"
    else:
        url = create_database(request.param, "onestack_img")
        if url is None:
            pytest.skip(f"no {request.param} server reachable on localhost")
    assert url is not None
    database = Database(url)
    database.upgrade(["image"])
    yield database
    database.dispose()
    if request.param != "sqlite":
        drop_database(url)


def image_row(**values: Any) -> Image:
    """An image row with the defaults a new image gets; ``values`` override them."""
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": None,
        "status": "queued",
        "visibility": "shared",
        "owner": "project-a",
        "min_disk": 0,
        "min_ram": 0,
        "protected": False,
        "os_hidden": False,
        "created_at": BASE_TIME,
        "updated_at": BASE_TIME,
    }
    row.update(values)
    return Image(**row)


def _make_image(database: Database) -> MakeImage:
    def make(members: dict[str, str] | None = None, **values: Any) -> str:
        image = image_row(**values)
        with database.write() as session:
            session.add(image)
            session.flush()
            for project, status in (members or {}).items():
                session.add(
                    ImageMember(
                        image_id=image.id,
                        member=project,
                        status=status,
                        created_at=BASE_TIME,
                        updated_at=BASE_TIME,
                    )
                )
        return image.id

    return make


@pytest.fixture
def make_image(db: Database) -> MakeImage:
    """Insert an image row (and its members, ``{project: status}``); returns its id."""
    return _make_image(db)


@pytest.fixture
def make_any_image(any_db: Database) -> MakeImage:
    return _make_image(any_db)


def minutes(n: float) -> datetime:
    return BASE_TIME + timedelta(minutes=n)
