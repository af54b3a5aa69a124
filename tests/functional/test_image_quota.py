"""Per-project image quotas, set by the operator with `onestack image-quota set PROJECT_ID
--image-count-total N --image-size-total MIB` (Glance's unified-limit names; -1: unlimited).

Over quota is 413 (api-ref: "Create image" and "Upload binary image data" list 413; Glance
answers 413 for LimitExceeded). The size quota holds during an upload, too: an upload that
would exceed it fails before its body is complete and leaves nothing stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ImageUser, Server, image_data, md5_hex, raw_http, unique

pytestmark = pytest.mark.functional

MIB = 1024 * 1024


@pytest.fixture
def quota(
    onestack_admin_cli: Callable[..., Any], image_owner: ImageUser
) -> Iterator[Callable[[int, int], None]]:
    def set_quota(count: int, size_mib: int) -> None:
        result = onestack_admin_cli(
            "image-quota",
            "set",
            image_owner.project_id,
            "--image-count-total",
            str(count),
            "--image-size-total",
            str(size_mib),
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"

    yield set_quota
    set_quota(-1, -1)
    for image_id in image_owner.list_ids(visibility="all", os_hidden="false"):
        image_owner.http.delete(f"/images/{image_id}")


def _stored_bytes(server: Server) -> int | None:
    """Bytes in the default image store (<state dir>/images, staging included), if local."""
    store = server.state_dir / "images"
    if server.proc is None or not store.is_dir():
        return None
    return sum(p.stat().st_size for p in Path(store).rglob("*") if p.is_file())


def _put(
    user: ImageUser,
    image_id: str,
    data: bytes,
    *,
    chunked: bool,
    path: str = "file",
    wait_before_end: float = 0.0,
) -> tuple[int | None, bool]:
    """PUT `data`; (status, whether the server answered before the body was complete). With
    `wait_before_end`, the last bytes wait that long for an early answer."""
    headers = {"X-Auth-Token": user.token, "Content-Type": "application/octet-stream"}
    if not chunked:
        headers["Content-Length"] = str(len(data))
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    status, _raw, answered_early = raw_http(
        f"{user.image_url}/v2/images/{image_id}/{path}",
        "PUT",
        headers,
        chunks,
        wait_before_end=wait_before_end,
    )
    return status, answered_early


def _assert_nothing_stored(user: ImageUser, image_id: str) -> None:
    shown = user.show(image_id)
    assert shown["status"] == "queued", shown
    assert shown["size"] is None and shown["checksum"] is None, shown
    assert user.http.get(f"/images/{image_id}/file").status_code == 204


def test_image_count_quota(image_owner: ImageUser, quota: Callable[[int, int], None]) -> None:
    quota(2, -1)
    first = image_owner.create()
    image_owner.create()
    resp = image_owner.http.post("/images", json={"name": unique("img")})
    assert resp.status_code == 413, resp.text
    name = unique("img")
    out = image_owner.cli_fails("image", "create", name)
    assert "413" in out or "quota" in out.lower() or "limit" in out.lower(), out
    assert image_owner.list_ids(name=name) == []
    assert len(image_owner.list_ids(visibility="all")) == 2

    assert image_owner.http.delete(f"/images/{first['id']}").status_code == 204
    image_owner.create()
    quota(3, -1)
    image_owner.create()
    assert image_owner.http.post("/images", json={}).status_code == 413
    # a limit of 0 allows no image at all
    quota(0, -1)
    assert image_owner.http.post("/images", json={}).status_code == 413


def test_other_projects_are_not_limited(
    image_owner: ImageUser, image_other: ImageUser, quota: Callable[[int, int], None]
) -> None:
    quota(0, 0)
    assert image_owner.http.post("/images", json={}).status_code == 413
    image = image_other.active_image(image_data(MIB))
    assert image["status"] == "active"


def test_image_size_quota(
    server: Server, image_owner: ImageUser, quota: Callable[[int, int], None]
) -> None:
    quota(-1, 3)
    a = image_owner.create(disk_format="raw", container_format="bare")
    assert image_owner.upload(a["id"], image_data(2 * MIB)).status_code == 204

    # 2 MiB used; another 2 MiB would make 4 > 3
    b = image_owner.create(disk_format="raw", container_format="bare")
    before = _stored_bytes(server)
    status, _ = _put(image_owner, b["id"], image_data(2 * MIB), chunked=False)
    assert status == 413
    _assert_nothing_stored(image_owner, b["id"])
    if before is not None:
        assert _stored_bytes(server) == before

    # exactly up to the limit is fine
    data = image_data(MIB)
    assert image_owner.upload(b["id"], data).status_code == 204
    assert image_owner.show(b["id"])["checksum"] == md5_hex(data)

    c = image_owner.create(disk_format="raw", container_format="bare")
    status, _ = _put(image_owner, c["id"], image_data(MIB), chunked=False)
    assert status == 413
    _assert_nothing_stored(image_owner, c["id"])

    # deleting frees the space
    assert image_owner.http.delete(f"/images/{a['id']}").status_code == 204
    assert image_owner.upload(c["id"], image_data(2 * MIB)).status_code == 204
    assert image_owner.show(c["id"])["status"] == "active"


def test_size_quota_holds_during_a_chunked_upload(
    server: Server, image_owner: ImageUser, quota: Callable[[int, int], None]
) -> None:
    """No Content-Length: the server cannot know the size up front, so it must stop the
    upload once it passes the remaining quota - before the body ends - and keep nothing."""
    quota(-1, 3)
    a = image_owner.create(disk_format="raw", container_format="bare")
    assert image_owner.upload(a["id"], image_data(2 * MIB)).status_code == 204

    c = image_owner.create(disk_format="raw", container_format="bare")
    before = _stored_bytes(server)
    status, answered_early = _put(
        image_owner, c["id"], image_data(6 * MIB), chunked=True, wait_before_end=10.0
    )
    assert status == 413
    assert answered_early, "the server refused the upload only after the whole body"
    _assert_nothing_stored(image_owner, c["id"])
    if before is not None:
        assert _stored_bytes(server) == before

    # nothing of the refused upload counts against the quota
    data = image_data(MIB)
    assert (
        image_owner.upload(c["id"], (data[i : i + 65536] for i in range(0, MIB, 65536))).status_code
        == 204
    )
    shown = image_owner.show(c["id"])
    assert shown["status"] == "active" and shown["checksum"] == md5_hex(data)


def test_size_quota_applies_to_glance_direct_import(
    image_owner: ImageUser, quota: Callable[[int, int], None]
) -> None:
    """Stage and import both have the precondition "Your image storage quota must be
    sufficient": data over the quota may be refused at either step, but never becomes an
    active image."""
    quota(-1, 1)
    big = image_owner.create(disk_format="raw", container_format="bare")
    status, _ = _put(image_owner, big["id"], image_data(2 * MIB), chunked=True, path="stage")
    assert status in (204, 413), status
    if status == 204:
        resp = image_owner.http.post(
            f"/images/{big['id']}/import", json={"method": {"name": "glance-direct"}}
        )
        assert resp.status_code in (202, 413), resp.text
    deadline = time.monotonic() + 30
    while image_owner.show(big["id"])["status"] in ("importing", "saving"):
        assert time.monotonic() < deadline, "the import never finished"
        time.sleep(0.2)
    assert image_owner.show(big["id"])["status"] != "active"
    assert image_owner.http.delete(f"/images/{big['id']}").status_code == 204

    small = image_owner.create(disk_format="raw", container_format="bare")
    status, _ = _put(image_owner, small["id"], image_data(MIB // 2), chunked=True, path="stage")
    assert status == 204
    resp = image_owner.http.post(
        f"/images/{small['id']}/import", json={"method": {"name": "glance-direct"}}
    )
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 30
    while image_owner.show(small["id"])["status"] != "active":
        assert time.monotonic() < deadline, image_owner.show(small["id"])
        time.sleep(0.2)
