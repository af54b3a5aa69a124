"""GET /v2/images: filters, sorting and pagination, with raw HTTP (api-ref
images-images-v2.inc "List images").

A module-scoped set of images, all carrying one tag unique to this run, is queried with that
tag plus the filter under test, so that other images on the server never interfere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from .conftest import ImageUser, image_data, make_qcow2, unique

pytestmark = pytest.mark.functional


@dataclass
class Catalog:
    tag: str
    prefix: str
    images: dict[str, dict[str, Any]]  # letter -> image as shown after setup

    def ids(self, *letters: str) -> set[str]:
        return {self.images[letter]["id"] for letter in letters}

    def letter(self, image_id: str) -> str:
        return next(k for k, v in self.images.items() if v["id"] == image_id)


def _ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog(image_owner: ImageUser, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Images a..f of the owner, tagged with one run-unique tag:

    a raw/bare 1000 B active private, tags red
    b qcow2/bare active shared, tags red blue
    c raw/ovf 5000 B active, protected
    -- at least a second later --
    d iso/bare queued, hidden (os_hidden)
    e ami/ami queued
    f raw/bare 3000 B active community
    -- at least a second later, a is updated (min_ram) --
    """
    tag = unique("lst")
    prefix = unique("n")
    qcow2 = make_qcow2(Path(tmp_path_factory.mktemp("img")) / "b.qcow2")
    own = image_owner

    def make(letter: str, data: bytes | None = None, **body: Any) -> dict[str, Any]:
        body["tags"] = [tag, *body.get("tags", [])]
        image = own.create(name=f"{prefix}-{letter}", **body)
        if data is not None:
            resp = own.upload(image["id"], data)
            assert resp.status_code == 204, resp.text
        return image

    made = {
        "a": make("a", image_data(1000), disk_format="raw", container_format="bare",
                  visibility="private", tags=["red"]),
        "b": make("b", qcow2, disk_format="qcow2", container_format="bare",
                  visibility="shared", tags=["red", "blue"]),
        "c": make("c", image_data(5000), disk_format="raw", container_format="ovf",
                  protected=True),
    }  # fmt: skip
    time.sleep(1.1)  # created_at has (at least) one-second resolution
    made["d"] = make("d", disk_format="iso", container_format="bare", os_hidden=True)
    made["e"] = make("e", disk_format="ami", container_format="ami")
    made["f"] = make(
        "f", image_data(3000), disk_format="raw", container_format="bare", visibility="community"
    )
    time.sleep(1.1)
    resp = own.patch(made["a"]["id"], [{"op": "replace", "path": "/min_ram", "value": 64}])
    assert resp.status_code == 200, resp.text
    images = {letter: own.show(image["id"]) for letter, image in made.items()}
    return Catalog(tag, prefix, images)


def _query(user: ImageUser, catalog: Catalog, **params: Any) -> list[str]:
    return user.list_ids(tag=catalog.tag, **params)


VISIBLE = ("a", "b", "c", "e", "f")  # everything but the hidden d


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, VISIBLE),
        ({"status": "active"}, ("a", "b", "c", "f")),
        ({"status": "queued"}, ("e",)),
        ({"status": "in:queued,active"}, VISIBLE),
        ({"visibility": "private"}, ("a",)),
        ({"visibility": "shared"}, ("b", "c", "e")),  # c and e: the default visibility
        ({"visibility": "community"}, ("f",)),
        ({"visibility": "all"}, VISIBLE),
        ({"size_min": "1001"}, ("b", "c", "f")),
        ({"size_max": "1000"}, ("a",)),
        ({"size_min": "1000", "size_max": "5000"}, ("a", "c", "f")),
        ({"container_format": "ovf"}, ("c",)),
        ({"container_format": "ami"}, ("e",)),
        ({"disk_format": "qcow2"}, ("b",)),
        ({"disk_format": "in:iso,ami"}, ("e",)),
        ({"protected": "true"}, ("c",)),
        ({"protected": "false"}, ("a", "b", "e", "f")),
        ({"os_hidden": "true"}, ("d",)),
        ({"os_hidden": "false"}, VISIBLE),
        ({"os_hidden": "true", "status": "queued"}, ("d",)),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_filters(
    image_owner: ImageUser, catalog: Catalog, params: dict[str, str], expected: tuple[str, ...]
) -> None:
    got = _query(image_owner, catalog, **params)
    assert len(got) == len(set(got)), got
    assert sorted(catalog.letter(i) for i in got) == sorted(expected)


def test_filter_by_name_and_in_operator(image_owner: ImageUser, catalog: Catalog) -> None:
    p = catalog.prefix
    assert set(_query(image_owner, catalog, name=f"{p}-a")) == catalog.ids("a")
    assert set(_query(image_owner, catalog, name=f"in:{p}-a,{p}-c")) == catalog.ids("a", "c")
    assert _query(image_owner, catalog, name=f"{p}-") == []  # names match exactly
    ids = catalog.ids("b", "e")
    assert set(_query(image_owner, catalog, id="in:" + ",".join(sorted(ids)))) == ids


@pytest.mark.parametrize(
    ("letter", "attribute"),
    [("c", "size"), ("c", "checksum"), ("a", "min_ram"), ("b", "virtual_size")],
)
def test_direct_comparison_filters(
    image_owner: ImageUser, catalog: Catalog, letter: str, attribute: str
) -> None:
    """ "A client can provide direct comparison filters by using most image attributes"
    (Tempest: ListUserImagesTest.test_list_images_param_size filters on size)."""
    image = _current(image_owner, catalog)[letter]
    assert _query(image_owner, catalog, **{attribute: str(image[attribute])}) == [image["id"]]


def test_filter_by_custom_property(image_owner: ImageUser, catalog: Catalog) -> None:
    """Glance also compares additional properties (`?os_distro=...`)."""
    b = catalog.images["b"]["id"]
    resp = image_owner.patch(b, [{"op": "add", "path": "/os_distro", "value": catalog.tag}])
    assert resp.status_code == 200, resp.text
    try:
        assert _query(image_owner, catalog, os_distro=catalog.tag) == [b]
        assert _query(image_owner, catalog, os_distro="something-else") == []
    finally:
        image_owner.patch(b, [{"op": "remove", "path": "/os_distro"}])


def test_filter_by_several_tags(image_owner: ImageUser, catalog: Catalog) -> None:
    """ "only images containing both tags will be included in the response"."""
    resp = image_owner.http.get(
        "/images", params=[("tag", catalog.tag), ("tag", "red"), ("tag", "blue")]
    )
    assert resp.status_code == 200, resp.text
    assert {i["id"] for i in resp.json()["images"]} == catalog.ids("b")
    resp = image_owner.http.get("/images", params=[("tag", catalog.tag), ("tag", "red")])
    assert {i["id"] for i in resp.json()["images"]} == catalog.ids("a", "b")


def test_filter_by_owner(image_owner: ImageUser, image_other: ImageUser, catalog: Catalog) -> None:
    assert set(_query(image_owner, catalog, owner=image_owner.project_id)) == catalog.ids(*VISIBLE)
    assert _query(image_owner, catalog, owner=image_other.project_id) == []
    # another project sees only the community image, and only when asking for community
    assert _query(image_other, catalog) == []
    assert set(_query(image_other, catalog, visibility="community")) == catalog.ids("f")


def test_filter_by_member_status(
    image_owner: ImageUser, image_other: ImageUser, catalog: Catalog
) -> None:
    b = catalog.images["b"]["id"]
    resp = image_owner.http.post(f"/images/{b}/members", json={"member": image_other.project_id})
    assert resp.status_code == 200, resp.text
    try:
        assert _query(image_other, catalog) == []
        assert _query(image_other, catalog, member_status="pending") == [b]
        assert _query(image_other, catalog, member_status="accepted") == []
        assert _query(image_other, catalog, member_status="all") == [b]
        assert _query(image_other, catalog, visibility="shared", member_status="pending") == [b]
        resp = image_other.http.put(
            f"/images/{b}/members/{image_other.project_id}", json={"status": "accepted"}
        )
        assert resp.status_code == 200, resp.text
        assert _query(image_other, catalog) == [b]
        assert _query(image_other, catalog, visibility="shared") == [b]
        assert _query(image_other, catalog, member_status="pending") == []
    finally:
        image_owner.http.delete(f"/images/{b}/members/{image_other.project_id}")


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "eq", "neq"])
def test_time_comparison_filters(
    image_owner: ImageUser, catalog: Catalog, field: str, op: str
) -> None:
    """`created_at=gt:<ISO 8601>` etc. (Time Comparison Filters); the threshold is a time
    some images have exactly, so each operator's boundary is checked."""
    current = _current(image_owner, catalog)
    threshold = current["e"][field]
    limit = _ts(threshold)
    compare = {
        "gt": lambda t: t > limit,
        "gte": lambda t: t >= limit,
        "lt": lambda t: t < limit,
        "lte": lambda t: t <= limit,
        "eq": lambda t: t == limit,
        "neq": lambda t: t != limit,
    }[op]
    expected = {
        image["id"]
        for letter, image in current.items()
        if letter in VISIBLE and compare(_ts(image[field]))
    }
    got = _query(image_owner, catalog, **{field: f"{op}:{threshold}"})
    assert set(got) == expected
    if op in ("gt", "lt"):
        assert catalog.images["e"]["id"] not in got
    if op in ("gte", "lte", "eq"):
        assert catalog.images["e"]["id"] in got


def test_time_filters_see_updates_and_time_zones(image_owner: ImageUser, catalog: Catalog) -> None:
    before = _current(image_owner, catalog)
    others = [img for letter, img in before.items() if letter in VISIBLE and letter != "a"]
    latest_other = max(_ts(img["updated_at"]) for img in others)
    while datetime.now(UTC) < latest_other + timedelta(seconds=1.05):
        time.sleep(0.1)
    a_id = catalog.images["a"]["id"]
    ops = [{"op": "replace", "path": "/min_ram", "value": before["a"]["min_ram"] + 1}]
    resp = image_owner.patch(a_id, ops)
    assert resp.status_code == 200, resp.text
    a = image_owner.show(a_id)
    assert _ts(a["updated_at"]) > latest_other, (a["updated_at"], latest_other)
    stamp = latest_other.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _query(image_owner, catalog, updated_at=f"gt:{stamp}") == [a_id]
    # "If you omit the time zone, the UTC time zone is assumed."
    naive = latest_other.strftime("%Y-%m-%dT%H:%M:%S")
    assert _query(image_owner, catalog, updated_at=f"gt:{naive}") == [a_id]
    # the same instant written with a +02:00 offset
    plus_two = latest_other.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert _query(image_owner, catalog, updated_at=f"gt:{plus_two}") == [a_id]
    older = _query(image_owner, catalog, updated_at=f"lte:{plus_two}")
    assert older and a_id not in older
    assert _query(image_owner, catalog, created_at="lt:2000-01-01T00:00:00Z") == []


def _current(user: ImageUser, catalog: Catalog) -> dict[str, dict[str, Any]]:
    """The catalog's images as shown now (other tests may have touched them)."""
    return {letter: user.show(image["id"]) for letter, image in catalog.images.items()}


@pytest.mark.parametrize(
    "params",
    [
        {"created_at": "bogus:2020-01-01T00:00:00Z"},
        {"created_at": "gt:not-a-date"},
        {"protected": "maybe"},
        {"visibility": "everyone"},
        {"member_status": "maybe"},
        {"sort_key": "no_such_key"},
        {"sort_dir": "sideways"},
        {"sort": "name:sideways"},
        {"sort": "name:asc", "sort_key": "status"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"marker": "00000000-0000-0000-0000-000000000000"},
        {"size_min": "abc"},
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()),
)
def test_invalid_list_parameters_are_400(
    image_owner: ImageUser, catalog: Catalog, params: dict[str, str]
) -> None:
    resp = image_owner.http.get("/images", params={"tag": catalog.tag, **params})
    assert resp.status_code == 400, resp.text


def test_mismatched_sort_dirs_are_400(image_owner: ImageUser, catalog: Catalog) -> None:
    params = [("sort_key", "name"), ("sort_key", "status"), ("sort_key", "size")]
    params += [("sort_dir", "asc"), ("sort_dir", "desc")]
    resp = image_owner.http.get("/images", params=[("tag", catalog.tag), *params])
    assert resp.status_code == 400, resp.text


def _names(user: ImageUser, catalog: Catalog, params: list[tuple[str, str]]) -> list[str]:
    resp = user.http.get("/images", params=[("tag", catalog.tag), *params])
    assert resp.status_code == 200, resp.text
    return [image["name"].rsplit("-", 1)[1] for image in resp.json()["images"]]


def test_sorting(image_owner: ImageUser, catalog: Catalog) -> None:
    assert _names(image_owner, catalog, [("sort_key", "name"), ("sort_dir", "asc")]) == list(
        "abcef"
    )
    assert _names(image_owner, catalog, [("sort_key", "name"), ("sort_dir", "desc")]) == list(
        "fecba"
    )
    # "If you omit the sort direction in a set, the default is desc."
    assert _names(image_owner, catalog, [("sort_key", "name")]) == list("fecba")
    assert _names(image_owner, catalog, [("sort", "name")]) == list("fecba")
    # several keys, classic syntax: status asc (active < queued), then name desc
    classic = [("sort_key", "status"), ("sort_dir", "asc"), ("sort_key", "name")]
    classic.append(("sort_dir", "desc"))
    assert _names(image_owner, catalog, classic) == list("fcbae")
    # the same with sort=
    assert _names(image_owner, catalog, [("sort", "status:asc,name:desc")]) == list("fcbae")
    # one sort_dir applies to every key
    both_asc = [("sort_key", "disk_format"), ("sort_key", "name"), ("sort_dir", "asc")]
    assert _names(image_owner, catalog, both_asc) == list("ebacf")
    assert _names(image_owner, catalog, [("sort", "container_format:desc,name:asc")]) == list(
        "cabfe"
    )
    sized = [("status", "active"), ("sort", "size:asc")]
    assert _names(image_owner, catalog, sized) == list("afcb")


def test_default_order_is_newest_first(image_owner: ImageUser, catalog: Catalog) -> None:
    """sort_key "Default is created_at", sort_dir default desc."""
    resp = image_owner.http.get("/images", params={"tag": catalog.tag})
    stamps = [_ts(image["created_at"]) for image in resp.json()["images"]]
    assert stamps == sorted(stamps, reverse=True)
    assert {image["id"] for image in resp.json()["images"]} == catalog.ids(*VISIBLE)


def test_pagination_with_limit_marker_and_next(image_owner: ImageUser, catalog: Catalog) -> None:
    """ "The next link preserves any query parameters that you send"; no next on the last
    page; `marker` is the id of the last-seen image."""
    params = {"tag": catalog.tag, "sort_key": "name", "sort_dir": "asc", "limit": "2"}
    resp = image_owner.http.get("/images", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["schema"] == "/v2/schemas/images"
    assert body["first"].startswith("/v2/images")
    pages = [[i["name"][-1] for i in body["images"]]]
    while body.get("next"):
        nxt = body["next"]
        assert nxt.startswith("/v2/images?"), nxt
        assert f"tag={catalog.tag}" in nxt and "limit=2" in nxt and "sort_key=name" in nxt, nxt
        assert "marker=" in nxt, nxt
        body = image_owner.http.get(image_owner.image_url + nxt).json()
        pages.append([i["name"][-1] for i in body["images"]])
        assert len(pages) < 10
    assert [p for p in pages if p] == [["a", "b"], ["c", "e"], ["f"]]

    marker = catalog.images["b"]["id"]
    after = image_owner.http.get("/images", params={**params, "marker": marker, "limit": "10"})
    assert [i["name"][-1] for i in after.json()["images"]] == ["c", "e", "f"]
    assert "next" not in after.json() or not after.json()["next"]


def test_list_entries_have_every_base_property(image_owner: ImageUser, catalog: Catalog) -> None:
    """ "The base properties are always included in the image representation. A base property
    that doesn't have a value is displayed with its value set to null"."""
    resp = image_owner.http.get("/images", params={"tag": catalog.tag, "status": "queued"})
    (image,) = resp.json()["images"]
    base = {
        "checksum", "container_format", "created_at", "disk_format", "file", "id", "min_disk",
        "min_ram", "name", "os_hash_algo", "os_hash_value", "os_hidden", "owner", "protected",
        "schema", "self", "size", "status", "tags", "updated_at", "virtual_size", "visibility",
    }  # fmt: skip
    assert base <= set(image), sorted(base - set(image))
    for key in ("checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size"):
        assert image[key] is None, (key, image)
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
