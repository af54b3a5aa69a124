"""ImageData.reconcile after a crash: uploads of dead processes are reset and their files
removed; what live processes (this one, or one on another host) are writing is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from onestack.common.config import Settings
from onestack.common.db import Database
from onestack.image.data import ImageData, owner_is_live, process_owner
from onestack.image.drivers.filesystem import FilesystemStore
from onestack.image.models import Image
from onestack.image.service import ImageService

from .conftest import MakeImage


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        try:
            os.kill(child.pid, 0)
        except ProcessLookupError:
            return child.pid
    raise AssertionError("no dead pid found")


HOST = process_owner().rpartition("-")[0]


@pytest.fixture
def dead() -> str:
    """An upload owner on this host whose process is gone."""
    return f"{HOST}-{dead_pid()}"


@pytest.fixture
def service(db: Database, tmp_path: Path) -> ImageService:
    return ImageService(db, Settings(state_dir=tmp_path))


def new_id() -> str:
    return str(uuid.uuid4())


def committed(store: FilesystemStore, image_id: str, data: bytes = b"data") -> str:
    writer = store.writer(image_id, "whoever")
    writer.write(data)
    return writer.commit()


def leftover(store: FilesystemStore, image_id: str, owner: str) -> Path:
    """A temporary file as a writer that died mid-upload leaves it."""
    path = store.tmp / f"{image_id}.{owner}.0"
    path.write_bytes(b"half an image")
    return path


def row(db: Database, image_id: str) -> Image:
    with db.read() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image


# -- owner_is_live --------------------------------------------------------------------------------


def test_process_owner_names_this_host_and_process() -> None:
    me = process_owner()
    assert me.endswith(f"-{os.getpid()}")
    assert "." not in me  # temporary file names split on dots


@pytest.mark.parametrize(
    ("owner", "live"),
    [
        (None, False),
        ("", False),
        ("me", True),
        (f"{HOST}-{os.getppid()}", True),
        (f"{HOST}-notapid", False),
        ("some-other-host-12345", True),  # maybe alive: not ours to reclaim
        ("otherhost-1", True),
    ],
)
def test_owner_is_live(owner: str | None, live: bool) -> None:
    me = process_owner()
    assert owner_is_live(me if owner == "me" else owner, me) is live


def test_dead_owner_on_this_host(dead: str) -> None:
    assert owner_is_live(dead, process_owner()) is False


# -- reconcile ------------------------------------------------------------------------------------


def test_reconcile_after_a_crash(
    db: Database, service: ImageService, make_image: MakeImage, dead: str
) -> None:
    data: ImageData = service.data
    store, staging = service.store, service.staging
    me = data.owner
    ids: dict[str, str] = {}

    def image(name: str, **values: Any) -> str:
        ids[name] = make_image(name=name, disk_format="raw", container_format="bare", **values)
        return ids[name]

    # An upload of a dead process on this host: reset, its temporary file removed.
    dead_tmp = leftover(store, image("dead_saving", status="saving", upload_owner=dead), dead)
    # A dead process committed the data but died before recording it: reset, file removed.
    dead_done = committed(store, image("dead_committed", status="saving", upload_owner=dead))
    # An upload this process is writing right now: left alone.
    live_writer = store.writer(image("live_saving", status="saving", upload_owner=me), me)
    live_writer.write(b"in flight")
    # This process committed the data but has not recorded it yet: kept.
    live_done = committed(store, image("live_committed", status="saving", upload_owner=me))
    # An upload by a process on another host (which may be alive): left alone.
    remote = "otherhost-4242"
    remote_tmp = leftover(store, image("remote", status="saving", upload_owner=remote), remote)
    # Active data: kept.
    active_id = image("active", status="active", size=4)
    active_location = committed(store, active_id)
    with db.write() as session:
        session.get(Image, active_id).location = active_location  # type: ignore[union-attr]
    # Committed data of an image deleted before its file was removed: removed.
    orphan = committed(store, new_id())
    # Staged data of a deleted image: removed. Staged data of a staged image: kept.
    staged_orphan = committed(staging, new_id())
    staged_id = image("staged", status="uploading", staged_size=4)
    staged = committed(staging, staged_id)
    # An import by a dead process, of staged data: back to staged; the store's copy removed.
    importing_id = image("dead_import", status="importing", upload_owner=dead, staged_size=4)
    import_staged = committed(staging, importing_id)
    import_copy = committed(store, importing_id)
    import_tmp = leftover(store, importing_id, dead)
    # An import by a dead process whose staged data is gone: queued.
    image("dead_import_unstaged", status="importing", upload_owner=dead, staged_size=4)
    # Staging by a dead process: queued, its temporary staging file removed.
    staging_tmp = leftover(
        staging, image("dead_staging", status="uploading", upload_owner=dead, staged_size=9), dead
    )

    counts = data.reconcile()

    assert counts == {"reset": 5, "orphans": 4, "temporary": 3}
    for name in ("dead_saving", "dead_committed", "dead_import_unstaged", "dead_staging"):
        reset = row(db, ids[name])
        assert (reset.status, reset.upload_owner, reset.staged_size) == ("queued", None, None)
    restaged = row(db, importing_id)
    assert (restaged.status, restaged.upload_owner, restaged.staged_size) == ("uploading", None, 4)
    for name, status, owner in (
        ("live_saving", "saving", me),
        ("live_committed", "saving", me),
        ("remote", "saving", remote),
        ("staged", "uploading", None),
        ("active", "active", None),
    ):
        kept = row(db, ids[name])
        assert (kept.status, kept.upload_owner) == (status, owner), name
    assert not dead_tmp.exists()
    assert not import_tmp.exists()
    assert not staging_tmp.exists()
    assert live_writer.tmp_path.exists()
    assert remote_tmp.exists()
    assert sorted(store.locations()) == sorted([live_done, active_location])
    assert orphan not in set(store.locations())
    assert store.size(import_copy) is None and store.size(dead_done) is None
    assert sorted(staging.locations()) == sorted([staged, import_staged])
    assert store.size(orphan) is None and staging.size(staged_orphan) is None

    # The live upload goes on as if nothing happened.
    assert store.path(live_writer.commit()).read_bytes() == b"in flight"
    # A second pass finds nothing more to do.
    assert data.reconcile() == {"reset": 0, "orphans": 0, "temporary": 0}


def test_reconcile_leaves_uploads_without_owner_alone(
    db: Database, service: ImageService, make_image: MakeImage
) -> None:
    # "saving" without an owner should not happen; reconcile does not guess
    image_id = make_image(status="saving")
    assert service.data.reconcile()["reset"] == 0
    assert row(db, image_id).status == "saving"


def test_reconcile_of_an_empty_store(service: ImageService) -> None:
    assert service.data.reconcile() == {"reset": 0, "orphans": 0, "temporary": 0}


def test_reconcile_keeps_the_files_of_live_foreign_processes(
    db: Database, service: ImageService, make_image: MakeImage
) -> None:
    # Another server process on this host (here: our parent) is mid-upload and has committed.
    other = f"{HOST}-{os.getppid()}"
    image_id = make_image(status="saving", upload_owner=other)
    location = committed(service.store, image_id)
    tmp = leftover(service.store, new_id(), other)
    assert service.data.reconcile() == {"reset": 0, "orphans": 0, "temporary": 0}
    assert service.store.size(location) == 4
    assert tmp.exists()
    assert row(db, image_id).upload_owner == other


def test_reconcile_keeps_data_committed_while_it_runs(
    db: Database, service: ImageService, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"{HOST}-{os.getppid()}"  # another server process on this host, alive
    image_id = make_image(status="queued", disk_format="raw", container_format="bare")
    store = service.store
    listed = store.locations

    def upload_meanwhile() -> Any:
        with db.write() as session:
            image = session.get(Image, image_id)
            assert image is not None
            image.status, image.upload_owner = "saving", other
        committed(store, image_id)
        return listed()

    monkeypatch.setattr(store, "locations", upload_meanwhile)
    service.data.reconcile()
    assert store.size(store.location_for(image_id)) == 4
