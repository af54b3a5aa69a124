"""Image data: upload, staging and import, failures and download, through ImageData."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.common.config import Settings
from onestack.common.db import Database
from onestack.common.errors import BadRequest, Conflict, Forbidden, Gone, PayloadTooLarge
from onestack.image.access import Caller
from onestack.image.data import ImageData, Transfer
from onestack.image.models import Image
from onestack.image.pipeline import Pipeline, Transferred
from onestack.image.service import ImageService

from .conftest import MakeImage

OWNER = Caller(project_id="project-a", is_admin=False)
ADMIN = Caller(project_id="admin-project", is_admin=True)
QCOW2 = b"QFI\xfb" + bytes(20) + (3 * 1024**3).to_bytes(8, "big") + bytes(5000)
MIB = 1024 * 1024


def allow(rule: str, target: dict[str, Any]) -> None:
    return None


@pytest.fixture
def service(db: Database, tmp_path: Path) -> ImageService:
    return ImageService(db, Settings(state_dir=tmp_path))


@pytest.fixture
def data(service: ImageService) -> ImageData:
    return service.data


@pytest.fixture
def queued(make_image: MakeImage) -> str:
    return make_image(disk_format="qcow2", container_format="bare")


def row(db: Database, image_id: str) -> Image:
    with db.read() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image


def send(transfer: Transfer, payload: bytes) -> Transferred:
    async def chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(payload), 777):
            yield payload[offset : offset + 777]

    return asyncio.run(Pipeline(transfer.writer, transfer.max_bytes, "too large").consume(chunks()))


def temporary_files(service: ImageService) -> list[Path]:
    return [*service.store.tmp.iterdir(), *service.staging.tmp.iterdir()]


def test_upload(db: Database, service: ImageService, data: ImageData, queued: str) -> None:
    transfer = data.begin(OWNER, queued, allow, staging=False)
    saving = row(db, queued)
    assert (saving.status, saving.upload_owner) == ("saving", data.owner)
    assert transfer.max_bytes == service.settings.image.image_size_cap
    assert len(temporary_files(service)) == 1
    data.finish(transfer, send(transfer, QCOW2))
    active = row(db, queued)
    assert active.status == "active"
    assert active.upload_owner is None
    assert active.size == len(QCOW2)
    assert active.virtual_size == 3 * 1024**3
    assert active.checksum == hashlib.md5(QCOW2).hexdigest()
    assert active.os_hash_algo == "sha512"
    assert active.os_hash_value == hashlib.sha512(QCOW2).hexdigest()
    assert active.location == service.store.location_for(queued)
    assert service.store.path(active.location).read_bytes() == QCOW2
    assert temporary_files(service) == []
    found = data.download(OWNER, queued, allow)
    assert found is not None
    assert (found.location, found.size, found.checksum) == (
        active.location,
        active.size,
        active.checksum,
    )


def test_failed_upload_goes_back_to_queued(
    db: Database, service: ImageService, data: ImageData, queued: str
) -> None:
    transfer = data.begin(OWNER, queued, allow, staging=False)
    transfer.writer.write(b"part of it")
    data.fail(transfer)
    image = row(db, queued)
    assert (image.status, image.upload_owner, image.location) == ("queued", None, None)
    assert temporary_files(service) == []
    assert data.download(OWNER, queued, allow) is None
    retry = data.begin(OWNER, queued, allow, staging=False)
    data.finish(retry, send(retry, b"again"))
    assert row(db, queued).size == 5


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"disk_format": None, "container_format": "bare"}, BadRequest),
        ({"disk_format": "raw", "container_format": None}, BadRequest),
        ({"status": "active", "disk_format": "raw", "container_format": "bare"}, Conflict),
        ({"status": "saving", "disk_format": "raw", "container_format": "bare"}, Conflict),
    ],
)
def test_begin_refused(
    db: Database,
    service: ImageService,
    make_image: MakeImage,
    values: dict[str, Any],
    error: type[Exception],
) -> None:
    image_id = make_image(**values)
    with pytest.raises(error):
        service.data.begin(OWNER, image_id, allow, staging=False)
    assert row(db, image_id).status == values.get("status", "queued")
    assert temporary_files(service) == []  # the writer was aborted


def test_begin_checks_policy_and_visibility(
    service: ImageService, make_image: MakeImage, queued: str
) -> None:
    def deny(rule: str, target: dict[str, Any]) -> None:
        assert rule == "image:upload_image" and target["owner"] == "project-a"
        raise Forbidden("no")

    with pytest.raises(Forbidden):
        service.data.begin(OWNER, queued, deny, staging=False)
    other = make_image(owner="project-b", visibility="private", disk_format="raw")
    with pytest.raises(Exception, match="No image found"):
        service.data.begin(OWNER, other, allow, staging=False)
    assert temporary_files(service) == []


def test_quota_limits_the_transfer(
    db: Database, service: ImageService, make_image: MakeImage, queued: str
) -> None:
    make_image(status="active", size=MIB // 2)
    service.set_quota("project-a", {"image_size_total": 1})
    transfer = service.data.begin(OWNER, queued, allow, staging=False)
    assert transfer.max_bytes == MIB - MIB // 2
    with pytest.raises(PayloadTooLarge):
        send(transfer, bytes(MIB // 2 + 1))
    service.data.fail(transfer)
    assert row(db, queued).status == "queued"


def test_quota_checked_again_at_the_end(
    db: Database, service: ImageService, make_image: MakeImage, queued: str
) -> None:
    service.set_quota("project-a", {"image_size_total": 1})
    transfer = service.data.begin(OWNER, queued, allow, staging=False)
    result = send(transfer, bytes(1000))
    make_image(status="active", size=MIB - 500)  # another upload finished meanwhile
    with pytest.raises(PayloadTooLarge):
        service.data.finish(transfer, result)
    assert list(service.store.locations()) == []  # the committed data was removed
    service.data.fail(transfer)
    assert row(db, queued).status == "queued"


def test_image_deleted_during_upload(
    db: Database, service: ImageService, data: ImageData, queued: str
) -> None:
    transfer = data.begin(OWNER, queued, allow, staging=False)
    result = send(transfer, b"orphaned")
    with db.write() as session:
        session.delete(session.get(Image, queued))
    with pytest.raises(Gone):
        data.finish(transfer, result)
    assert list(service.store.locations()) == []
    data.fail(transfer)  # nothing left to reset, and no error


def test_image_taken_over_during_upload(
    db: Database, service: ImageService, data: ImageData, queued: str
) -> None:
    transfer = data.begin(OWNER, queued, allow, staging=False)
    result = send(transfer, b"late")
    with db.write() as session:
        session.get(Image, queued).upload_owner = "otherhost-1"  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        data.finish(transfer, result)
    assert list(service.store.locations()) == []
    data.fail(transfer)
    assert row(db, queued).status == "saving"  # not ours to reset


def test_stage_then_import(
    db: Database, service: ImageService, data: ImageData, make_image: MakeImage
) -> None:
    image_id = make_image(disk_format="qcow2", container_format="bare")
    staging = data.begin(OWNER, image_id, allow, staging=True)
    assert row(db, image_id).status == "uploading"
    data.finish(staging, send(staging, QCOW2))
    staged = row(db, image_id)
    assert (staged.status, staged.upload_owner, staged.staged_size) == (
        "uploading",
        None,
        len(QCOW2),
    )
    assert service.staging.size(data.staged_location(image_id)) == len(QCOW2)
    assert service.usage(OWNER)["image_stage_total"] == {"limit": -1, "usage": 1}

    with pytest.raises(BadRequest):
        data.begin_import(OWNER, image_id, {"method": {"name": "web-download"}}, "req-1", allow)
    with pytest.raises(BadRequest):
        data.begin_import(OWNER, image_id, {"method": "glance-direct"}, "req-1", allow)
    transfer = data.begin_import(
        OWNER, image_id, {"method": {"name": "glance-direct"}}, "req-1", allow
    )
    assert row(db, image_id).status == "importing"
    data.fail_import(transfer, "test failure")
    assert row(db, image_id).status == "uploading"  # the import can be retried

    transfer = data.begin_import(
        OWNER, image_id, {"method": {"name": "glance-direct"}}, "req-1", allow
    )
    staged_bytes = b"".join(service.staging.read(data.staged_location(image_id)))
    data.finish_import(transfer, send(transfer, staged_bytes))
    active = row(db, image_id)
    assert (active.status, active.staged_size, active.upload_owner) == ("active", None, None)
    assert active.virtual_size == 3 * 1024**3
    assert active.checksum == hashlib.md5(QCOW2).hexdigest()
    assert list(service.staging.locations()) == []
    assert temporary_files(service) == []
    tasks = data.tasks(OWNER, image_id, allow)
    assert [t["status"] for t in tasks] == ["failure", "success"]
    assert tasks[0]["message"] == "test failure"
    assert tasks[1]["request_id"] == "req-1"
    assert tasks[1]["input"]["import_req"] == {"method": {"name": "glance-direct"}}
    assert tasks[1]["result"] == {"image_id": image_id}


def test_import_needs_staged_data(service: ImageService, queued: str) -> None:
    with pytest.raises(Conflict, match="staged"):
        service.data.begin_import(
            OWNER, queued, {"method": {"name": "glance-direct"}}, "req-1", allow
        )


def test_download_of_a_deactivated_image(service: ImageService, make_image: MakeImage) -> None:
    image_id = make_image(status="deactivated", location="ab/x", size=3, checksum="c")
    with pytest.raises(Forbidden):
        service.data.download(OWNER, image_id, allow)
    found = service.data.download(ADMIN, image_id, allow)
    assert found is not None and found.location == "ab/x"


def test_remove_deletes_stored_and_staged_data(service: ImageService) -> None:
    image_id = str(uuid.uuid4())
    for store in (service.store, service.staging):
        writer = store.writer(image_id, "x")
        writer.write(b"1")
        writer.commit()
    service.data.remove([service.store.location_for(image_id)], image_id)
    assert list(service.store.locations()) == []
    assert list(service.staging.locations()) == []
