"""The image store interface: where image data lives.

A store writes data through a :class:`StoreWriter` (bytes in order, then ``commit`` makes them
durable and visible under a location key, or ``abort`` throws them away), reads a byte range
of a committed location, and deletes locations. Anything only half-written must never be
visible under a location: the filesystem store writes a temporary file, fsyncs it and renames
it; the object-storage store (later) will do the same with its own primitives.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence

Buffer = bytes | bytearray | memoryview


class StoreWriter(abc.ABC):
    @abc.abstractmethod
    def write(self, data: Buffer) -> None:
        """Append data (called from a worker thread, never concurrently for one writer)."""

    def write_many(self, chunks: Sequence[Buffer]) -> None:
        """Append several buffers in order (a store may do it in one call)."""
        for chunk in chunks:
            self.write(chunk)

    @abc.abstractmethod
    def commit(self) -> str:
        """Make the data durable and return its location key."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Throw the data away. Safe to call more than once, and after commit does nothing."""

    @property
    @abc.abstractmethod
    def written(self) -> int:
        """Bytes written so far."""


class Store(abc.ABC):
    #: the id shown in /v2/info/stores and in an image's ``stores`` attribute
    id: str = "file"
    description: str = ""

    @abc.abstractmethod
    def location_for(self, image_id: str) -> str:
        """The location new data of an image is committed to."""

    @abc.abstractmethod
    def writer(self, image_id: str, owner: str) -> StoreWriter:
        """A writer for new data of one image; ``owner`` names the writing process."""

    @abc.abstractmethod
    def read(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of a location from ``offset``, ``length`` of them (all when None)."""

    @abc.abstractmethod
    def size(self, location: str) -> int | None:
        """The stored size of a location, or None when it is missing."""

    @abc.abstractmethod
    def delete(self, location: str) -> None:
        """Remove a location; a missing one is not an error."""

    @abc.abstractmethod
    def locations(self) -> Iterator[str]:
        """Every committed location (for reconciling with the database)."""

    @abc.abstractmethod
    def abandoned(self, is_live: Callable[[str], bool]) -> int:
        """Remove temporary data of writers whose owner is no longer live; returns how many
        were removed."""
