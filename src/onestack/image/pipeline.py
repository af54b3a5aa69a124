"""Image data in flight: streamed to a store while md5 and sha512 are computed, in parallel.

Request body chunks (tens of KiB each) are gathered into batches of a few MiB. Each batch is
handed to three worker threads at once: one updates the md5, one the sha512, one writes to the
store. hashlib and file writes release the GIL, so on two cores the hashes and the write
run side by side while the event loop already receives the next batch. At most two batches are
held at a time: memory stays flat whatever the image size.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from onestack.common.errors import PayloadTooLarge
from onestack.image.drivers.base import StoreWriter
from onestack.image.formats import FormatSniffer

BATCH_BYTES = 2 * 1024 * 1024
BATCH_CHUNKS = 512  # tiny chunks: bound the per-chunk calls a batch makes
HASH_ALGO = "sha512"

# Shared by every transfer; threads only run hashing and writes, so they never wait on locks.
_workers = ThreadPoolExecutor(max_workers=48, thread_name_prefix="image-data")


@dataclass
class Transferred:
    size: int
    checksum: str  # md5, hex
    os_hash_value: str  # sha512, hex
    sniffer: FormatSniffer


class Pipeline:
    def __init__(self, writer: StoreWriter, max_bytes: int | None, too_large: str) -> None:
        self.writer = writer
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.new(HASH_ALGO)
        self.sniffer = FormatSniffer()
        self.size = 0

    def _write(self, data: bytes) -> None:
        self.sniffer.update(data)
        self.writer.write(data)

    async def _dispatch(self, batch: list[bytes]) -> None:
        # One joined buffer per batch: each hash then runs over 2 MiB in one call, without
        # the GIL, instead of taking the GIL back for every 64 KiB chunk.
        data = batch[0] if len(batch) == 1 else b"".join(batch)
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            loop.run_in_executor(_workers, self.md5.update, data),
            loop.run_in_executor(_workers, self.sha.update, data),
            loop.run_in_executor(_workers, self._write, data),
        )

    async def consume(self, chunks: AsyncIterator[bytes]) -> Transferred:
        pending: asyncio.Future[None] | None = None
        batch: list[bytes] = []
        batch_bytes = 0
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                self.size += len(chunk)
                if self.max_bytes is not None and self.size > self.max_bytes:
                    raise PayloadTooLarge(self.too_large)
                batch.append(chunk)
                batch_bytes += len(chunk)
                if batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_CHUNKS:
                    if pending is not None:
                        await pending
                    pending = asyncio.ensure_future(self._dispatch(batch))
                    batch = []
                    batch_bytes = 0
            if pending is not None:
                await pending
                pending = None
            if batch:
                await self._dispatch(batch)
        finally:
            if pending is not None:
                # Let the threads finish with the batch before the caller aborts the writer.
                await asyncio.gather(pending, return_exceptions=True)
        return Transferred(self.size, self.md5.hexdigest(), self.sha.hexdigest(), self.sniffer)
