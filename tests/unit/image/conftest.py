"""Shared fixtures of the image unit tests: a migrated database, image rows, store trees."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from onestack.common.db import Database
from onestack.image.models import Image, ImageMember

BASE_TIME = datetime(2026, 1, 1, 12, 0, 0, 123456)
MakeImage = Callable[..., str]


def _server_url(kind: str) -> str | None:
    """A fresh database on a local server, or None when no server is reachable."""
    name = f"onestack_img_{uuid.uuid4().hex[:8]}"
    if kind == "postgresql":
        admin = os.environ.get(
            "ONESTACK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/postgres"
        )
    else:
        admin = os.environ.get("ONESTACK_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1/mysql")
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
    except Exception:
        return None
    return admin.rsplit("/", 1)[0] + "/" + name


def _drop(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = base + ("/postgres" if url.startswith("postgresql") else "/mysql")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    engine.dispose()


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
        url = _server_url(request.param)
        if url is None:
            pytest.skip(f"no {request.param} server reachable on localhost")
    assert url is not None
    database = Database(url)
    database.upgrade(["image"])
    yield database
    database.dispose()
    if request.param != "sqlite":
        _drop(url)


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
