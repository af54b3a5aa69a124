"""Image data: upload, staging and import, download, and reconciling the store at start.

An upload moves an image queued → saving → active. The record is marked ``saving`` (with the
writing process as ``upload_owner``) before any byte is accepted; the data is streamed to a
temporary file and fsynced under its final name before the record becomes ``active`` with
its size and checksums. Any failure (a dropped connection, a size or checksum mismatch, a
quota) removes the data and puts the image back to ``queued``. A crash leaves a ``saving``
record and perhaps a file: the next start resets the record and removes the file.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from onestack.common.db import Database, retrying, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, Gone
from onestack.image.access import Caller, find_image
from onestack.image.drivers.base import Store, StoreWriter
from onestack.image.models import Image, ImageTask
from onestack.image.pipeline import HASH_ALGO, Transferred
from onestack.image.quotas import Quotas
from onestack.image.records import Check, target
from onestack.image.views import isotime

log = logging.getLogger(__name__)

IMPORT_METHODS = ("glance-direct",)
TASK_LIFETIME = timedelta(hours=48)  # as Glance's task_time_to_live
BUSY = ("saving", "importing")


def process_owner() -> str:
    """This process, as recorded on the images it is writing: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}".replace(".", "_")


def owner_is_live(owner: str | None, me: str) -> bool:
    """Whether the process that recorded ``owner`` may still be writing. A process on another
    host may be: only the uploads of dead processes on this host are reclaimed."""
    if not owner:
        return False
    if owner == me:
        return True
    host, _, pid = owner.rpartition("-")
    if host != me.rpartition("-")[0]:
        return True
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Transfer:
    """One upload or staging in progress."""

    image_id: str
    max_bytes: int | None
    writer: StoreWriter
    staging: bool
    task_id: str | None = None


@dataclass
class Download:
    location: str
    size: int
    checksum: str | None


class ImageData:
    def __init__(
        self,
        db: Database,
        quotas: Quotas,
        store: Store,
        staging: Store,
        size_cap: int,
    ) -> None:
        self.db = db
        self.quotas = quotas
        self.store = store
        self.staging = staging
        self.size_cap = size_cap
        self.owner = process_owner()

    # -- upload and stage --------------------------------------------------------------------

    @retrying
    def begin(self, caller: Caller, image_id: str, check: Check, staging: bool) -> Transfer:
        """Claim the image for new data (queued → saving, or → uploading when staging)."""
        writer = (self.staging if staging else self.store).writer(image_id, self.owner)
        try:
            with self.db.write() as session:
                image = find_image(session, caller, image_id, lock=True)
                check("image:import_image" if staging else "image:upload_image", target(image))
                if image.status != "queued":
                    raise Conflict(
                        f"Image status transition from {image.status} to "
                        f"{'uploading' if staging else 'saving'} is not allowed"
                    )
                if not staging and (not image.disk_format or not image.container_format):
                    raise BadRequest(
                        "Properties disk_format, container_format must be set prior to saving data."
                    )
                limit = self.size_cap
                if image.owner:
                    allowance = self.quotas.data_allowance(session, image.owner, staging)
                    if allowance is not None:
                        limit = min(limit, allowance)
                image.status = "uploading" if staging else "saving"
                image.upload_owner = self.owner
                image.updated_at = utcnow()
                return Transfer(image_id, limit, writer, staging)
        except BaseException:
            writer.abort()
            raise

    def finish(self, transfer: Transfer, data: Transferred) -> None:
        """Commit the data and make the image active (or, when staging, staged)."""
        location = transfer.writer.commit()
        store = self.staging if transfer.staging else self.store
        try:
            with self.db.write() as session:
                image = session.get(Image, transfer.image_id, with_for_update=True)
                expected = "uploading" if transfer.staging else "saving"
                if image is None:
                    raise Gone("The image was deleted while its data was being uploaded.")
                if image.status != expected or image.upload_owner != self.owner:
                    raise Conflict("The image changed while its data was being uploaded.")
                if image.owner:
                    self.quotas.check_size(session, image.owner, data.size, transfer.staging)
                image.upload_owner = None
                image.updated_at = utcnow()
                if transfer.staging:
                    image.staged_size = data.size
                    return
                self._activate(image, location, data)
        except BaseException:
            store.delete(location)
            raise

    def _activate(self, image: Image, location: str, data: Transferred) -> None:
        image.status = "active"
        image.location = location
        image.size = data.size
        image.checksum = data.checksum
        image.os_hash_algo = HASH_ALGO
        image.os_hash_value = data.os_hash_value
        image.virtual_size = data.sniffer.virtual_size(image.disk_format, data.size)

    def fail(self, transfer: Transfer) -> None:
        """Throw away the data of a failed transfer and put the image back to queued."""
        transfer.writer.abort()
        self._reset(transfer.image_id, "uploading" if transfer.staging else "saving")

    @retrying
    def _reset(self, image_id: str, status: str) -> None:
        with self.db.write() as session:
            image = session.get(Image, image_id, with_for_update=True)
            if image is not None and image.status == status and image.upload_owner == self.owner:
                image.status = "queued"
                image.upload_owner = None
                image.updated_at = utcnow()

    # -- import (glance-direct) ---------------------------------------------------------------

    @retrying
    def begin_import(
        self, caller: Caller, image_id: str, body: dict[str, Any], request_id: str, check: Check
    ) -> Transfer:
        method = body.get("method")
        if not isinstance(method, dict) or not isinstance(method.get("name"), str):
            raise BadRequest("The import request needs a 'method' object with a 'name'.")
        name = method["name"]
        if name not in IMPORT_METHODS:
            raise BadRequest(f"Import method {name} is not supported at this site.")
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:import_image", target(image))
            if image.status != "uploading" or image.upload_owner is not None:
                raise Conflict(
                    f"Image {image_id} needs to be staged before the glance-direct method "
                    f"can be used (its status is {image.status})."
                )
            if not image.disk_format or not image.container_format:
                raise BadRequest(
                    "Properties disk_format, container_format must be set prior to import."
                )
            image.status = "importing"
            image.upload_owner = self.owner
            now = utcnow()
            image.updated_at = now
            owner = image.owner
            task_id = str(uuid.uuid4())
            session.add(
                ImageTask(
                    id=task_id,
                    image_id=image_id,
                    type="api_image_import",
                    status="processing",
                    owner=owner,
                    user_id=caller.user_id,
                    request_id=request_id,
                    input={
                        "image_id": image_id,
                        "import_req": body,
                        "backend": [self.store.id],
                    },
                    message="",
                    created_at=now,
                    updated_at=now,
                    expires_at=now + TASK_LIFETIME,
                )
            )
        try:
            writer = self.store.writer(image_id, self.owner)
        except BaseException as exc:
            self.fail_import_record(image_id, task_id, str(exc))
            raise
        return Transfer(image_id, None, writer, False, task_id)

    def staged_location(self, image_id: str) -> str:
        return self.staging.location_for(image_id)

    def finish_import(self, transfer: Transfer, data: Transferred) -> None:
        location = transfer.writer.commit()
        try:
            with self.db.write() as session:
                image = session.get(Image, transfer.image_id, with_for_update=True)
                if image is None:
                    raise Gone("The image was deleted while it was being imported.")
                if image.status != "importing" or image.upload_owner != self.owner:
                    raise Conflict("The image changed while it was being imported.")
                image.upload_owner = None
                image.staged_size = None
                image.updated_at = utcnow()
                self._activate(image, location, data)
                self._end_task(session, transfer.task_id, "success", "Import complete")
        except BaseException:
            self.store.delete(location)
            raise
        self.staging.delete(self.staged_location(transfer.image_id))

    def fail_import(self, transfer: Transfer, reason: str) -> None:
        transfer.writer.abort()
        self.fail_import_record(transfer.image_id, transfer.task_id, reason)

    @staticmethod
    def _end_task(session: Any, task_id: str | None, status: str, message: str) -> None:
        task = session.get(ImageTask, task_id) if task_id else None
        if task is not None:
            task.status = status
            task.message = message
            task.updated_at = utcnow()
            if status == "success":
                task.result = {"image_id": task.image_id}

    @retrying
    def fail_import_record(self, image_id: str, task_id: str | None, reason: str) -> None:
        """Back to staged (the staged data is still there) so the import can be retried."""
        with self.db.write() as session:
            self._end_task(session, task_id, "failure", reason[:1000])
            image = session.get(Image, image_id, with_for_update=True)
            if image is not None and image.status == "importing":
                image.status = "uploading"
                image.upload_owner = None
                image.updated_at = utcnow()

    def tasks(self, caller: Caller, image_id: str, check: Check) -> list[dict[str, Any]]:
        with self.db.read() as session:
            image = find_image(session, caller, image_id)
            check("image:get_image", target(image))
            rows = session.scalars(
                select(ImageTask)
                .where(ImageTask.image_id == image_id)
                .order_by(ImageTask.created_at)
            )
            return [task_view(task) for task in rows]

    # -- download ---------------------------------------------------------------------------

    def download(self, caller: Caller, image_id: str, check: Check) -> Download | None:
        """Where the data is, or None when the image has none (yet)."""
        with self.db.read() as session:
            image = find_image(session, caller, image_id)
            check("image:download_image", target(image))
            if image.status == "deactivated" and not caller.is_admin:
                raise Forbidden(
                    "The requested image has been deactivated. Image data download is forbidden."
                )
            if not image.location or image.size is None:
                return None
            return Download(image.location, image.size, image.checksum)

    # -- after a delete, and at start ------------------------------------------------------------

    def remove(self, locations: list[str], image_id: str) -> None:
        for location in locations:
            self.store.delete(location)
        self.staging.delete(self.staged_location(image_id))

    def reconcile(self) -> dict[str, int]:
        """Make the store and the records agree after a crash: reset uploads and imports of
        dead processes, and remove files no image refers to."""
        counts = {"reset": 0, "orphans": 0, "temporary": 0}
        # The store is listed before the records are read: a file another live process commits
        # after the listing is not looked at, and one committed before it belongs to a record
        # that is either still busy (upload_owner set) or already refers to it.
        stored = list(self.store.locations())
        staged_files = list(self.staging.locations())
        with self.db.write() as session:
            rows = session.scalars(
                select(Image).where(Image.status.in_((*BUSY, "uploading")))
            ).all()
            for image in rows:
                if image.upload_owner is None or owner_is_live(image.upload_owner, self.owner):
                    continue
                staged = self.staging.size(self.staged_location(image.id)) is not None
                if image.status == "importing" and staged:
                    image.status = "uploading"
                else:
                    image.status = "queued"
                    image.staged_size = None
                image.upload_owner = None
                image.updated_at = utcnow()
                counts["reset"] += 1
            busy = {
                image_id
                for image_id, owner in session.execute(
                    select(Image.id, Image.upload_owner).where(Image.upload_owner.is_not(None))
                )
                if owner_is_live(owner, self.owner)
            }
            referenced = set(
                session.scalars(select(Image.location).where(Image.location.is_not(None)))
            )
            staged_ids = set(
                session.scalars(
                    select(Image.id).where(Image.status.in_(("uploading", "importing")))
                )
            )
        for location in stored:
            image_id = location.rpartition("/")[2]
            if location not in referenced and image_id not in busy:
                self.store.delete(location)
                counts["orphans"] += 1
        for location in staged_files:
            if location.rpartition("/")[2] not in staged_ids:
                self.staging.delete(location)
                counts["orphans"] += 1

        def live(owner: str) -> bool:
            return owner_is_live(owner, self.owner)

        counts["temporary"] = self.store.abandoned(live) + self.staging.abandoned(live)
        return counts


def task_view(task: ImageTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type,
        "status": task.status,
        "owner": task.owner,
        "user_id": task.user_id,
        "request_id": task.request_id,
        "image_id": task.image_id,
        "input": task.input,
        "result": task.result,
        "message": task.message,
        "created_at": isotime(task.created_at),
        "updated_at": isotime(task.updated_at),
        "expires_at": isotime(task.expires_at),
        "deleted": False,
        "deleted_at": None,
    }
