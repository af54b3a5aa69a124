"""Per-project image quotas: image count, total bytes, bytes staged, uploads at once.

Limits come from the operator's per-project row (``onestack image-quota set``) or else from
the configured defaults; -1 is unlimited. Sizes are configured in MiB, as Glance's unified
limits are. A claim locks the project's quota row first (SELECT ... FOR UPDATE on database
servers; SQLite serializes writers anyway), so two concurrent requests cannot both take the
last of a quota.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestack.common.config import ImageSettings
from onestack.common.errors import PayloadTooLarge
from onestack.image.models import Image, ImageQuota

MIB = 1024 * 1024
NAMES = ("image_count_total", "image_size_total", "image_stage_total", "image_count_uploading")
UNLIMITED = -1


@dataclass(frozen=True)
class Limits:
    image_count_total: int
    image_size_total: int  # MiB
    image_stage_total: int  # MiB
    image_count_uploading: int


class Quotas:
    def __init__(self, settings: ImageSettings) -> None:
        self.settings = settings

    def lock(self, session: Session, project_id: str) -> ImageQuota:
        """The project's quota row, created when missing, locked for this transaction."""
        row = session.scalars(
            select(ImageQuota).where(ImageQuota.project_id == project_id).with_for_update()
        ).first()
        if row is None:
            # Two first claims of a project may race to create the row: one insert wins,
            # the other finds and locks the winner's row.
            try:
                with session.begin_nested():
                    session.add(ImageQuota(project_id=project_id))
            except IntegrityError:
                pass
            row = session.scalars(
                select(ImageQuota).where(ImageQuota.project_id == project_id).with_for_update()
            ).one()
        return row

    def limits(self, row: ImageQuota | None) -> Limits:
        values = {}
        for name in NAMES:
            override = getattr(row, name) if row is not None else None
            values[name] = int(override if override is not None else getattr(self.settings, name))
        return Limits(**values)

    def limits_for(self, session: Session, project_id: str) -> Limits:
        return self.limits(session.get(ImageQuota, project_id))

    def usage(self, session: Session, project_id: str) -> dict[str, int]:
        count, total, staged = session.execute(
            select(
                func.count(Image.id),
                func.coalesce(func.sum(Image.size), 0),
                func.coalesce(func.sum(Image.staged_size), 0),
            ).where(Image.owner == project_id)
        ).one()
        uploading = session.scalar(
            select(func.count(Image.id)).where(
                Image.owner == project_id, Image.status.in_(("saving", "uploading", "importing"))
            )
        )
        return {
            "image_count_total": int(count),
            "image_size_total": int(total or 0),
            "image_stage_total": int(staged or 0),
            "image_count_uploading": int(uploading or 0),
        }

    def check_count(self, session: Session, project_id: str) -> None:
        """Before a new image: 413 when the project has as many as it may."""
        limits = self.limits(self.lock(session, project_id))
        if limits.image_count_total == UNLIMITED:
            return
        count = session.scalar(select(func.count(Image.id)).where(Image.owner == project_id))
        if (count or 0) >= limits.image_count_total:
            raise PayloadTooLarge(
                f"Quota exceeded: image_count_total is {limits.image_count_total} "
                f"and the project has {count} images."
            )

    def data_allowance(self, session: Session, project_id: str, staging: bool) -> int | None:
        """Before data is received: how many more bytes the project may store (None when
        unlimited); 413 when it may start no upload now."""
        limits = self.limits(self.lock(session, project_id))
        used = self.usage(session, project_id)
        if (
            limits.image_count_uploading != UNLIMITED
            and used["image_count_uploading"] >= limits.image_count_uploading
        ):
            raise PayloadTooLarge(
                f"Quota exceeded: image_count_uploading is {limits.image_count_uploading}."
            )
        allowances: list[int] = []
        if limits.image_size_total != UNLIMITED:
            allowances.append(limits.image_size_total * MIB - used["image_size_total"])
        if staging and limits.image_stage_total != UNLIMITED:
            allowances.append(limits.image_stage_total * MIB - used["image_stage_total"])
        if not allowances:
            return None
        allowance = min(allowances)
        if allowance <= 0:
            raise PayloadTooLarge(
                "Quota exceeded: the project's images already use all of its image storage."
            )
        return allowance

    def check_size(self, session: Session, project_id: str, size: int, staging: bool) -> None:
        """When data is complete, before it is committed: ``size`` more bytes fit (re-checked
        under the lock, because other uploads may have finished meanwhile)."""
        limits = self.limits(self.lock(session, project_id))
        used = self.usage(session, project_id)
        size_limit = limits.image_size_total
        if size_limit != UNLIMITED and used["image_size_total"] + size > size_limit * MIB:
            raise PayloadTooLarge(f"Quota exceeded: image_size_total is {size_limit} MiB.")
        stage_limit = limits.image_stage_total
        if (
            staging
            and stage_limit != UNLIMITED
            and used["image_stage_total"] + size > stage_limit * MIB
        ):
            raise PayloadTooLarge(f"Quota exceeded: image_stage_total is {stage_limit} MiB.")

    def set(self, session: Session, project_id: str, values: dict[str, int | None]) -> Limits:
        row = self.lock(session, project_id)
        for name, value in values.items():
            if name not in NAMES:
                raise KeyError(name)
            setattr(row, name, value)
        session.flush()
        return self.limits(row)
