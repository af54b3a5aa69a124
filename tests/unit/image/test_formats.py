"""Virtual sizes read from disk image headers, whole or streamed through FormatSniffer."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from onestack.image.formats import HEAD_BYTES, TAIL_BYTES, FormatSniffer, virtual_size

QEMU_IMG = shutil.which("qemu-img")
needs_qemu_img = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img is not installed")
GIB = 1024**3


# -- hand-built images ----------------------------------------------------------------------------


def qcow2_image(size: int) -> bytes:
    """The start of a qcow2 v3 image: magic, version, backing file, cluster bits, size."""
    header = struct.pack(">4sIQIIQ", b"QFI\xfb", 3, 0, 0, 16, size)
    return header + bytes(4096 - len(header))


def vmdk_sparse_image(sectors: int) -> bytes:
    """A hosted sparse extent header: magic KDMV, version, flags, capacity in sectors."""
    header = struct.pack("<4sIIQQ", b"KDMV", 1, 3, sectors, 128)
    return header + bytes(2048 - len(header))


def vmdk_descriptor(*extents: str) -> bytes:
    lines = [
        "# Disk DescriptorFile",
        "version=1",
        "CID=fffffffe",
        "parentCID=ffffffff",
        'createType="monolithicFlat"',
        "",
        "# Extent description",
        *extents,
        "",
        "# The Disk Data Base",
        "#DDB",
        'ddb.geometry.cylinders = "20"',
        'ddb.adapterType = "ide"',
    ]
    return ("\n".join(lines) + "\n").encode()


def vdi_image(size: int) -> bytes:
    header = bytearray(1024)
    header[:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(40, b"\0")
    struct.pack_into("<II", header, 0x40, 0xBEDA107F, 0x00010001)
    struct.pack_into("<Q", header, 368, size)
    return bytes(header)


def vhd_footer(size: int, original: int | None = None) -> bytes:
    footer = bytearray(512)
    footer[:8] = b"conectix"
    struct.pack_into(">IIQ", footer, 8, 2, 0x00010000, 0xFFFFFFFFFFFFFFFF)
    struct.pack_into(">QQ", footer, 40, original if original is not None else size, size)
    footer[60:64] = struct.pack(">I", 2)  # fixed
    return bytes(footer)


def whole(disk_format: str, data: bytes) -> int | None:
    return virtual_size(disk_format, data[:HEAD_BYTES], data[-TAIL_BYTES:], len(data))


# -- virtual_size ---------------------------------------------------------------------------------


def test_qcow2_header() -> None:
    assert whole("qcow2", qcow2_image(10 * GIB + 512)) == 10 * GIB + 512


def test_qcow2_header_too_short_or_wrong_magic() -> None:
    data = qcow2_image(GIB)
    assert virtual_size("qcow2", data[:31], b"", 31) is None
    assert virtual_size("qcow2", data[:32], b"", 32) == GIB
    assert whole("qcow2", b"QFI\xfa" + data[4:]) is None
    assert whole("qcow2", vdi_image(GIB)) is None


def test_vmdk_sparse_header_counts_sectors() -> None:
    assert whole("vmdk", vmdk_sparse_image(20480)) == 20480 * 512
    assert whole("vmdk", b"KDMW" + vmdk_sparse_image(20480)[4:]) is None


def test_vmdk_monolithic_flat_descriptor() -> None:
    descriptor = vmdk_descriptor('RW 20480 FLAT "disk-flat.vmdk" 0')
    assert whole("vmdk", descriptor) == 20480 * 512


def test_vmdk_descriptor_sums_extents_of_every_access_mode() -> None:
    descriptor = vmdk_descriptor(
        'RW 100 FLAT "a.vmdk" 0',
        'RDONLY 200 SPARSE "b.vmdk"',
        'NOACCESS 300 ZERO "c.vmdk"',
        'RW many FLAT "d.vmdk" 0',  # not a sector count: ignored
    )
    assert whole("vmdk", descriptor) == 600 * 512


def test_vmdk_descriptor_without_extents_or_marker() -> None:
    assert whole("vmdk", vmdk_descriptor()) is None
    plain = vmdk_descriptor('RW 100 FLAT "a.vmdk" 0').replace(b"# Disk DescriptorFile", b"#")
    assert whole("vmdk", plain) is None
    # The marker must be near the start: a text file merely mentioning it is no descriptor.
    late = b"x" * 2000 + vmdk_descriptor('RW 100 FLAT "a.vmdk" 0')
    assert whole("vmdk", late) is None


def test_vdi_header() -> None:
    assert whole("vdi", vdi_image(64 * 1024 * 1024)) == 64 * 1024 * 1024
    assert virtual_size("vdi", vdi_image(512)[:375], b"", 375) is None
    broken = bytearray(vdi_image(512))
    struct.pack_into("<I", broken, 0x40, 0xBEDA107E)
    assert whole("vdi", bytes(broken)) is None


def test_vhd_fixed_footer_at_the_end() -> None:
    size = 3 * 1024 * 1024
    data = bytes(size) + vhd_footer(size, original=size - 512)
    assert whole("vhd", data) == size  # the current size, not the original one


def test_vhd_dynamic_copy_at_the_start() -> None:
    # A dynamic disk starts with a copy of its footer; the end may not be there (yet).
    data = vhd_footer(GIB) + bytes(1536) + b"not a footer" * 100
    assert whole("vhd", data) == GIB


def test_vhd_footer_at_the_end_wins_over_the_copy() -> None:
    data = vhd_footer(GIB) + bytes(1024) + vhd_footer(2 * GIB)
    assert whole("vhd", data) == 2 * GIB


def test_vhd_without_cookie() -> None:
    assert whole("vhd", bytes(4096)) is None
    assert whole("vhd", b"conectiy" + vhd_footer(GIB)[8:]) is None
    assert virtual_size("vhd", b"", b"", 0) is None


@pytest.mark.parametrize("disk_format", ["raw", "iso"])
@pytest.mark.parametrize("content", [b"", b"\0" * 4096, b"QFI\xfb" + bytes(100)])
def test_raw_and_iso_are_as_big_as_their_bytes(disk_format: str, content: bytes) -> None:
    assert whole(disk_format, content) == len(content)
    assert virtual_size(disk_format, b"", b"", 12345) == 12345


@pytest.mark.parametrize("disk_format", ["qcow2", "vmdk", "vdi", "vhd"])
def test_wrong_magic_is_none(disk_format: str) -> None:
    assert whole(disk_format, b"\x7fELF" + bytes(8192)) is None


@pytest.mark.parametrize("disk_format", [None, "ami", "ari", "aki", "vhdx", "ploop", "nonsense"])
def test_formats_without_a_header_reading(disk_format: str | None) -> None:
    assert whole(disk_format, qcow2_image(GIB)) is None  # type: ignore[arg-type]


# -- FormatSniffer --------------------------------------------------------------------------------


def chunked(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    """``data`` cut into pieces of the given sizes, repeated until all is given."""
    offset, index = 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        index += 1


def sniff(data: bytes, sizes: list[int], kind: type = bytes) -> FormatSniffer:
    sniffer = FormatSniffer()
    for piece in chunked(data, sizes):
        sniffer.update(kind(piece))
    return sniffer


CHUNKINGS = [
    [1],
    [7, 1, 3],
    [511],
    [512],
    [513, 1],
    [4096],
    [65535, 2],
    [HEAD_BYTES + 1],
    [10**7],
]


def sample_images() -> dict[str, tuple[str, bytes]]:
    rng = random.Random(7)
    noise = rng.randbytes(200_000)
    return {
        "qcow2": ("qcow2", qcow2_image(GIB) + noise),
        "vmdk": ("vmdk", vmdk_sparse_image(4096) + noise),
        "vmdk-descriptor": ("vmdk", vmdk_descriptor('RW 4096 FLAT "f.vmdk" 0')),
        "vdi": ("vdi", vdi_image(GIB) + noise),
        "vhd-fixed": ("vhd", noise + vhd_footer(len(noise))),
        "vhd-dynamic": ("vhd", vhd_footer(GIB) + noise + vhd_footer(GIB)),
        "raw": ("raw", noise),
    }


@pytest.mark.parametrize("name", sorted(sample_images()))
@pytest.mark.parametrize("sizes", CHUNKINGS, ids=lambda s: "-".join(map(str, s)))
def test_sniffer_gives_the_same_result_for_any_chunking(name: str, sizes: list[int]) -> None:
    disk_format, data = sample_images()[name]
    expected = whole(disk_format, data)
    assert expected is not None
    sniffer = sniff(data, sizes)
    assert bytes(sniffer.head) == data[:HEAD_BYTES]
    assert sniffer.tail == data[-TAIL_BYTES:]
    assert sniffer.virtual_size(disk_format, len(data)) == expected


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_sniffer_accepts_every_buffer_type(kind: type) -> None:
    data = vhd_footer(GIB) + bytes(3000) + vhd_footer(5 * GIB)
    sniffer = sniff(data, [100, 1000, 3], kind)
    assert sniffer.virtual_size("vhd", len(data)) == 5 * GIB


def test_sniffer_on_less_than_a_footer() -> None:
    sniffer = sniff(b"abc", [1])
    assert sniffer.tail == b"abc"
    assert bytes(sniffer.head) == b"abc"
    assert sniffer.virtual_size("vhd", 3) is None
    assert sniffer.virtual_size("raw", 3) == 3


# -- real images made by qemu-img -----------------------------------------------------------------


def qemu_img(path: Path, disk_format: str, size: int, *options: str) -> int:
    """Create an image with qemu-img; returns the virtual size qemu-img reports."""
    assert QEMU_IMG is not None
    extra = ["-o", ",".join(options)] if options else []
    subprocess.run(
        [QEMU_IMG, "create", "-q", "-f", disk_format, *extra, str(path), str(size)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    info = subprocess.run(
        [QEMU_IMG, "info", "--output=json", "-f", disk_format, str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return int(json.loads(info.stdout)["virtual-size"])


@needs_qemu_img
@pytest.mark.parametrize(
    ("qemu_format", "options", "disk_format", "size"),
    [
        ("qcow2", (), "qcow2", 10 * GIB),
        ("qcow2", ("compat=0.10",), "qcow2", 3 * 1024 * 1024 + 512),
        ("vmdk", (), "vmdk", GIB),
        ("vmdk", ("subformat=streamOptimized",), "vmdk", 64 * 1024 * 1024),
        ("vmdk", ("subformat=monolithicFlat",), "vmdk", 10 * 1024 * 1024),
        ("vdi", (), "vdi", GIB),
        ("vpc", (), "vhd", 10 * 1024 * 1024),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_qemu_img_images(
    tmp_path: Path, qemu_format: str, options: tuple[str, ...], disk_format: str, size: int
) -> None:
    path = tmp_path / f"disk.{qemu_format}"
    expected = qemu_img(path, qemu_format, size, *options)
    data = path.read_bytes()
    assert whole(disk_format, data) == expected
    for sizes in ([1, 4097], [65536], [333]):
        sniffer = sniff(data, sizes)
        assert sniffer.virtual_size(disk_format, len(data)) == expected


@needs_qemu_img
def test_qemu_img_fixed_vhd(tmp_path: Path) -> None:
    dynamic = qemu_img(tmp_path / "d.vpc", "vpc", 10 * 1024 * 1024)
    qemu_img(tmp_path / "f.vpc", "vpc", 10 * 1024 * 1024, "subformat=fixed")
    data = (tmp_path / "f.vpc").read_bytes()
    # A fixed disk is its data then a 512-byte footer; qemu-img info reports the file length
    # for it, but the footer's current size (the same CHS-rounded size a dynamic disk of the
    # same requested size gets) is what the guest sees.
    assert whole("vhd", data) == len(data) - 512 == dynamic
    assert sniff(data, [4096 + 3]).virtual_size("vhd", len(data)) == dynamic
