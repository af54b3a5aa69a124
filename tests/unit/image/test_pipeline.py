"""The upload pipeline: data streamed to a store writer while md5 and sha512 are computed."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import pytest

from onestack.common.errors import PayloadTooLarge
from onestack.image import pipeline
from onestack.image.drivers.base import StoreWriter
from onestack.image.drivers.filesystem import FilesystemStore
from onestack.image.pipeline import Pipeline, Transferred

IMAGE_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TOO_LARGE = "Image exceeds the storage quota or the maximum image size."


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def pieces(data: bytes, rng: random.Random, largest: int) -> list[bytes]:
    """``data`` cut at random places into pieces of 1 to ``largest`` bytes."""
    out, offset = [], 0
    while offset < len(data):
        size = rng.randint(1, largest)
        out.append(data[offset : offset + size])
        offset += size
    return out


def run(writer: StoreWriter, chunks: Iterable[bytes], max_bytes: int | None = None) -> Transferred:
    return asyncio.run(Pipeline(writer, max_bytes, TOO_LARGE).consume(stream(chunks)))


class RecordingWriter(StoreWriter):
    """Keeps what it is given, and how it was given."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.writes: list[int] = []
        self.data = bytearray()
        self.fail_after = fail_after

    @property
    def written(self) -> int:
        return len(self.data)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.write_many([data])

    def write_many(self, chunks: Sequence[bytes | bytearray | memoryview]) -> None:
        """One entry in ``writes`` per batch the pipeline hands over."""
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise OSError(28, "No space left on device")
        self.writes.append(sum(len(c) for c in chunks))
        for chunk in chunks:
            self.data += chunk

    def commit(self) -> str:
        return "xx/committed"

    def abort(self) -> None:
        self.data = bytearray()


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "images")


def check_hashes(result: Transferred, data: bytes) -> None:
    assert result.size == len(data)
    assert result.checksum == hashlib.md5(data).hexdigest()
    assert result.os_hash_value == hashlib.sha512(data).hexdigest()


def test_many_small_chunks_across_real_batches(store: FilesystemStore) -> None:
    rng = random.Random(1)
    data = rng.randbytes(2 * pipeline.BATCH_BYTES + 12345)
    writer = store.writer(IMAGE_ID, "host-1")
    result = run(writer, pieces(data, rng, 20000))
    check_hashes(result, data)
    location = writer.commit()
    assert store.path(location).read_bytes() == data
    assert writer.written == len(data)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_tiny_batches_keep_order_and_hashes(
    monkeypatch: pytest.MonkeyPatch, store: FilesystemStore, seed: int
) -> None:
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 1000)
    rng = random.Random(seed)
    data = rng.randbytes(rng.randint(50_000, 90_000))
    writer = RecordingWriter()
    result = run(writer, pieces(data, rng, 333))
    check_hashes(result, data)
    assert bytes(writer.data) == data
    # batches of at least BATCH_BYTES reach the writer; only the last may be smaller
    assert all(size >= 1000 for size in writer.writes[:-1])
    assert len(writer.writes) > 40


def test_empty_chunks_and_empty_streams(store: FilesystemStore) -> None:
    writer = RecordingWriter()
    result = run(writer, [b"", b"abc", b"", b"", b"def", b""])
    check_hashes(result, b"abcdef")
    assert writer.writes == [6]
    empty = RecordingWriter()
    result = run(empty, [])
    check_hashes(result, b"")
    assert empty.writes == []
    assert run(RecordingWriter(), [b"", b""]).size == 0


def test_sniffer_sees_the_stream(store: FilesystemStore) -> None:
    header = b"QFI\xfb" + bytes(20) + (5 * 1024**3).to_bytes(8, "big")
    data = header + bytes(100_000)
    result = run(store.writer(IMAGE_ID, "host-1"), pieces(data, random.Random(5), 7))
    assert result.sniffer.virtual_size("qcow2", result.size) == 5 * 1024**3
    assert result.sniffer.virtual_size("raw", result.size) == len(data)


def test_exactly_max_bytes_is_accepted() -> None:
    data = bytes(range(256)) * 40
    result = run(RecordingWriter(), pieces(data, random.Random(6), 100), max_bytes=len(data))
    check_hashes(result, data)


@pytest.mark.parametrize("batch", [1000, 4 * 1024 * 1024])
def test_one_byte_over_max_bytes(
    monkeypatch: pytest.MonkeyPatch, store: FilesystemStore, batch: int
) -> None:
    monkeypatch.setattr(pipeline, "BATCH_BYTES", batch)
    data = bytes(10_001)
    writer = store.writer(IMAGE_ID, "host-1")
    with pytest.raises(PayloadTooLarge, match="maximum image size") as raised:
        run(writer, pieces(data, random.Random(7), 50), max_bytes=10_000)
    assert raised.value.status == 413
    assert writer.written <= 10_000  # nothing past the limit reached the store
    writer.abort()
    assert list(store.tmp.iterdir()) == []
    assert list(store.locations()) == []


def test_over_max_bytes_in_one_chunk() -> None:
    writer = RecordingWriter()
    with pytest.raises(PayloadTooLarge):
        run(writer, [b"x" * 11], max_bytes=10)
    assert writer.writes == []


def test_source_failure_propagates_after_writes_finish(
    monkeypatch: pytest.MonkeyPatch, store: FilesystemStore
) -> None:
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 100)

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 64
        raise ConnectionResetError("client went away")

    writer = store.writer(IMAGE_ID, "host-1")
    with pytest.raises(ConnectionResetError):
        asyncio.run(Pipeline(writer, None, TOO_LARGE).consume(broken()))
    assert writer.written % 64 == 0 and writer.written <= 640
    writer.abort()
    assert list(store.tmp.iterdir()) == []


def test_writer_failure_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH_BYTES", 100)
    with pytest.raises(OSError, match="No space left"):
        run(RecordingWriter(fail_after=2), [b"z" * 50] * 20)


def test_pipelines_run_side_by_side(store: FilesystemStore) -> None:
    rng = random.Random(8)
    blobs = [rng.randbytes(rng.randint(1, 3 * 1024 * 1024)) for _ in range(6)]

    async def all_of_them() -> list[Transferred]:
        jobs = [
            Pipeline(store.writer(f"{i:02d}" + IMAGE_ID[2:], "host-1"), None, TOO_LARGE).consume(
                stream(pieces(blob, random.Random(i), 65536))
            )
            for i, blob in enumerate(blobs)
        ]
        return list(await asyncio.gather(*jobs))

    for result, blob in zip(asyncio.run(all_of_them()), blobs, strict=True):
        check_hashes(result, blob)
