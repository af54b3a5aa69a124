"""Image data: upload (PUT /file), download (GET /file, Range), failed and interrupted
uploads, and the glance-direct import (PUT /stage + POST /import).

References: api-ref/source/v2/images-data.inc ("Upload binary image data", "Download binary
image data") and images-import.inc of openstack/glance.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ImageUser, image_data, md5_hex, raw_http, sha512_hex

pytestmark = pytest.mark.functional

CHUNK = 64 * 1024


def _chunks(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _settled(user: ImageUser, image_id: str, transient: tuple[str, ...] = ("saving",)) -> Any:
    """The image once it has left `transient` states (the server may notice a dropped upload
    a moment after the client went away)."""
    deadline = time.monotonic() + 30
    while True:
        shown = user.show(image_id)
        if shown["status"] not in transient or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def _assert_no_data(user: ImageUser, image_id: str) -> None:
    """ "If no image data exists, the call returns the HTTP 204 (No Content)"."""
    shown = user.show(image_id)
    assert shown["status"] == "queued", shown
    for key in ("size", "virtual_size", "checksum", "os_hash_value"):
        assert shown[key] is None, (key, shown)
    resp = user.http.get(f"/images/{image_id}/file")
    assert resp.status_code == 204, (resp.status_code, resp.content[:200])
    assert resp.content == b""


def test_streamed_upload_and_download(image_owner: ImageUser) -> None:
    """A chunked upload (no Content-Length) of a few MiB; the download carries Content-MD5
    ("contains an MD5 checksum of the image data") and is byte-for-byte equal."""
    data = image_data(3 * 1024 * 1024 + 123)
    image = image_owner.create(disk_format="raw", container_format="bare")
    resp = image_owner.upload(image["id"], _chunks(data))
    assert resp.status_code == 204, resp.text
    shown = image_owner.show(image["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["virtual_size"] == len(data)
    assert shown["checksum"] == md5_hex(data)
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == sha512_hex(data)

    with image_owner.http.stream("GET", f"/images/{image['id']}/file") as dl:
        assert dl.status_code == 200
        assert dl.headers["content-type"] == "application/octet-stream"
        assert dl.headers["content-md5"] == md5_hex(data)
        assert int(dl.headers["content-length"]) == len(data)
        body = b"".join(dl.iter_bytes())
    assert body == data


def test_glanceclient_upload_and_verified_download(image_owner: ImageUser) -> None:
    glance = image_owner.glance()
    data = image_data(300 * 1024)
    image = glance.images.create(
        name=f"gc-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare", color="red"
    )
    image_owner.janitor.track(image["id"])
    assert image["color"] == "red"
    glance.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
    shown = glance.images.get(image["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    # images.data checks the download against os_hash_value (and Content-MD5)
    assert b"".join(glance.images.data(image["id"])) == data
    glance.images.update(image["id"], remove_props=["color"], min_disk=1)
    shown = glance.images.get(image["id"])
    assert "color" not in shown and shown["min_disk"] == 1
    glance.image_tags.update(image["id"], "gc-tag")
    assert glance.images.get(image["id"])["tags"] == ["gc-tag"]
    glance.image_tags.delete(image["id"], "gc-tag")
    assert glance.images.get(image["id"])["tags"] == []
    glance.images.delete(image["id"])
    assert image_owner.http.get(f"/images/{image['id']}").status_code == 404


def test_openstacksdk_create_download_update_delete(image_owner: ImageUser) -> None:
    conn = image_owner.sdk()
    data = image_data(200 * 1024)
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    image = conn.image.create_image(
        name, data=data, disk_format="raw", container_format="bare", wait=True
    )
    image_owner.janitor.track(image.id)
    fetched = conn.image.get_image(image.id)
    assert fetched.status == "active"
    assert fetched.size == len(data)
    assert fetched.checksum == md5_hex(data)
    assert fetched.hash_value == sha512_hex(data)
    out = io.BytesIO()
    conn.image.download_image(image.id, output=out)
    assert out.getvalue() == data
    conn.image.update_image(image.id, min_ram=128, os_distro="cirros")
    fetched = conn.image.get_image(image.id)
    assert fetched.min_ram == 128
    assert fetched.properties.get("os_distro") == "cirros" or fetched.os_distro == "cirros"
    conn.image.add_tag(image.id, "sdk-tag")
    assert [i.id for i in conn.image.images(tag="sdk-tag", owner=image_owner.project_id)] == [
        image.id
    ]
    conn.image.delete_image(image.id)
    assert conn.image.find_image(image.id) is None


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, 9999),
        ("bytes=-50", 9950, 9999),
        ("bytes=9990-20000", 9990, 9999),
        ("bytes=5000-5000", 5000, 5000),
    ],
)
def test_range_download(
    image_owner: ImageUser, ranged_image: tuple[str, bytes], range_header: str, start: int, end: int
) -> None:
    """A partial download is 206 with Content-Range (RFC 7233)."""
    image_id, data = ranged_image
    resp = image_owner.http.get(f"/images/{image_id}/file", headers={"Range": range_header})
    assert resp.status_code == 206, resp.content[:300]
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
    assert resp.content == data[start : end + 1]
    assert int(resp.headers["content-length"]) == end + 1 - start


@pytest.mark.parametrize("range_header", ["bytes=10000-10010", "bytes=20000-"])
def test_unsatisfiable_range_is_416(
    image_owner: ImageUser, ranged_image: tuple[str, bytes], range_header: str
) -> None:
    """ "For an unsatisfiable partial download request, the call returns the HTTP 416"."""
    image_id, _ = ranged_image
    resp = image_owner.http.get(f"/images/{image_id}/file", headers={"Range": range_header})
    assert resp.status_code == 416, resp.content[:300]


def test_multi_range_is_refused(image_owner: ImageUser, ranged_image: tuple[str, bytes]) -> None:
    """ "Note that multi range requests are not supported" (Glance answers 400)."""
    image_id, _ = ranged_image
    resp = image_owner.http.get(f"/images/{image_id}/file", headers={"Range": "bytes=0-1,5-6"})
    assert resp.status_code == 400, resp.content[:300]


@pytest.fixture(scope="module")
def ranged_image(image_owner: ImageUser) -> tuple[str, bytes]:
    data = image_data(10000)
    return image_owner.active_image(data)["id"], data


def test_download_without_data_or_image(image_owner: ImageUser) -> None:
    image = image_owner.create(disk_format="raw", container_format="bare")
    _assert_no_data(image_owner, image["id"])
    assert image_owner.http.get(f"/images/{uuid.uuid4()}/file").status_code == 404


def test_upload_to_active_image_is_409(image_owner: ImageUser) -> None:
    data = image_data(2000)
    image = image_owner.active_image(data)
    resp = image_owner.upload(image["id"], image_data(3000))
    assert resp.status_code == 409, resp.text
    shown = image_owner.show(image["id"])
    assert shown["size"] == len(data) and shown["checksum"] == md5_hex(data)
    assert image_owner.http.get(f"/images/{image['id']}/file").content == data


def test_upload_needs_disk_and_container_format(image_owner: ImageUser) -> None:
    """Precondition: "You must set the disk and container formats in the image."."""
    image = image_owner.create(disk_format="raw")
    resp = image_owner.upload(image["id"], image_data(100))
    assert resp.status_code == 400, resp.content[:300]
    _assert_no_data(image_owner, image["id"])


def test_upload_needs_octet_stream(image_owner: ImageUser) -> None:
    """ "Set the Content-Type request header to application/octet-stream" (415 otherwise)."""
    image = image_owner.create(disk_format="raw", container_format="bare")
    resp = image_owner.upload(image["id"], b'{"a": 1}', **{"Content-Type": "application/json"})
    assert resp.status_code == 415, resp.text
    _assert_no_data(image_owner, image["id"])


def test_upload_to_missing_image_is_404(image_owner: ImageUser) -> None:
    assert image_owner.upload(str(uuid.uuid4()), b"x").status_code == 404


@pytest.mark.parametrize("declared", [10001, 9999])
def test_size_mismatch_fails_and_leaves_nothing(image_owner: ImageUser, declared: int) -> None:
    """x-openstack-image-size: "If the actual size does not match the expected size, a 400
    (Bad Request) response is returned." The image stays queued; a correct upload then works."""
    data = image_data(10000)
    image = image_owner.create(disk_format="raw", container_format="bare")
    resp = image_owner.upload(image["id"], _chunks(data, 4096), **{
        "x-openstack-image-size": str(declared)
    })  # fmt: skip
    assert resp.status_code == 400, resp.content[:300]
    _assert_no_data(image_owner, image["id"])
    resp = image_owner.upload(image["id"], data, **{"x-openstack-image-size": str(len(data))})
    assert resp.status_code == 204, resp.text
    assert image_owner.http.get(f"/images/{image['id']}/file").content == data


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_interrupted_upload_leaves_image_queued(image_owner: ImageUser, framing: str) -> None:
    """The client goes away in the middle of the body (once the server is saving): the image
    must not become active, no partial data may be served, and the upload can be retried."""
    image = image_owner.create(disk_format="raw", container_format="bare")
    headers = {"X-Auth-Token": image_owner.token, "Content-Type": "application/octet-stream"}
    if framing == "content-length":
        headers["Content-Length"] = str(1024 * 1024)
    partial = image_data(256 * 1024)

    def until_saving() -> None:
        # "saving: The Image service is in the process of saving the raw data"
        assert _settled(image_owner, image["id"], ("queued",))["status"] == "saving"

    raw_http(
        f"{image_owner.image_url}/v2/images/{image['id']}/file",
        "PUT",
        headers,
        _chunks(partial),
        close_early=True,
        before_close=until_saving,
    )
    shown = _settled(image_owner, image["id"])
    assert shown["status"] == "queued", shown
    _assert_no_data(image_owner, image["id"])

    data = image_data(300 * 1024)
    resp = image_owner.upload(image["id"], data)
    assert resp.status_code == 204, resp.text
    shown = image_owner.show(image["id"])
    assert shown["size"] == len(data) and shown["checksum"] == md5_hex(data)
    assert image_owner.http.get(f"/images/{image['id']}/file").content == data


# --- interoperable import: glance-direct ------------------------------------------------


def test_glance_direct_import(image_owner: ImageUser) -> None:
    data = image_data(1024 * 1024 + 7)
    resp = image_owner.http.post(
        "/images", json={"name": "gd", "disk_format": "raw", "container_format": "bare"}
    )
    assert resp.status_code == 201, resp.text
    image = resp.json()
    image_owner.janitor.track(image["id"])
    # "the Image Create response will include a OpenStack-image-import-methods header"
    methods = resp.headers.get("openstack-image-import-methods", "")
    assert "glance-direct" in [m.strip() for m in methods.split(",")], resp.headers
    assert "web-download" not in methods

    stage = image_owner.http.put(
        f"/images/{image['id']}/stage",
        content=_chunks(data),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert stage.status_code == 204, stage.text
    # "you can see the image status as uploading"; the data "is not accessible for download
    # until after the Image Import call is made"
    assert image_owner.show(image["id"])["status"] == "uploading"
    early = image_owner.http.get(f"/images/{image['id']}/file")
    assert early.status_code == 204, early.status_code
    again = image_owner.http.put(
        f"/images/{image['id']}/stage",
        content=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert again.status_code == 409, again.text

    imp = image_owner.http.post(
        f"/images/{image['id']}/import", json={"method": {"name": "glance-direct"}}
    )
    assert imp.status_code == 202, imp.text
    shown = _settled(image_owner, image["id"], ("uploading", "importing"))
    assert shown["status"] == "active", shown
    assert shown["size"] == len(data)
    assert shown["checksum"] == md5_hex(data)
    assert shown["os_hash_value"] == sha512_hex(data)
    assert image_owner.http.get(f"/images/{image['id']}/file").content == data
    # an active image takes no more staging
    late = image_owner.http.put(
        f"/images/{image['id']}/stage",
        content=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert late.status_code == 409, late.text


def test_import_errors(image_owner: ImageUser) -> None:
    image = image_owner.create(disk_format="raw", container_format="bare")
    url = f"/images/{image['id']}/import"
    # glance-direct needs staged data ("The image status must be uploading")
    resp = image_owner.http.post(url, json={"method": {"name": "glance-direct"}})
    assert resp.status_code == 409, resp.text
    # a method this cloud does not offer, or no method at all
    resp = image_owner.http.post(
        url, json={"method": {"name": "web-download", "uri": "http://example.com/x.img"}}
    )
    assert resp.status_code == 400, resp.content[:300]
    resp = image_owner.http.post(url, json={"method": {"name": "no-such-method"}})
    assert resp.status_code == 400, resp.content[:300]
    assert image_owner.http.post(url, json={}).status_code == 400
    assert image_owner.http.post(url, json={"method": {}}).status_code == 400
    assert image_owner.show(image["id"])["status"] == "queued"
    missing = image_owner.http.post(
        f"/images/{uuid.uuid4()}/import", json={"method": {"name": "glance-direct"}}
    )
    assert missing.status_code == 404, missing.text


def test_stage_then_delete(image_owner: ImageUser) -> None:
    image = image_owner.create(disk_format="raw", container_format="bare")
    stage = image_owner.http.put(
        f"/images/{image['id']}/stage",
        content=image_data(4096),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert stage.status_code == 204, stage.text
    assert image_owner.http.delete(f"/images/{image['id']}").status_code == 204
    assert image_owner.http.get(f"/images/{image['id']}").status_code == 404
    assert image_owner.http.get(f"/images/{image['id']}/file").status_code == 404
