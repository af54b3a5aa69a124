"""Image lists: query parameters, filters, sorting and keyset pagination on a real database."""

from __future__ import annotations

import functools
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from onestack.common.db import Database
from onestack.common.errors import BadRequest
from onestack.image import listing
from onestack.image.access import Caller, listed
from onestack.image.models import Image, ImageProperty, ImageTag

from .conftest import MakeImage, minutes

OWNER = Caller(project_id="project-a", is_admin=False)
ADMIN = Caller(project_id="admin-project", is_admin=True)
TAIL = [("created_at", "desc"), ("id", "desc")]


def parse(*params: tuple[str, str]) -> listing.ListQuery:
    return listing.parse(list(params), 25, 1000)


# -- parameters -----------------------------------------------------------------------------------


def test_defaults() -> None:
    query = parse()
    assert query.limit == 25
    assert query.marker is None
    assert query.sort == TAIL
    assert query.visibility is None
    assert query.member_status == "accepted"
    assert len(query.conditions) == 1  # hidden images are left out


@pytest.mark.parametrize(
    ("value", "limit"), [("10", 10), ("0", 0), ("1000", 1000), ("1001", 1000), ("99999999", 1000)]
)
def test_limit_is_clamped(value: str, limit: int) -> None:
    assert parse(("limit", value)).limit == limit


@pytest.mark.parametrize("value", ["-1", "abc", "", "1.5", "ten"])
def test_bad_limit(value: str) -> None:
    with pytest.raises(BadRequest):
        parse(("limit", value))


def test_marker() -> None:
    assert parse(("marker", "abc")).marker == "abc"
    assert parse(("marker", "")).marker is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("sort_key", "name")], [("name", "desc"), *TAIL]),
        ([("sort_key", "name"), ("sort_dir", "asc")], [("name", "asc"), *TAIL]),
        (
            [("sort_key", "name"), ("sort_key", "size"), ("sort_dir", "asc")],
            [("name", "asc"), ("size", "asc"), *TAIL],
        ),
        (
            [("sort_key", "name"), ("sort_key", "size"), ("sort_dir", "asc"), ("sort_dir", "desc")],
            [("name", "asc"), ("size", "desc"), *TAIL],
        ),
        ([("sort_key", "name, size")], [("name", "desc"), ("size", "desc"), *TAIL]),
        ([("sort_dir", "asc")], [("created_at", "asc"), ("id", "desc")]),
        ([("sort_key", "id"), ("sort_dir", "asc")], [("id", "asc"), ("created_at", "desc")]),
        (
            [("sort_key", "created_at"), ("sort_dir", "asc")],
            [("created_at", "asc"), ("id", "desc")],
        ),
        ([("sort", "name")], [("name", "desc"), *TAIL]),
        ([("sort", "name:asc,size")], [("name", "asc"), ("size", "desc"), *TAIL]),
        ([("sort", "name:asc"), ("sort", "size:asc")], [("name", "asc"), ("size", "asc"), *TAIL]),
        ([("sort", " status : asc , id:asc")], [("status", "asc"), ("id", "asc"), TAIL[0]]),
        ([("sort", "name:")], [("name", "desc"), *TAIL]),
        ([("sort", "updated_at:asc")], [("updated_at", "asc"), *TAIL]),
    ],
)
def test_sort(params: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert listing.parse(params, 25, 1000).sort == expected


@pytest.mark.parametrize(
    "params",
    [
        [("sort", "name"), ("sort_key", "size")],
        [("sort", "name"), ("sort_dir", "asc")],
        [("sort_key", "name"), ("sort_dir", "asc"), ("sort_dir", "desc"), ("sort_dir", "asc")],
        [
            *[("sort_key", k) for k in ("name", "size", "id")],
            ("sort_dir", "asc"),
            ("sort_dir", "desc"),
        ],
        [("sort_dir", "asc"), ("sort_dir", "desc")],
        [("sort_key", "nonsense")],
        [("sort_key", "checksum")],
        [("sort_key", "")],
        [("sort_key", "name"), ("sort_dir", "up")],
        [("sort", "name:up")],
        [("sort", "name:asc:desc")],
        [("sort", "")],
        [("sort", "name,,size")],
        [("sort", "location:asc")],
    ],
)
def test_bad_sort(params: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        listing.parse(params, 25, 1000)


@pytest.mark.parametrize(
    "param",
    [
        ("visibility", "everyone"),
        ("visibility", "Public"),
        ("member_status", "maybe"),
        ("os_hidden", "maybe"),
        ("protected", "2"),
        ("min_disk", "x"),
        ("min_ram", "1.0"),
        ("size_min", "big"),
        ("size_max", ""),
        ("created_at", "yesterday"),
        ("created_at", "gt:yesterday"),
        ("created_at", "gte:"),
        ("updated_at", "lt:2026-13-01T00:00:00Z"),
        ("updated_at", "between:2026-01-01"),
    ],
)
def test_bad_filter_values(param: tuple[str, str]) -> None:
    with pytest.raises(BadRequest) as raised:
        parse(param)
    assert raised.value.status == 400


def test_visibility_and_member_status() -> None:
    query = parse(("visibility", "all"), ("member_status", "all"))
    assert (query.visibility, query.member_status) == ("all", "all")
    assert parse(("visibility", "community")).visibility == "community"


# -- filters, run against a database --------------------------------------------------------------


@pytest.fixture
def catalog(db: Database, make_image: MakeImage) -> dict[str, str]:
    made = {
        "a": make_image(
            name="alpha",
            status="active",
            disk_format="qcow2",
            container_format="bare",
            size=100,
            min_disk=1,
            min_ram=64,
            protected=True,
            checksum="c1",
            created_at=minutes(0),
            updated_at=minutes(40),
        ),
        "b": make_image(
            name="beta",
            disk_format="raw",
            container_format="ovf",
            created_at=minutes(10),
            updated_at=minutes(10),
        ),
        "c": make_image(
            name="gamma",
            status="active",
            disk_format="iso",
            size=5000,
            os_hidden=True,
            created_at=minutes(20),
            updated_at=minutes(20),
        ),
        "d": make_image(status="saving", disk_format="vmdk", size=1000, created_at=minutes(30)),
    }
    with db.write() as session:
        session.add(ImageTag(image_id=made["a"], value="x"))
        session.add(ImageTag(image_id=made["a"], value="y"))
        session.add(ImageTag(image_id=made["b"], value="y"))
        session.add(ImageProperty(image_id=made["a"], name="hw", value="virtio"))
    return made


def shown(n: float, fraction: str = "", offset_hours: int = 0) -> str:
    """Creation time ``n`` minutes after BASE_TIME as an image shows it: whole seconds (the
    stored .123456 is dropped), or with another ``fraction`` or in another time zone."""
    moment = minutes(n).replace(microsecond=0) + timedelta(hours=offset_hours)
    zone = f"+{offset_hours:02d}:00" if offset_hours else "Z"
    return f"{moment.isoformat()}{fraction}{zone}"


FILTERS: list[tuple[list[tuple[str, str]], str]] = [
    ([], "abd"),
    ([("os_hidden", "true")], "c"),
    ([("os_hidden", "False")], "abd"),
    ([("name", "alpha")], "a"),
    ([("name", "in:alpha,beta")], "ab"),
    ([("name", "in: alpha , gamma")], "a"),
    ([("name", "in:alpha"), ("os_hidden", "1")], ""),
    ([("status", "active")], "a"),
    ([("status", "in:queued,saving")], "bd"),
    ([("disk_format", "in:iso,raw")], "b"),
    ([("container_format", "ovf")], "b"),
    ([("size_min", "1000")], "d"),
    ([("size_max", "1000")], "ad"),
    ([("size_min", "100"), ("size_max", "999")], "a"),
    ([("min_disk", "1")], "a"),
    ([("min_ram", "64")], "a"),
    ([("protected", "true")], "a"),
    ([("protected", "no")], "bd"),
    ([("checksum", "c1")], "a"),
    ([("owner", "project-a")], "abd"),
    ([("owner", "project-b")], ""),
    ([("tag", "x")], "a"),
    ([("tag", "y")], "ab"),
    ([("tag", "x"), ("tag", "y")], "a"),  # every tag named
    ([("tag", "z")], ""),
    ([("hw", "virtio")], "a"),
    ([("hw", "ide")], ""),
    # a stored time compares as the whole second it is shown as (12:10:00.123456 as 12:10:00)
    ([("created_at", f"gt:{shown(10)}")], "d"),
    ([("created_at", f"gte:{shown(10)}")], "bd"),
    ([("created_at", f"lt:{shown(10)}")], "a"),
    ([("created_at", f"lte:{shown(10)}")], "ab"),
    ([("created_at", f"eq:{shown(10)}")], "b"),
    ([("created_at", f"neq:{shown(10)}")], "ad"),
    ([("created_at", shown(10))], "b"),
    ([("created_at", f"eq:{shown(10, offset_hours=2)}")], "b"),
    ([("created_at", f"gt:{shown(0)}"), ("created_at", f"lt:{shown(30)}")], "b"),
    # a time between whole seconds: no shown time equals it
    ([("created_at", f"gt:{shown(10, '.5')}")], "d"),
    ([("created_at", f"gte:{shown(10, '.5')}")], "d"),
    ([("created_at", f"lt:{shown(10, '.5')}")], "ab"),
    ([("created_at", f"lte:{shown(10, '.5')}")], "ab"),
    ([("created_at", f"eq:{shown(10, '.123456')}")], ""),
    ([("created_at", f"neq:{shown(10, '.5')}")], "abd"),
    ([("updated_at", f"gte:{shown(30)}")], "a"),
    ([("updated_at", f"lte:{shown(0)}")], "d"),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_filters(
    db: Database, catalog: dict[str, str], params: list[tuple[str, str]], expected: str
) -> None:
    query = listing.parse(params, 25, 1000)
    with db.read() as session:
        ids = [image_id for image_id, _ in listing.page(session, OWNER, query)]
    assert sorted(ids) == sorted(catalog[letter] for letter in expected)


def test_id_filter(db: Database, catalog: dict[str, str]) -> None:
    with db.read() as session:
        query = parse(("id", f"in:{catalog['a']},{catalog['c']},{catalog['d']}"))
        assert {i for i, _ in listing.page(session, OWNER, query)} == {catalog["a"], catalog["d"]}
        query = parse(("id", catalog["b"]))
        assert [i for i, _ in listing.page(session, OWNER, query)] == [catalog["b"]]


def test_page_returns_updated_at(db: Database, catalog: dict[str, str]) -> None:
    with db.read() as session:
        rows = listing.page(session, OWNER, parse(("name", "alpha")))
    assert rows == [(catalog["a"], minutes(40))]


# -- keyset pagination ----------------------------------------------------------------------------

NAMES = [None, "", "alpha", "beta", "beta", "b", "gamma", None, "alpha"]
SIZES = [None, 0, 10, 10, 500, None, 2**40]


def populate(make: MakeImage, count: int) -> None:
    """Images with many ties: shared names, sizes and creation times, and NULLs."""
    rng = random.Random(2026)
    for index in range(count):
        make(
            name=NAMES[index % len(NAMES)],
            size=SIZES[index % len(SIZES)],
            virtual_size=rng.choice([None, 1, 2]),
            status=rng.choice(["active", "queued", "saving"]),
            disk_format=rng.choice([None, "raw", "qcow2"]),
            min_disk=rng.choice([0, 1]),
            owner=rng.choice(["project-a", "project-b"]),
            visibility=rng.choice(["private", "public", "shared", "community"]),
            created_at=minutes(rng.choice([0, 1, 1, 2])),
            updated_at=minutes(rng.choice([3, 4])),
        )


def expected_order(rows: list[Image], sort: list[tuple[str, str]]) -> list[str]:
    """What the database should answer: NULL names as '', NULL sizes as -1."""

    def compare(left: Image, right: Image) -> int:
        for key, direction in sort:
            default = listing.SORT_KEYS[key]
            a, b = getattr(left, key), getattr(right, key)
            a, b = (default if a is None else a), (default if b is None else b)
            if a != b:
                result = -1 if a < b else 1
                return result if direction == "asc" else -result
        return 0

    return [row.id for row in sorted(rows, key=functools.cmp_to_key(compare))]


def walk(db: Database, caller: Caller, params: list[tuple[str, str]], size: int) -> list[str]:
    seen: list[str] = []
    marker: str | None = None
    for _ in range(1000):
        page_params = [*params, ("limit", str(size))]
        if marker:
            page_params.append(("marker", marker))
        query = listing.parse(page_params, 25, 1000)
        with db.read() as session:
            ids = [image_id for image_id, _ in listing.page(session, caller, query)]
        seen += ids
        if len(ids) < size:
            return seen
        marker = ids[-1]
    raise AssertionError("pagination does not end")


SORTS = [
    [],
    [("sort_key", "name"), ("sort_dir", "asc")],
    [("sort_key", "name")],
    [("sort", "name:desc,size:asc")],
    [("sort", "size:asc")],
    [("sort", "size:desc,name:asc")],
    [("sort", "virtual_size:asc,min_disk:desc")],
    [("sort", "disk_format:asc,name:desc")],
    [("sort", "created_at:asc")],
    [("sort_dir", "asc")],
    [("sort", "status:asc,min_disk:desc,name:asc")],
    [("sort", "id:asc")],
    [("sort", "updated_at:asc,size:desc")],
    [("sort", "owner:asc,visibility:desc")],
]


def test_pages_hold_every_image_once_in_order(any_db: Database, make_any_image: MakeImage) -> None:
    populate(make_any_image, 31)
    with any_db.read() as session:
        every = list(session.scalars(select(Image)))
        mine = select(Image).where(listed(OWNER, None, "accepted"))
        visible_to_owner = list(session.scalars(mine))
    assert 0 < len(visible_to_owner) < len(every)
    for params in SORTS:
        sort = listing.parse(params, 25, 1000).sort
        for caller, rows in ((ADMIN, every), (OWNER, visible_to_owner)):
            expected = expected_order(rows, sort)
            for size in (1, 4, 31, 100):
                assert walk(any_db, caller, params, size) == expected, (params, caller, size)


def test_pages_with_a_filter(db: Database, make_image: MakeImage) -> None:
    populate(make_image, 25)
    params = [("sort", "name:asc,size:desc"), ("status", "in:active,saving")]
    with db.read() as session:
        rows = list(session.scalars(select(Image).where(Image.status.in_(["active", "saving"]))))
    expected = expected_order(rows, listing.parse(params, 25, 1000).sort)
    assert walk(db, ADMIN, params, 4) == expected


def test_limit_zero_is_an_empty_page(db: Database, make_image: MakeImage) -> None:
    make_image()
    with db.read() as session:
        assert listing.page(session, ADMIN, parse(("limit", "0"))) == []


def test_bad_markers(db: Database, make_image: MakeImage) -> None:
    hidden = make_image(owner="project-b", visibility="private")
    with db.read() as session:
        for marker in ("00000000-0000-0000-0000-000000000000", hidden):
            with pytest.raises(BadRequest, match="marker"):
                listing.page(session, OWNER, parse(("marker", marker)))
        # the administrator sees the image, so it is a marker for it
        assert listing.page(session, ADMIN, parse(("marker", hidden))) == []


def test_marker_outside_the_filter_still_places_the_page(
    db: Database, make_image: MakeImage
) -> None:
    first = make_image(name="a", created_at=minutes(0))
    middle = make_image(name="b", status="active", created_at=minutes(1))
    last = make_image(name="c", created_at=minutes(2))
    with db.read() as session:
        query = parse(("status", "queued"), ("marker", middle))
        assert [i for i, _ in listing.page(session, ADMIN, query)] == [first]
        query = parse(("sort_dir", "asc"), ("marker", middle))
        assert [i for i, _ in listing.page(session, ADMIN, query)] == [last]
