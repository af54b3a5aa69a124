"""Image records: create and JSON-patch update (the 403/400/409 rules), delete, v2.0 patches."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from onestack.common.config import Settings
from onestack.common.db import Database, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, PayloadTooLarge
from onestack.image import listing
from onestack.image.access import Caller
from onestack.image.models import Image
from onestack.image.records import Records, from_v20_patch
from onestack.image.service import ImageService

from .conftest import MakeImage

OWNER = Caller(project_id="project-a", is_admin=False)
ADMIN = Caller(project_id="admin-project", is_admin=True)


class Checks:
    """A policy callback that allows everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, rule: str, target: dict[str, Any]) -> None:
        self.asked.append((rule, target))

    @property
    def rules(self) -> list[str]:
        return [rule for rule, _ in self.asked]


@pytest.fixture
def records(db: Database, tmp_path: Path) -> Records:
    return ImageService(db, Settings(state_dir=tmp_path)).records


def create(records: Records, caller: Caller = OWNER, **body: Any) -> dict[str, Any]:
    return records.create(caller, body, Checks())


def patch(records: Records, image_id: str, *ops: dict[str, Any]) -> dict[str, Any]:
    return records.update(OWNER, image_id, list(ops), Checks())


# -- create ---------------------------------------------------------------------------------------


def test_create_defaults(records: Records) -> None:
    image = create(records, name="cirros")
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["owner"] == "project-a"
    assert (image["min_disk"], image["min_ram"]) == (0, 0)
    assert (image["protected"], image["os_hidden"]) == (False, False)
    assert image["size"] is None and image["checksum"] is None
    assert image["tags"] == []
    assert "stores" not in image
    assert records.show(OWNER, image["id"]) == image


def test_create_with_everything(records: Records) -> None:
    image = create(
        records,
        id="12345678123456781234567812345678",
        name="x",
        disk_format="qcow2",
        container_format="bare",
        min_disk=1,
        tags=["b", "a", "b"],
        hw_disk_bus="virtio",
    )
    assert image["id"] == "12345678-1234-5678-1234-567812345678"
    assert image["tags"] == ["a", "b"]
    assert image["hw_disk_bus"] == "virtio"
    assert records.show(OWNER, image["id"])["hw_disk_bus"] == "virtio"


def test_create_asks_policy(records: Records) -> None:
    checks = Checks()
    records.create(OWNER, {"visibility": "public"}, checks)
    assert checks.rules == ["image:add_image", "image:publicize_image"]
    assert checks.asked[0][1]["project_id"] == "project-a"
    checks = Checks()
    records.create(OWNER, {"visibility": "community"}, checks)
    assert checks.rules == ["image:add_image", "image:communitize_image"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "active"}, Forbidden),
        ({"size": 5}, Forbidden),
        ({"locations": []}, Forbidden),
        ({"os_glance_import_method": "x"}, Forbidden),
        ({"owner": "project-b"}, Forbidden),
        ({"id": "nope"}, BadRequest),
        ({"visibility": "everyone"}, BadRequest),
        ({"min_ram": -1}, BadRequest),
        ({"hw_disk_bus": 5}, BadRequest),
        ({"tags": ["a/b"]}, BadRequest),
        ({f"p{i}": "v" for i in range(129)}, PayloadTooLarge),
        ({"tags": [f"t{i}" for i in range(129)]}, PayloadTooLarge),
    ],
)
def test_create_refused(records: Records, body: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        records.create(OWNER, body, Checks())


def test_admin_creates_for_another_project(records: Records) -> None:
    assert create(records, ADMIN, owner="project-b")["owner"] == "project-b"


def test_create_with_a_taken_id(records: Records) -> None:
    image = create(records)
    with pytest.raises(Conflict):
        create(records, id=image["id"])


def test_a_deleted_image_id_is_not_reused(records: Records) -> None:
    image_id = create(records)["id"]
    records.delete(OWNER, image_id, Checks())
    with pytest.raises(Conflict):
        create(records, id=image_id)


# -- update ---------------------------------------------------------------------------------------


def test_patch_properties(records: Records) -> None:
    image_id = create(records, name="old", a="1")["id"]
    image = patch(
        records,
        image_id,
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/b", "value": "2"},
        {"op": "add", "path": "/a", "value": "one"},  # add replaces an existing one
        {"op": "add", "path": "/x~1y", "value": "slash"},
        {"op": "replace", "path": "/tags", "value": ["t"]},
    )
    assert (image["name"], image["a"], image["b"], image["x/y"]) == ("new", "one", "2", "slash")
    assert image["tags"] == ["t"]
    image = patch(records, image_id, {"op": "remove", "path": "/b"})
    assert "b" not in image
    assert records.show(OWNER, image_id) == image


@pytest.mark.parametrize(
    ("ops", "error"),
    [
        ([{"op": "replace", "path": "/missing", "value": "x"}], Conflict),
        ([{"op": "remove", "path": "/missing"}], Conflict),
        ([{"op": "remove", "path": "/name"}], Forbidden),
        ([{"op": "replace", "path": "/id", "value": str(uuid.uuid4())}], Forbidden),
        ([{"op": "replace", "path": "/status", "value": "active"}], Forbidden),
        ([{"op": "add", "path": "/os_glance_x", "value": "x"}], Forbidden),
        ([{"op": "replace", "path": "/owner", "value": "project-b"}], Forbidden),
        ([{"op": "move", "path": "/name", "from": "/x"}], BadRequest),
        ([{"op": "replace", "path": "/a/b", "value": "x"}], BadRequest),
        ([{"op": "replace", "path": "name", "value": "x"}], BadRequest),
        ([{"op": "replace", "path": "/name"}], BadRequest),
        ([{"op": "remove", "path": "/a", "value": "x"}], BadRequest),
        ([{"op": "add", "value": "x"}], BadRequest),
        ([{"op": "add", "path": "/a", "value": "x", "extra": 1}], BadRequest),
        ([{"op": "replace", "path": "/min_disk", "value": "1"}], BadRequest),
        (["replace"], BadRequest),
    ],
)
def test_patch_refused(records: Records, ops: list[Any], error: type[Exception]) -> None:
    image_id = create(records, name="kept", a="1")["id"]
    with pytest.raises(error):
        records.update(OWNER, image_id, ops, Checks())
    assert records.show(OWNER, image_id)["name"] == "kept"


def test_patch_is_all_or_nothing(records: Records) -> None:
    image_id = create(records, name="kept")["id"]
    ops = [
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "remove", "path": "/missing"},
    ]
    with pytest.raises(Conflict):
        records.update(OWNER, image_id, ops, Checks())
    assert records.show(OWNER, image_id)["name"] == "kept"


def test_formats_change_only_while_queued(records: Records, make_image: MakeImage) -> None:
    image_id = make_image(status="active", disk_format="raw", container_format="bare")
    with pytest.raises(Forbidden):
        patch(records, image_id, {"op": "replace", "path": "/disk_format", "value": "qcow2"})
    same = patch(records, image_id, {"op": "replace", "path": "/disk_format", "value": "raw"})
    assert same["disk_format"] == "raw"


def test_patch_body_not_a_list(records: Records) -> None:
    image_id = create(records)["id"]
    with pytest.raises(BadRequest):
        records.update(OWNER, image_id, {"op": "add"}, Checks())  # type: ignore[arg-type]


# -- delete ---------------------------------------------------------------------------------------


def test_delete(records: Records, make_image: MakeImage) -> None:
    image_id = make_image(status="active", location=f"ab/{uuid.uuid4()}")
    protected = make_image(protected=True)
    with pytest.raises(Forbidden):
        records.delete(OWNER, protected, Checks())
    assert records.delete(OWNER, image_id, Checks())[0].startswith("ab/")
    assert records.delete(OWNER, create(records)["id"], Checks()) == []


# -- list pages -----------------------------------------------------------------------------------


def test_list_pages_and_markers(records: Records) -> None:
    made = [create(records, name=f"n{i}")["id"] for i in range(5)]
    docs, marker = records.list_page(OWNER, [("limit", "3"), ("sort", "name:asc")])
    assert [orjson.loads(d)["id"] for d in docs] == made[:3]
    assert marker == made[2]
    docs, marker = records.list_page(
        OWNER, [("limit", "3"), ("sort", "name:asc"), ("marker", marker)]
    )
    assert [orjson.loads(d)["name"] for d in docs] == ["n3", "n4"]
    assert marker is None


def test_list_shows_the_current_version(records: Records) -> None:
    image_id = create(records, name="before")["id"]
    assert orjson.loads(records.list_page(OWNER, [])[0][0])["name"] == "before"
    patch(records, image_id, {"op": "replace", "path": "/name", "value": "after"})
    assert orjson.loads(records.list_page(OWNER, [])[0][0])["name"] == "after"


def test_image_updated_while_a_page_is_read(
    any_db: Database,
    make_any_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    records = ImageService(any_db, Settings(state_dir=tmp_path)).records
    ids = [make_any_image(name=f"n{i}") for i in range(3)]
    read_page = listing.page

    def page_then_update(*args: Any) -> Any:
        keys = read_page(*args)
        with any_db.write() as session:
            image = session.get(Image, ids[1])
            assert image is not None
            image.updated_at = utcnow()  # another request changes the image meanwhile
        return keys

    monkeypatch.setattr(listing, "page", page_then_update)
    docs, _ = records.list_page(OWNER, [])
    assert sorted(orjson.loads(d)["id"] for d in docs) == sorted(ids)


# -- the v2.0 patch form --------------------------------------------------------------------------


def test_from_v20_patch() -> None:
    assert from_v20_patch(
        [
            {"replace": "/name", "value": "x"},
            {"remove": "/a"},
            {"op": "add", "path": "/b", "value": "1"},
            {"add": "/c", "replace": "/d"},  # ambiguous: left as it is, refused later
            "junk",
        ]
    ) == [
        {"op": "replace", "path": "/name", "value": "x"},
        {"op": "remove", "path": "/a"},
        {"op": "add", "path": "/b", "value": "1"},
        {"add": "/c", "replace": "/d"},
        "junk",
    ]
    assert from_v20_patch({"replace": "/name"}) == {"replace": "/name"}
