"""Which images a caller sees: access.visible / find_image (show) and access.listed (lists)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onestack.common.db import Database
from onestack.common.errors import NotFound
from onestack.image.access import Caller, find_image, listed, visible
from onestack.image.models import Image

from .conftest import MakeImage

A, B, C = "project-a", "project-b", "project-c"
OWNER = Caller(project_id=A, is_admin=False)
ADMIN = Caller(project_id="admin-project", is_admin=True)
NOBODY = Caller(project_id=None, is_admin=False)

# name: (owner, visibility, {member project: status})
IMAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "own_private": (A, "private", {}),
    "own_shared": (A, "shared", {B: "accepted"}),
    "own_public": (A, "public", {}),
    "own_community": (A, "community", {}),
    "other_private": (B, "private", {}),
    "other_public": (B, "public", {}),
    "other_community": (B, "community", {}),
    "other_shared": (B, "shared", {C: "accepted"}),
    "accepted": (B, "shared", {A: "accepted", C: "pending"}),
    "pending": (B, "shared", {A: "pending"}),
    "rejected": (B, "shared", {A: "rejected"}),
    # shared once, then made private: the membership stays but gives no access
    "unshared": (B, "private", {A: "accepted"}),
}
OWN = {"own_private", "own_shared", "own_public", "own_community"}
EVERYTHING = set(IMAGES)


@pytest.fixture
def images(make_image: MakeImage) -> dict[str, str]:
    return {
        name: make_image(owner=owner, visibility=visibility, members=members, name=name)
        for name, (owner, visibility, members) in IMAGES.items()
    }


def names_listed(
    db: Database, caller: Caller, visibility: str | None = None, member_status: str = "accepted"
) -> set[str]:
    with db.read() as session:
        query = select(Image.name).where(listed(caller, visibility, member_status))
        return set(session.scalars(query))


def names_visible(db: Database, caller: Caller) -> set[str]:
    condition = visible(caller)
    query = select(Image.name) if condition is None else select(Image.name).where(condition)
    with db.read() as session:
        return set(session.scalars(query))


# -- lists ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "member_status", "expected"),
    [
        (None, "accepted", OWN | {"other_public", "accepted"}),
        (None, "pending", OWN | {"other_public", "pending"}),
        (None, "rejected", OWN | {"other_public", "rejected"}),
        (None, "all", OWN | {"other_public", "accepted", "pending", "rejected"}),
        ("all", "accepted", OWN | {"other_public", "other_community", "accepted"}),
        (
            "all",
            "all",
            OWN | {"other_public", "other_community", "accepted", "pending", "rejected"},
        ),
        ("public", "accepted", {"own_public", "other_public"}),
        ("community", "accepted", {"own_community", "other_community"}),
        ("community", "all", {"own_community", "other_community"}),
        ("private", "accepted", {"own_private"}),
        ("private", "all", {"own_private"}),
        ("shared", "accepted", {"own_shared", "accepted"}),
        ("shared", "pending", {"own_shared", "pending"}),
        ("shared", "rejected", {"own_shared", "rejected"}),
        ("shared", "all", {"own_shared", "accepted", "pending", "rejected"}),
    ],
)
def test_owner_lists(
    db: Database,
    images: dict[str, str],
    visibility: str | None,
    member_status: str,
    expected: set[str],
) -> None:
    assert names_listed(db, OWNER, visibility, member_status) == expected


def test_member_lists_follow_its_own_membership(db: Database, images: dict[str, str]) -> None:
    member_c = Caller(project_id=C, is_admin=False)
    assert names_listed(db, member_c) == {"own_public", "other_public", "other_shared"}
    assert names_listed(db, member_c, member_status="pending") == {
        "own_public",
        "other_public",
        "accepted",
    }
    # project-a's acceptance of "accepted" says nothing about project-c's own membership
    assert "accepted" not in names_listed(db, member_c, "shared")
    assert names_listed(db, member_c, "shared", "all") == {"other_shared", "accepted"}


def test_project_without_images_sees_only_public(db: Database, images: dict[str, str]) -> None:
    stranger = Caller(project_id="project-z", is_admin=False)
    assert names_listed(db, stranger) == {"own_public", "other_public"}
    assert names_listed(db, stranger, "all") == {
        "own_public",
        "other_public",
        "own_community",
        "other_community",
    }
    assert names_listed(db, stranger, "private") == set()
    assert names_listed(db, stranger, "shared", "all") == set()


@pytest.mark.parametrize(
    ("visibility", "expected"),
    [
        (None, EVERYTHING),
        ("all", EVERYTHING),
        ("public", {"own_public", "other_public"}),
        ("community", {"own_community", "other_community"}),
        ("private", {"own_private", "other_private", "unshared"}),
        ("shared", {"own_shared", "other_shared", "accepted", "pending", "rejected"}),
    ],
)
def test_admin_lists(
    db: Database, images: dict[str, str], visibility: str | None, expected: set[str]
) -> None:
    assert names_listed(db, ADMIN, visibility) == expected
    # an administrator's member_status does not narrow anything
    assert names_listed(db, ADMIN, visibility, "rejected") == expected


def test_caller_without_project_lists_by_visibility(db: Database, images: dict[str, str]) -> None:
    assert names_listed(db, NOBODY, "public") == {"own_public", "other_public"}
    assert names_listed(db, NOBODY, "community") == {"own_community", "other_community"}
    assert names_listed(db, NOBODY, "private") == set()
    assert names_listed(db, NOBODY, "shared") == set()


def test_caller_without_project_all_is_a_superset(db: Database, images: dict[str, str]) -> None:
    everyone = {"own_public", "other_public", "own_community", "other_community"}
    assert names_listed(db, NOBODY, "all") == everyone


# -- show -----------------------------------------------------------------------------------------


def test_visible_to_owner(db: Database, images: dict[str, str]) -> None:
    assert names_visible(db, OWNER) == OWN | {
        "other_public",
        "other_community",
        "accepted",
        "pending",
        "rejected",
    }


def test_visible_to_others(db: Database, images: dict[str, str]) -> None:
    assert names_visible(db, ADMIN) == EVERYTHING
    public = {"own_public", "other_public", "own_community", "other_community"}
    assert names_visible(db, NOBODY) == public
    assert names_visible(db, Caller(project_id=C, is_admin=False)) == public | {
        "other_shared",
        "accepted",
    }


def test_find_image_is_404_for_what_a_caller_cannot_see(
    db: Database, images: dict[str, str]
) -> None:
    with db.read() as session:
        assert find_image(session, OWNER, images["pending"]).name == "pending"
        assert find_image(session, ADMIN, images["other_private"]).name == "other_private"
        for name in ("other_private", "other_shared", "unshared"):
            with pytest.raises(NotFound) as raised:
                find_image(session, OWNER, images[name])
            assert raised.value.status == 404
        with pytest.raises(NotFound):
            find_image(session, ADMIN, "00000000-0000-0000-0000-000000000000")


def test_find_image_with_lock(db: Database, images: dict[str, str]) -> None:
    with db.write() as session:
        image = find_image(session, OWNER, images["own_private"], lock=True)
        assert image.owner == A
