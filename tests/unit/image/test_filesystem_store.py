"""The filesystem store: temporary file, fsync and rename, ranged reads, cleanup."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from onestack.image.drivers import filesystem
from onestack.image.drivers.filesystem import FilesystemStore

IMAGE_ID = "ab12cd34-0000-4000-8000-000000000001"


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "images")


def commit(store: FilesystemStore, data: bytes, image_id: str = IMAGE_ID) -> str:
    writer = store.writer(image_id, "host-1")
    writer.write(data)
    return writer.commit()


def read(
    store: FilesystemStore, location: str, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join(store.read(location, offset, length))


def test_directories_are_private(store: FilesystemStore) -> None:
    assert store.tmp == store.root / ".tmp"
    for directory in (store.root, store.tmp):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    FilesystemStore(store.root)  # opening an existing store is fine


def test_data_is_visible_only_after_commit(store: FilesystemStore) -> None:
    location = store.location_for(IMAGE_ID)
    assert location == f"ab/{IMAGE_ID}"
    writer = store.writer(IMAGE_ID, "host-1")
    writer.write(b"hello ")
    writer.write(memoryview(b"world"))
    assert writer.written == 11
    temporary = list(store.tmp.iterdir())
    assert [p.name for p in temporary] == [f"{IMAGE_ID}.host-1.0"]
    # Written through (buffered: a prefix may still be in the writer's aligned buffer).
    assert b"hello world".startswith(temporary[0].read_bytes())
    assert stat.S_IMODE(temporary[0].stat().st_mode) == 0o600
    assert not store.path(location).exists()
    assert store.size(location) is None
    assert list(store.locations()) == []

    assert writer.commit() == location
    assert list(store.tmp.iterdir()) == []
    assert store.path(location).read_bytes() == b"hello world"
    assert store.size(location) == 11
    assert list(store.locations()) == [location]


def test_abort_removes_the_temporary_file(store: FilesystemStore) -> None:
    writer = store.writer(IMAGE_ID, "host-1")
    writer.write(b"partial")
    writer.abort()
    assert list(store.tmp.iterdir()) == []
    assert list(store.locations()) == []
    writer.abort()  # twice is fine
    with pytest.raises(AssertionError):
        writer.write(b"more")


def test_abort_after_commit_keeps_the_data(store: FilesystemStore) -> None:
    writer = store.writer(IMAGE_ID, "host-1")
    writer.write(b"kept")
    location = writer.commit()
    writer.abort()
    assert read(store, location) == b"kept"
    with pytest.raises(AssertionError):
        writer.commit()


def test_writers_of_one_image_do_not_collide(store: FilesystemStore) -> None:
    first = store.writer(IMAGE_ID, "host-1")
    second = store.writer(IMAGE_ID, "host-1")
    assert first.tmp_path != second.tmp_path
    first.write(b"first")
    second.write(b"second")
    first.commit()
    location = second.commit()
    assert read(store, location) == b"second"  # the last commit replaces the data
    assert list(store.tmp.iterdir()) == []


def test_owner_slashes_do_not_leave_the_temporary_directory(store: FilesystemStore) -> None:
    writer = store.writer(IMAGE_ID, "../../evil/host")
    assert writer.tmp_path.parent == store.tmp
    writer.abort()


def test_sync_every(monkeypatch: pytest.MonkeyPatch, store: FilesystemStore) -> None:
    monkeypatch.setattr(filesystem, "SYNC_EVERY", 10)
    writer = store.writer(IMAGE_ID, "host-1")
    for _ in range(5):
        writer.write(b"0123456")
    assert writer._unsynced < 10
    assert read(store, writer.commit()) == b"0123456" * 5


# -- locations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "",
        "/",
        "..",
        "ab",
        "../x",
        "ab/..",
        "ab/.",
        "./ab",
        "../../etc/passwd",
        "ab/../../x",
        "/etc/passwd",
        "ab/",
        "/ab",
        "ab//c",
        "ab/cd/ef",
    ],
)
def test_path_refuses_odd_locations(store: FilesystemStore, location: str) -> None:
    with pytest.raises(ValueError, match="not a location"):
        store.path(location)
    assert store.size(location) is None
    store.delete(location)  # ignored, not an error
    with pytest.raises(ValueError):
        store.read(location)


def test_path_of_a_location(store: FilesystemStore) -> None:
    assert store.path(f"ab/{IMAGE_ID}") == store.root / "ab" / IMAGE_ID


def test_delete(store: FilesystemStore) -> None:
    location = commit(store, b"x")
    store.delete(location)
    assert store.size(location) is None
    store.delete(location)  # missing is fine
    assert list(store.locations()) == []


def test_locations_lists_committed_data_only(store: FilesystemStore, tmp_path: Path) -> None:
    ids = [str(uuid.UUID(int=n << 120 | n)) for n in (1, 2, 200)]
    committed = sorted(commit(store, b"data", image_id) for image_id in ids)
    store.writer("ffffffff-0000-4000-8000-000000000000", "host-1").write(b"in flight")
    (store.root / "stray-file").write_bytes(b"not in a subdirectory")
    (store.root / ".hidden").mkdir()
    (store.root / ".hidden" / "x").write_bytes(b"")
    staging = FilesystemStore(store.root / "staging")
    staged = commit(staging, b"staged")
    assert sorted(store.locations()) == committed
    assert list(staging.locations()) == [staged]


# -- reads ----------------------------------------------------------------------------------------

DATA = bytes(range(256)) * 12  # 3072 bytes


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, None, DATA),
        (0, len(DATA), DATA),
        (0, len(DATA) + 100, DATA),
        (1, None, DATA[1:]),
        (500, 1200, DATA[500:1700]),
        (999, 2, DATA[999:1001]),
        (1000, 1000, DATA[1000:2000]),
        (3071, None, DATA[3071:]),
        (3071, 10, DATA[3071:]),
        (3072, None, b""),
        (5000, 10, b""),
        (10, 0, b""),
    ],
)
def test_read_ranges(
    monkeypatch: pytest.MonkeyPatch,
    store: FilesystemStore,
    offset: int,
    length: int | None,
    expected: bytes,
) -> None:
    monkeypatch.setattr(filesystem, "READ_CHUNK", 1000)
    location = commit(store, DATA)
    chunks = list(store.read(location, offset, length))
    assert b"".join(chunks) == expected
    assert all(0 < len(chunk) <= 1000 for chunk in chunks)


def test_read_of_missing_data_fails_at_once(store: FilesystemStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.read(f"ab/{IMAGE_ID}")  # before the first chunk is asked for


def test_read_closes_the_file(store: FilesystemStore) -> None:
    location = commit(store, DATA)
    chunks = store.read(location, 0, 10)
    assert next(chunks) == DATA[:10]
    chunks.close()  # type: ignore[attr-defined]
    store.delete(location)
    assert store.size(location) is None


# -- abandoned temporary files --------------------------------------------------------------------


def test_abandoned_removes_temporary_files_of_dead_owners(store: FilesystemStore) -> None:
    live = store.writer(IMAGE_ID, "host-live")
    live.write(b"still writing")
    for owner in ("host-dead", "other-dead"):
        store.writer(f"cd{IMAGE_ID[2:]}", owner).write(b"left behind")
    (store.tmp / "junk").write_bytes(b"no owner in the name")
    location = commit(store, b"committed", f"ef{IMAGE_ID[2:]}")
    asked: list[str] = []

    def is_live(owner: str) -> bool:
        asked.append(owner)
        return owner == "host-live"

    assert store.abandoned(is_live) == 3
    assert sorted(asked) == ["", "host-dead", "host-live", "other-dead"]
    assert [p.name for p in store.tmp.iterdir()] == [live.tmp_path.name]
    assert read(store, location) == b"committed"
    assert read(store, live.commit()) == b"still writing"
    assert store.abandoned(is_live) == 0


def test_direct_writes_across_buffers_and_an_unaligned_tail(store: FilesystemStore) -> None:
    """More than one aligned buffer plus a tail that is no multiple of the block size."""
    data = bytes(range(256)) * (3 * filesystem.DIRECT_BUFFER // 256) + b"tail" * 1001
    writer = store.writer(IMAGE_ID, "host-1")
    for start in range(0, len(data), 65_537):
        writer.write(data[start : start + 65_537])
    assert writer.written == len(data)
    assert read(store, writer.commit()) == data


def test_buffered_writes_when_direct_is_off(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "images", direct=False)
    writer = store.writer(IMAGE_ID, "host-1")
    writer.write(b"hello ")
    writer.write_many([b"wor", memoryview(b"ld")])
    assert next(store.tmp.iterdir()).read_bytes() == b"hello world"
    assert read(store, writer.commit()) == b"hello world"
