"""The image service driven by the stock `openstack` CLI (python-openstackclient).

Expectations come from the Image API v2 reference (api-ref/source/v2/images-images-v2.inc,
images-data.inc, images-import.inc of openstack/glance), cited per test. The CLI finds the
service through the catalog (type `image`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    QCOW2_VIRTUAL_SIZE,
    ImageUser,
    assert_not_found,
    image_data,
    make_qcow2,
    md5_hex,
    sha512_hex,
    unique,
)

# The CLI drives the same API the httpx, openstacksdk and glanceclient tests drive on every
# backend; its own runs (a second or more per command) happen on the first backend only.
pytestmark = [pytest.mark.functional, pytest.mark.one_backend]


def _cli_create(user: ImageUser, *args: str) -> dict[str, Any]:
    """`openstack image create ARGS`. Without --file the CLI uploads its standard input, here
    /dev/null: such images are active with no data (size 0)."""
    image: dict[str, Any] = user.cli_json("image", "create", *args)
    user.janitor.track(image["id"])
    return image


def _properties(shown: dict[str, Any]) -> dict[str, Any]:
    props = shown.get("properties") or {}
    assert isinstance(props, dict), shown
    return props


def test_create_qcow2_from_file_then_list_show_save(image_owner: ImageUser, tmp_path: Path) -> None:
    """`image create --file disk.qcow2`: active, size, checksum (md5), os_hash_value (sha512)
    and virtual_size read from the qcow2 header; `image save` gives the same bytes back."""
    disk = tmp_path / "disk.qcow2"
    data = make_qcow2(disk)
    name = unique("img")
    created = _cli_create(
        image_owner,
        "--file",
        str(disk),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        name,
    )
    assert created["name"] == name
    assert created["status"] == "active", created
    assert created["disk_format"] == "qcow2"
    assert created["container_format"] == "bare"

    shown = image_owner.cli_json("image", "show", name)
    assert shown["id"] == created["id"]
    assert shown["size"] == len(data)
    assert shown["checksum"] == md5_hex(data)
    assert shown["virtual_size"] == QCOW2_VIRTUAL_SIZE
    assert shown["owner"] == image_owner.project_id
    # "If you do not specify a visibility value when you create an image, it is assigned this
    # visibility by default" - shared (Image visibility table).
    assert shown["visibility"] == "shared"

    api = image_owner.show(created["id"])
    assert api["os_hash_algo"] == "sha512"
    assert api["os_hash_value"] == sha512_hex(data)
    assert api["checksum"] == md5_hex(data)
    assert api["size"] == len(data)
    assert api["virtual_size"] == QCOW2_VIRTUAL_SIZE

    listed = image_owner.cli_json("image", "list")
    row = next((r for r in listed if r["id"] == created["id"]), None)
    assert row is not None, listed
    assert row["name"] == name
    assert row["status"] == "active"
    by_name = image_owner.cli_json("image", "list", "--name", name, "--long")
    assert [r["id"] for r in by_name] == [created["id"]]
    assert by_name[0]["checksum"] == md5_hex(data)

    out = tmp_path / "saved.qcow2"
    image_owner.cli("image", "save", "--file", str(out), created["id"])
    assert out.read_bytes() == data


def test_create_raw_virtual_size_equals_size(image_owner: ImageUser, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data = image_data(3 * 65536 + 17)
    disk.write_bytes(data)
    created = _cli_create(
        image_owner,
        "--file",
        str(disk),
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        unique("img"),
    )
    shown = image_owner.show(created["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["virtual_size"] == len(data)
    assert shown["checksum"] == md5_hex(data)
    assert shown["os_hash_value"] == sha512_hex(data)
    out = tmp_path / "saved.raw"
    image_owner.cli("image", "save", "--file", str(out), created["id"])
    assert out.read_bytes() == data


def test_properties_set_and_unset(image_owner: ImageUser) -> None:
    """Additional properties are strings, shown only when they have a value
    ("Additional properties, whose value is always a string data type, are only included in
    the response if they have a value")."""
    created = _cli_create(
        image_owner,
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--property",
        "color=blue",
        "--property",
        "shape=round",
        unique("img"),
    )
    props = _properties(image_owner.cli_json("image", "show", created["id"]))
    assert props["color"] == "blue"
    assert props["shape"] == "round"

    image_owner.cli(
        "image",
        "set",
        "--property",
        "color=green",
        "--property",
        "weight=12",
        "--min-disk",
        "2",
        "--min-ram",
        "512",
        created["id"],
    )
    api = image_owner.show(created["id"])
    assert api["color"] == "green"
    assert api["weight"] == "12"
    assert api["shape"] == "round"
    assert api["min_disk"] == 2
    assert api["min_ram"] == 512

    image_owner.cli("image", "unset", "--property", "shape", created["id"])
    api = image_owner.show(created["id"])
    assert "shape" not in api
    assert api["color"] == "green"
    props = _properties(image_owner.cli_json("image", "show", created["id"]))
    assert "shape" not in props


def test_tags_add_and_remove(image_owner: ImageUser) -> None:
    first, second = unique("tag"), unique("tag")
    created = _cli_create(image_owner, "--tag", first, unique("img"))
    assert image_owner.show(created["id"])["tags"] == [first]
    image_owner.cli("image", "set", "--tag", second, created["id"])
    assert sorted(image_owner.show(created["id"])["tags"]) == sorted([first, second])
    tagged = image_owner.cli_json("image", "list", "--tag", second)
    assert [r["id"] for r in tagged] == [created["id"]]
    image_owner.cli("image", "unset", "--tag", first, created["id"])
    assert image_owner.show(created["id"])["tags"] == [second]
    assert image_owner.cli_json("image", "list", "--tag", first) == []


def test_delete(image_owner: ImageUser) -> None:
    created = _cli_create(image_owner, unique("img"))
    image_owner.cli("image", "delete", created["id"])
    assert_not_found(image_owner.cli_fails("image", "show", created["id"]))
    assert image_owner.http.get(f"/images/{created['id']}").status_code == 404
    assert created["id"] not in image_owner.list_ids()


def test_deactivate_and_reactivate(
    image_owner: ImageUser, image_admin: ImageUser, tmp_path: Path
) -> None:
    """ "If you try to download a deactivated image, you will receive a 403 (Forbidden)
    response code" (Deactivate image); the admin still may (Glance: non-admins only)."""
    data = image_data(4096)
    image = image_owner.active_image(data)
    image_admin.cli("image", "set", "--deactivate", image["id"])
    assert image_owner.show(image["id"])["status"] == "deactivated"
    resp = image_owner.http.get(f"/images/{image['id']}/file")
    assert resp.status_code == 403, resp.text
    out = tmp_path / "out.raw"
    image_owner.cli_fails("image", "save", "--file", str(out), image["id"])
    admin_dl = image_admin.http.get(f"/images/{image['id']}/file")
    assert admin_dl.status_code == 200, admin_dl.text
    assert admin_dl.content == data

    image_admin.cli("image", "set", "--activate", image["id"])
    assert image_owner.show(image["id"])["status"] == "active"
    image_owner.cli("image", "save", "--file", str(out), image["id"])
    assert out.read_bytes() == data


def test_protected_image_cannot_be_deleted(image_owner: ImageUser) -> None:
    """ "You cannot delete images with the protected attribute set to true" (Delete image:
    403)."""
    created = _cli_create(image_owner, "--protected", unique("img"))
    assert image_owner.show(created["id"])["protected"] is True
    image_owner.cli_fails("image", "delete", created["id"])
    resp = image_owner.http.delete(f"/images/{created['id']}")
    assert resp.status_code == 403, resp.text
    assert image_owner.http.get(f"/images/{created['id']}").status_code == 200
    image_owner.cli("image", "set", "--unprotected", created["id"])
    image_owner.cli("image", "delete", created["id"])
    assert image_owner.http.get(f"/images/{created['id']}").status_code == 404


def test_visibility_options(image_owner: ImageUser, image_admin: ImageUser) -> None:
    """--private/--shared/--community are the owner's choice; --public needs the admin
    ("At most sites, only an administrator can make an image public")."""
    for flag, visibility in (
        ("--private", "private"),
        ("--shared", "shared"),
        ("--community", "community"),
    ):
        created = _cli_create(image_owner, flag, unique("img"))
        assert image_owner.show(created["id"])["visibility"] == visibility

    name = unique("img")
    out = image_owner.cli_fails("image", "create", "--public", name)
    assert "403" in out or "forbidden" in out.lower(), out
    assert image_owner.list_ids(name=name) == []

    created = _cli_create(image_owner, "--private", unique("img"))
    image_owner.cli_fails("image", "set", "--public", created["id"])
    assert image_owner.show(created["id"])["visibility"] == "private"
    image_admin.cli("image", "set", "--public", created["id"])
    assert image_owner.show(created["id"])["visibility"] == "public"

    public = _cli_create(image_admin, "--public", unique("img"))
    assert image_admin.show(public["id"])["visibility"] == "public"


def test_hidden_images_are_not_listed_by_default(image_owner: ImageUser) -> None:
    """os_hidden: "By default, hidden images are not included in the image-list response";
    `os_hidden=true` lists them (List images, os_hidden query)."""
    created = _cli_create(image_owner, unique("img"))
    image_owner.cli("image", "set", "--hidden", created["id"])
    assert image_owner.show(created["id"])["os_hidden"] is True
    assert created["id"] not in {r["id"] for r in image_owner.cli_json("image", "list")}
    assert created["id"] in {r["id"] for r in image_owner.cli_json("image", "list", "--hidden")}
    image_owner.cli("image", "set", "--unhidden", created["id"])
    assert created["id"] in {r["id"] for r in image_owner.cli_json("image", "list")}


def test_import_glance_direct(image_owner: ImageUser, tmp_path: Path) -> None:
    """`image create --import` stages the file and imports it with glance-direct."""
    info = image_owner.cli_json("image", "import", "info")
    assert "glance-direct" in str(info), info
    disk = tmp_path / "disk.qcow2"
    data = make_qcow2(disk)
    created = _cli_create(
        image_owner,
        "--import",
        "--file",
        str(disk),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        unique("img"),
    )
    shown = _wait_active(image_owner, created["id"])
    assert shown["size"] == len(data)
    assert shown["checksum"] == md5_hex(data)
    assert shown["os_hash_value"] == sha512_hex(data)
    assert shown["virtual_size"] == QCOW2_VIRTUAL_SIZE
    out = tmp_path / "saved.qcow2"
    image_owner.cli("image", "save", "--file", str(out), created["id"])
    assert out.read_bytes() == data


def test_upload_with_wrong_size_fails(image_owner: ImageUser, tmp_path: Path) -> None:
    """`image create --file F --size N` sends x-openstack-image-size: N; "If the actual size
    does not match the expected size, a 400 (Bad Request) response is returned" (Upload
    binary image data). No image of that name becomes active."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(image_data(10000))
    name = unique("img")
    image_owner.cli_fails(
        "image",
        "create",
        "--file",
        str(disk),
        "--size",
        "10001",
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        name,
    )
    for image_id in image_owner.list_ids(name=name):
        image_owner.janitor.track(image_id)
        assert image_owner.show(image_id)["status"] != "active"


def _wait_active(user: ImageUser, image_id: str, timeout: float = 60) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        shown = user.show(image_id)
        if shown["status"] == "active" or time.monotonic() > deadline:
            assert shown["status"] == "active", shown
            return shown
        time.sleep(0.2)
