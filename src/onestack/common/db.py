"""The database: engine, sessions, and migrations.

Services use :meth:`Database.read` and :meth:`Database.write`. On SQLite a write transaction
starts with ``BEGIN IMMEDIATE`` so that two writers queue on the lock (with a busy timeout)
instead of one failing with "database is locked" when it upgrades a read lock.
"""

from __future__ import annotations

import functools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, DateTime, Engine, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")


def _sqlite_table_hint(_compiler: Any, _table: Any, text: str | None) -> str | None:
    return text


# SQLite understands "FROM t INDEXED BY ix", but SQLAlchemy's SQLite compiler drops table hints
# (``Select.with_hint(..., "sqlite")``). Rendering them lets a query pin the index SQLite's
# planner would otherwise pass over (see image/listing.py for the case: 0.5 ms instead of 80).
SQLiteCompiler.get_from_hint_text = _sqlite_table_hint  # type: ignore[method-assign,assignment]


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(), dict[str, Any]: JSON()}


def utcnow() -> datetime:
    """Naive UTC: every database stores it the same way."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN itself.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("onestack_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    def __init__(self, url: str, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False}
            kwargs["pool_size"] = pool_size
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = True
            kwargs["pool_recycle"] = 3600
        self.engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer; queueing writers here is cheaper than spinning on the lock.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        # Closing (not rolling back) keeps loaded rows readable after the block.
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._sessions() as session:
                # The option reaches the "begin" hook, which then takes the write lock first.
                session.connection(execution_options={"onestack_write": True})
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if lock is not None:
                lock.release()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations -------------------------------------------------------------------------

    def alembic_config(self, services: list[str]) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        locations = [str(Path(__file__).parent.parent / s / "migrations") for s in services]
        config.set_main_option("version_locations", " ".join(locations))
        config.set_main_option("path_separator", "space")
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self, services: list[str], revision: str = "heads") -> None:
        command.upgrade(self.alembic_config(services), revision)

    def downgrade(self, services: list[str], revision: str = "base") -> None:
        command.downgrade(self.alembic_config(services), revision)


# Errors after which the same transaction, run again, can succeed: MySQL/MariaDB deadlock
# (1213) and lock wait timeout (1205); PostgreSQL deadlock (40P01) and serialization failure
# (40001).
RETRYABLE_MYSQL = {1205, 1213}
RETRYABLE_PGCODES = {"40P01", "40001"}


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in RETRYABLE_PGCODES:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return len(args) > 0 and args[0] in RETRYABLE_MYSQL


def retrying(func: Callable[..., T], attempts: int = 5) -> Callable[..., T]:
    """``func`` (one whole write transaction, nothing else) run again when the database
    chose it as a deadlock victim, after a short random pause."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> T:
        for attempt in range(attempts):
            try:
                return func(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == attempts - 1 or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    return run


def null_pool_engine(url: str) -> Engine:
    """An engine that keeps no connections, for one-off tools."""
    return create_engine(url, poolclass=NullPool)
