"""The image service: one object holding records, members, data, quotas and the stores.

The API layer calls these; they are the only code that touches image tables and stores.
"""

from __future__ import annotations

from typing import Any

from onestack.common.config import Settings
from onestack.common.db import Database
from onestack.image.access import Caller
from onestack.image.data import ImageData
from onestack.image.drivers.filesystem import FilesystemStore
from onestack.image.members import Members
from onestack.image.metadefs import Metadefs
from onestack.image.quotas import MIB, NAMES, Quotas
from onestack.image.records import Records


class ImageService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        image = settings.image
        root = settings.image_store_dir
        self.store = FilesystemStore(root)
        self.staging = FilesystemStore(root / "staging")
        self.quotas = Quotas(image)
        self.records = Records(db, image, self.quotas, self.store.id)
        self.members = Members(db)
        self.metadefs = Metadefs(db, image.list_limit_default, image.list_limit_max)
        self.data = ImageData(db, self.quotas, self.store, self.staging, image.image_size_cap)

    def usage(self, caller: Caller) -> dict[str, Any]:
        """The caller's project's limits and usage, as /v2/info/usage shows them (sizes in
        MiB, rounded up, as the limits are)."""
        if not caller.project_id:
            return {}
        with self.db.read() as session:
            limits = self.quotas.limits_for(session, caller.project_id)
            used = self.quotas.usage(session, caller.project_id)
        result = {}
        for name in NAMES:
            usage = used[name]
            if name in ("image_size_total", "image_stage_total"):
                usage = -(-usage // MIB)
            result[name] = {"limit": getattr(limits, name), "usage": usage}
        return result

    def set_quota(self, project_id: str, values: dict[str, int | None]) -> dict[str, int]:
        with self.db.write() as session:
            limits = self.quotas.set(session, project_id, values)
        return {name: getattr(limits, name) for name in NAMES}

    def show_quota(self, project_id: str) -> dict[str, int]:
        with self.db.read() as session:
            limits = self.quotas.limits_for(session, project_id)
        return {name: getattr(limits, name) for name in NAMES}
