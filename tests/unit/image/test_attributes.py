"""Attribute names and values a caller may set, and restricted JSON pointers."""

from __future__ import annotations

from typing import Any

import pytest

from onestack.common.errors import BadRequest, Forbidden
from onestack.image import attributes as attrs

# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "stores",
    ],
)
def test_read_only_names_are_forbidden(name: str) -> None:
    with pytest.raises(Forbidden, match="read-only") as raised:
        attrs.check_name(name)
    assert raised.value.status == 403


@pytest.mark.parametrize(
    "name",
    [
        "deleted",
        "deleted_at",
        "location",
        "locations",
        "os_glance_importing_to_stores",
        "os_glance_failed_import",
        "os_glance_",
    ],
)
def test_reserved_names_are_forbidden(name: str) -> None:
    with pytest.raises(Forbidden, match="reserved") as raised:
        attrs.check_name(name)
    assert raised.value.status == 403


@pytest.mark.parametrize("name", ["", "x" * 256, "a\nb", "tab\there", "\x00", "bell\x07"])
def test_bad_names_are_bad_requests(name: str) -> None:
    with pytest.raises(BadRequest) as raised:
        attrs.check_name(name)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    "name", ["hw_disk_bus", "x" * 255, "os_distro", "glance_x", "os_glanc", "ünïcode", "a/b"]
)
def test_custom_property_names(name: str) -> None:
    attrs.check_name(name)  # no error


def test_core_sets_agree() -> None:
    assert attrs.READ_ONLY.isdisjoint(attrs.SETTABLE)
    assert attrs.RESERVED.isdisjoint(attrs.CORE)
    assert attrs.READ_ONLY | attrs.SETTABLE | {"id"} == attrs.CORE


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("id", "12345678-1234-5678-1234-567812345678", "12345678-1234-5678-1234-567812345678"),
        ("id", "12345678123456781234567812345678", "12345678-1234-5678-1234-567812345678"),
        ("id", "{12345678-1234-5678-1234-567812345678}", "12345678-1234-5678-1234-567812345678"),
        ("name", "cirros", "cirros"),
        ("name", None, None),
        ("name", "n" * 255, "n" * 255),
        ("visibility", "community", "community"),
        ("disk_format", "qcow2", "qcow2"),
        ("disk_format", None, None),
        ("container_format", "bare", "bare"),
        ("container_format", None, None),
        ("min_disk", 0, 0),
        ("min_ram", 2**31 - 1, 2**31 - 1),
        ("protected", True, True),
        ("os_hidden", False, False),
        ("tags", ["a", "b", "a"], ["a", "b"]),
        ("tags", [], []),
        ("owner", "0123abcd", "0123abcd"),
        ("owner", None, None),
        ("hw_disk_bus", "virtio", "virtio"),
        ("description", "", ""),
        ("description", "x" * 65535, "x" * 65535),
    ],
)
def test_good_values(name: str, value: Any, expected: Any) -> None:
    assert attrs.check_value(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("id", "not-a-uuid"),
        ("id", 12),
        ("id", None),
        ("name", 5),
        ("name", "n" * 256),
        ("name", ["a"]),
        ("visibility", "everyone"),
        ("visibility", None),
        ("visibility", "Public"),
        ("disk_format", "qcow3"),
        ("disk_format", 1),
        ("container_format", "zip"),
        ("min_disk", -1),
        ("min_disk", 2**31),
        ("min_disk", "1"),
        ("min_disk", 1.0),
        ("min_ram", True),
        ("min_ram", None),
        ("protected", "true"),
        ("protected", 1),
        ("os_hidden", None),
        ("tags", "a,b"),
        ("tags", ["ok", 5]),
        ("tags", ["ok", ""]),
        ("tags", ["a/b"]),
        ("tags", ["t" * 256]),
        ("tags", None),
        ("owner", 5),
        ("owner", "o" * 256),
        ("hw_disk_bus", 1),
        ("hw_disk_bus", None),
        ("hw_disk_bus", True),
        ("hw_disk_bus", {"a": "b"}),
        ("description", "x" * 65536),
    ],
)
def test_bad_values_are_bad_requests(name: str, value: Any) -> None:
    with pytest.raises(BadRequest) as raised:
        attrs.check_value(name, value)
    assert raised.value.status == 400


@pytest.mark.parametrize("disk_format", attrs.DISK_FORMATS)
def test_every_disk_format(disk_format: str) -> None:
    assert attrs.check_value("disk_format", disk_format) == disk_format


@pytest.mark.parametrize("container_format", attrs.CONTAINER_FORMATS)
def test_every_container_format(container_format: str) -> None:
    assert attrs.check_value("container_format", container_format) == container_format


def test_tags_keep_their_first_order() -> None:
    assert attrs.check_tags(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert attrs.check_tag("t" * 255) == "t" * 255


# -- JSON pointers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/name", "name"),
        ("/hw_disk_bus", "hw_disk_bus"),
        ("/a~1b", "a/b"),
        ("/a~0b", "a~b"),
        ("/~01", "~1"),  # ~0 then 1, not ~ then ~1
        ("/~10", "/0"),
        ("/~0~1~0", "~/~"),
        ("/~1~1", "//"),
        ("/", ""),
        ("/ spaced ", " spaced "),
    ],
)
def test_pointer_escapes(path: str, name: str) -> None:
    assert attrs.parse_pointer(path) == name


@pytest.mark.parametrize("path", ["/a/b", "/a/", "//", "/tags/0", "/a~1b/c"])
def test_nested_pointers_are_bad_requests(path: str) -> None:
    with pytest.raises(BadRequest, match="nested"):
        attrs.parse_pointer(path)


@pytest.mark.parametrize("path", ["name", "", "~1name", None, 5, ["/name"]])
def test_pointers_must_start_with_a_slash(path: Any) -> None:
    with pytest.raises(BadRequest, match="must start with"):
        attrs.parse_pointer(path)


@pytest.mark.parametrize("path", ["/~", "/a~", "/~2", "/a~b", "/~~", "/~~1", "/a~~0"])
def test_bad_escapes_are_bad_requests(path: str) -> None:
    with pytest.raises(BadRequest, match="bad escape"):
        attrs.parse_pointer(path)


def test_lone_tilde_before_an_escape_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="bad escape"):
        attrs.parse_pointer("/~~01")
