"""Revocation events: rows that cut tokens short.

An event matches a token when every field it sets equals the token's (``audit_id`` matches any
of the token's audit ids), and the token was issued before ``issued_before``. Events older than
the longest token lifetime can never match again and are pruned.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestack.common.db import Database, utcnow
from onestack.identity.models import RevocationEvent
from onestack.identity.tokens import TokenPayload


def revoke(
    session: Session,
    *,
    audit_id: str | None = None,
    audit_chain_id: str | None = None,
    user_id: str | None = None,
    project_id: str | None = None,
    domain_id: str | None = None,
    role_id: str | None = None,
    application_credential_id: str | None = None,
) -> None:
    now = utcnow()
    session.add(
        RevocationEvent(
            audit_id=audit_id,
            audit_chain_id=audit_chain_id,
            user_id=user_id,
            project_id=project_id,
            domain_id=domain_id,
            role_id=role_id,
            application_credential_id=application_credential_id,
            issued_before=now,
            revoked_at=now,
        )
    )


@dataclass(frozen=True)
class _Event:
    audit_id: str | None
    audit_chain_id: str | None
    user_id: str | None
    project_id: str | None
    domain_id: str | None
    application_credential_id: str | None
    issued_before: float


def _epoch(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp()


class RevocationList:
    """An in-memory copy of the events, refreshed when identity data changed or it got old."""

    def __init__(self, db: Database, max_age: float, token_lifetime: int) -> None:
        self.db = db
        self.max_age = max_age
        self.token_lifetime = token_lifetime
        self._by_audit: dict[str, list[_Event]] = {}
        self._others: list[_Event] = []
        self._loaded_at = 0.0
        self._generation = -1
        self._lock = threading.Lock()

    def refresh_if_needed(self, generation: int) -> None:
        if generation == self._generation and time.monotonic() - self._loaded_at < self.max_age:
            return
        with self._lock:
            if generation == self._generation and (
                time.monotonic() - self._loaded_at < self.max_age
            ):
                return
            self._load(generation)

    def _load(self, generation: int) -> None:
        loaded_at = time.monotonic()
        horizon = utcnow() - timedelta(seconds=self.token_lifetime + 60)
        by_audit: dict[str, list[_Event]] = {}
        others: list[_Event] = []
        with self.db.read() as s:
            for row in s.scalars(
                select(RevocationEvent).where(RevocationEvent.revoked_at > horizon)
            ):
                event = _Event(
                    row.audit_id,
                    row.audit_chain_id,
                    row.user_id,
                    row.project_id,
                    row.domain_id,
                    row.application_credential_id,
                    _epoch(row.issued_before),
                )
                key = row.audit_id or row.audit_chain_id
                if key:
                    by_audit.setdefault(key, []).append(event)
                else:
                    others.append(event)
        self._by_audit, self._others = by_audit, others
        self._generation, self._loaded_at = generation, loaded_at

    def is_revoked(
        self, payload: TokenPayload, project_domain_id: str | None, user_domain_id: str
    ) -> bool:
        for audit in payload.audit_ids:
            for event in self._by_audit.get(audit, ()):
                matches = event.audit_id == payload.audit_ids[0] or event.audit_chain_id == audit
                if matches and payload.issued_at <= event.issued_before:
                    return True
        for event in self._others:
            if payload.issued_at > event.issued_before:
                continue
            if event.user_id and event.user_id != payload.user_id:
                continue
            if event.project_id and event.project_id != payload.project_id:
                continue
            if event.application_credential_id and (
                event.application_credential_id != payload.application_credential_id
            ):
                continue
            if event.domain_id and event.domain_id not in (
                payload.domain_id,
                project_domain_id,
                user_domain_id,
            ):
                continue
            return True
        return False

    def prune(self) -> int:
        horizon = utcnow() - timedelta(seconds=self.token_lifetime + 60)
        with self.db.write() as s:
            result = s.execute(delete(RevocationEvent).where(RevocationEvent.revoked_at < horizon))
            return int(getattr(result, "rowcount", 0) or 0)
