"""What every identity manager shares: the database, settings, and a change counter.

Every committed identity write bumps :attr:`IdentityCore.generation`; caches of derived data
(validated tokens, the catalog, effective roles) are keyed by it, so in one process a change is
visible on the next request. Other processes see it after ``token_cache_time``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestack.common.config import Settings
from onestack.common.db import Base, Database
from onestack.common.errors import Conflict, NotFound

M = TypeVar("M", bound=Base)
T = TypeVar("T")
MEMO_LIMIT = 20_000


def iso(value: datetime | None) -> str | None:
    """Keystone's timestamp format: UTC with microseconds and a Z."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class IdentityCore:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.generation = 0
        self._lock = threading.Lock()
        self.cache_time = settings.identity.token_cache_time
        self._memo: dict[tuple[Any, ...], tuple[int, float, Any]] = {}

    def memo(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """A read result, reused until identity data changes or ``cache_time`` passes.

        Callers hand out copies: the cached value is shared.
        """
        generation = self.generation
        hit = self._memo.get(key)
        if hit is not None and hit[0] == generation and time.monotonic() - hit[1] < self.cache_time:
            return hit[2]
        value = load()
        if len(self._memo) > MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = (generation, time.monotonic(), value)
        return value

    def read(self) -> Any:
        return self.db.read()

    @contextmanager
    def write(self) -> Iterator[Session]:
        try:
            with self.db.write() as session:
                yield session
        finally:
            # Bump even on failure: a partial failure must never leave a stale cache behind.
            with self._lock:
                self.generation += 1

    @staticmethod
    def key(filters: dict[str, Any]) -> tuple[Any, ...]:
        """A hashable form of a filter dict."""
        return tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in filters.items())
        )

    @staticmethod
    def check_unique(
        session: Session,
        column: Any,
        value: str,
        scope: tuple[Any, str] | None,
        exclude: tuple[Any, str] | None,
        message: str,
    ) -> None:
        """409 when another row already has ``value`` in ``column`` (within ``scope``)."""
        query = select(column).where(column == value)
        if scope is not None:
            query = query.where(scope[0] == scope[1])
        if exclude is not None:
            query = query.where(exclude[0] != exclude[1])
        if session.scalar(query.limit(1)) is not None:
            raise Conflict(message)

    @staticmethod
    def get(session: Session, model: type[M], ident: str, what: str) -> M:
        row = session.get(model, ident) if ident else None
        if row is None:
            raise NotFound(f"Could not find {what}: {ident}.")
        return row
