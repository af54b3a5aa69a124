"""Throw-away databases on the local PostgreSQL and MariaDB servers, for unit tests that run
on every backend (and skip one whose server is unreachable)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text


def create_database(kind: str, prefix: str = "onestack_ut") -> str | None:
    """The URL of a fresh database on a local ``postgresql`` or ``mysql`` server, or None
    when no server is reachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
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


def drop_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = base + ("/postgres" if url.startswith("postgresql") else "/mysql")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    engine.dispose()
