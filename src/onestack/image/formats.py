"""Disk and container formats, and the virtual size of disk images read from their headers.

The virtual size is what a guest sees as the disk's size. It is read from the header while
the data streams in (no qemu-img, no second pass over the data): qcow2, vmdk (sparse
extents), vdi and vhd say it in their headers; raw and iso data are as big as their bytes.
"""

from __future__ import annotations

import struct

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")

HEAD_BYTES = 64 * 1024  # enough for every header read here
TAIL_BYTES = 512  # a vhd footer

QCOW2_MAGIC = b"QFI\xfb"
VMDK_SPARSE_MAGIC = b"KDMV"
VDI_SIGNATURE = 0xBEDA107F
VHD_COOKIE = b"conectix"
SECTOR = 512


def virtual_size(disk_format: str | None, head: bytes, tail: bytes, size: int) -> int | None:
    """The virtual size for ``disk_format``, or None when the data does not say (or does not
    look like that format)."""
    if disk_format in ("raw", "iso"):
        return size
    if disk_format == "qcow2":
        if len(head) >= 32 and head[:4] == QCOW2_MAGIC:
            return int(struct.unpack_from(">Q", head, 24)[0])
        return None
    if disk_format == "vmdk":
        if len(head) >= 20 and head[:4] == VMDK_SPARSE_MAGIC:
            return int(struct.unpack_from("<Q", head, 12)[0]) * SECTOR
        return _vmdk_descriptor_size(head)
    if disk_format == "vdi":
        if len(head) >= 376 and struct.unpack_from("<I", head, 0x40)[0] == VDI_SIGNATURE:
            return int(struct.unpack_from("<Q", head, 368)[0])
        return None
    if disk_format == "vhd":
        footer = tail[-TAIL_BYTES:] if len(tail) >= TAIL_BYTES else b""
        if footer[:8] != VHD_COOKIE and head[:8] == VHD_COOKIE:
            footer = head[:TAIL_BYTES]  # dynamic disks keep a copy at the start
        if len(footer) >= 56 and footer[:8] == VHD_COOKIE:
            return int(struct.unpack_from(">Q", footer, 48)[0])
        return None
    return None


def _vmdk_descriptor_size(head: bytes) -> int | None:
    """A monolithic-flat descriptor lists extents as ``RW <sectors> FLAT "file" 0``."""
    if b"# Disk DescriptorFile" not in head[:1024]:
        return None
    total = 0
    for raw_line in head.decode("latin-1").splitlines():
        fields = raw_line.split()
        if len(fields) >= 3 and fields[0] in ("RW", "RDONLY", "NOACCESS") and fields[1].isdigit():
            total += int(fields[1]) * SECTOR
    return total or None


class FormatSniffer:
    """Keeps the first and last bytes of a stream, for :func:`virtual_size`."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = b""

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        if len(data) >= TAIL_BYTES:
            self.tail = bytes(data[-TAIL_BYTES:])
        else:
            self.tail = (self.tail + bytes(data))[-TAIL_BYTES:]

    def virtual_size(self, disk_format: str | None, size: int) -> int | None:
        return virtual_size(disk_format, bytes(self.head), self.tail, size)
