"""Visibility and image sharing between projects (api-ref: images-images-v2.inc "Image
visibility", images-sharing-v2.inc), seen from a second project's user.

The owner and the other user each have the `member` role on a project of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import ImageUser, assert_not_found, image_data, unique

pytestmark = pytest.mark.functional


def _member_body(resp: Any, image_id: str, member_id: str, status: str) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["image_id"] == image_id
    assert body["member_id"] == member_id
    assert body["status"] == status
    assert body["schema"] == "/v2/schemas/member"
    assert body["created_at"] and body["updated_at"]
    return body


def test_private_image_of_another_project_is_not_found(
    image_owner: ImageUser, image_other: ImageUser, image_admin: ImageUser
) -> None:
    """Private: "Only the owner image may read the image or its data payload"; to anyone else
    it does not exist (404)."""
    image = image_owner.active_image(visibility="private")
    iid = image["id"]
    assert image_other.http.get(f"/images/{iid}").status_code == 404
    assert image_other.http.get(f"/images/{iid}/file").status_code == 404
    assert image_other.patch(
        iid, [{"op": "replace", "path": "/name", "value": "x"}]
    ).status_code == (404)
    assert image_other.http.delete(f"/images/{iid}").status_code == 404
    assert iid not in image_other.list_ids()
    assert iid not in image_other.list_ids(visibility="all")
    assert_not_found(image_other.cli_fails("image", "show", iid))
    # the owner and the admin see it
    assert iid in image_owner.list_ids()
    assert image_admin.show(iid)["owner"] == image_owner.project_id
    assert image_owner.show(iid)["name"] == image["name"]


def test_shared_image_membership_flow_with_the_cli(
    image_owner: ImageUser, image_other: ImageUser, tmp_path: Path
) -> None:
    """pending: readable by id but not in the member's default list; accepted: listed;
    rejected: hidden again (Update image member)."""
    data = image_data(2048)
    image = image_owner.active_image(data, visibility="shared")
    iid = image["id"]
    # before it is shared with them, the other project cannot see it at all
    assert image_other.http.get(f"/images/{iid}").status_code == 404

    member = image_owner.cli_json("image", "add", "project", iid, image_other.project_id)
    assert member["image_id"] == iid
    assert member["member_id"] == image_other.project_id
    assert member["status"] == "pending"

    # "When an image is shared, the member is given immediate access to the image."
    assert image_other.show(iid)["id"] == iid
    dl = image_other.http.get(f"/images/{iid}/file")
    assert dl.status_code == 200 and dl.content == data
    # "a shared image does not appear in a member's image list until the member accepts"
    assert iid not in {r["id"] for r in image_other.cli_json("image", "list")}
    pending = image_other.cli_json("image", "list", "--member-status", "pending")
    assert iid in {r["id"] for r in pending}

    image_other.cli("image", "set", "--accept", iid)
    assert iid in {r["id"] for r in image_other.cli_json("image", "list")}
    assert iid in image_other.list_ids(visibility="shared")
    members = image_owner.cli_json("image", "member", "list", iid)
    assert [(m["member_id"], m["status"]) for m in members] == [
        (image_other.project_id, "accepted")
    ]

    image_other.cli("image", "set", "--reject", iid)
    assert iid not in {r["id"] for r in image_other.cli_json("image", "list")}
    rejected = image_other.cli_json("image", "list", "--member-status", "rejected")
    assert iid in {r["id"] for r in rejected}
    assert iid in image_other.list_ids(member_status="all")
    assert image_other.show(iid)["id"] == iid

    image_owner.cli("image", "remove", "project", iid, image_other.project_id)
    assert image_other.http.get(f"/images/{iid}").status_code == 404
    assert iid not in image_other.list_ids(member_status="all")
    out = tmp_path / "x"
    image_other.cli_fails("image", "save", "--file", str(out), iid)


def test_member_api_contract(
    image_owner: ImageUser, image_other: ImageUser, image_admin: ImageUser
) -> None:
    image = image_owner.create(visibility="shared")
    iid = image["id"]
    other = image_other.project_id
    created = image_owner.http.post(f"/images/{iid}/members", json={"member": other})
    _member_body(created, iid, other, "pending")
    # "If the member is already a member for the image, the service returns 409"
    dup = image_owner.http.post(f"/images/{iid}/members", json={"member": other})
    assert dup.status_code == 409, dup.text

    listed = image_owner.http.get(f"/images/{iid}/members")
    assert listed.status_code == 200, listed.text
    assert listed.json()["schema"] == "/v2/schemas/members"
    assert [m["member_id"] for m in listed.json()["members"]] == [other]
    _member_body(image_owner.http.get(f"/images/{iid}/members/{other}"), iid, other, "pending")
    # the member sees its own membership
    _member_body(image_other.http.get(f"/images/{iid}/members/{other}"), iid, other, "pending")
    mine = image_other.http.get(f"/images/{iid}/members")
    assert [m["member_id"] for m in mine.json()["members"]] == [other]

    # "The image owner can see what your member status is on an image, but the owner cannot
    # change the status. Only you (or an administrator) can do that."
    by_owner = image_owner.http.put(f"/images/{iid}/members/{other}", json={"status": "accepted"})
    assert by_owner.status_code == 403, by_owner.text
    _member_body(
        image_other.http.put(f"/images/{iid}/members/{other}", json={"status": "accepted"}),
        iid,
        other,
        "accepted",
    )
    _member_body(
        image_admin.http.put(f"/images/{iid}/members/{other}", json={"status": "rejected"}),
        iid,
        other,
        "rejected",
    )
    bad = image_other.http.put(f"/images/{iid}/members/{other}", json={"status": "maybe"})
    assert bad.status_code == 400, bad.text

    # "Only the image owner may create members." / members have read-only privileges
    third = image_admin.project_id
    by_member = image_other.http.post(f"/images/{iid}/members", json={"member": third})
    assert by_member.status_code in (403, 404), by_member.text
    assert image_other.patch(
        iid, [{"op": "replace", "path": "/name", "value": "x"}]
    ).status_code == (403)
    assert image_other.http.delete(f"/images/{iid}").status_code == 403
    assert image_other.upload(iid, b"data").status_code == 403

    # the member leaves: 204, then the image is gone for them
    gone = image_owner.http.delete(f"/images/{iid}/members/{other}")
    assert gone.status_code == 204, gone.text
    assert image_other.http.get(f"/images/{iid}").status_code == 404
    # "If a user who is not an image member makes this call, the call returns 404"
    assert image_other.http.get(f"/images/{iid}/members").status_code == 404
    assert image_owner.http.get(f"/images/{iid}/members/{other}").status_code == 404


def test_members_need_shared_visibility(image_owner: ImageUser, image_other: ImageUser) -> None:
    """ "if the visibility attribute is not set to shared, the request returns 403" (Create
    image member); "an image with private visibility cannot have members added to it"."""
    for visibility in ("private", "community"):
        image = image_owner.create(visibility=visibility)
        resp = image_owner.http.post(
            f"/images/{image['id']}/members", json={"member": image_other.project_id}
        )
        assert resp.status_code == 403, (visibility, resp.text)


def test_public_needs_admin(
    image_owner: ImageUser, image_other: ImageUser, image_admin: ImageUser
) -> None:
    name = unique("img")
    resp = image_owner.http.post(
        "/images", json={"name": name, "visibility": "public", "disk_format": "raw"}
    )
    assert resp.status_code == 403, resp.text
    assert image_owner.list_ids(name=name) == []
    image = image_owner.create(visibility="private")
    patch = image_owner.patch(
        image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}]
    )
    assert patch.status_code == 403, patch.text
    assert image_owner.show(image["id"])["visibility"] == "private"

    data = image_data(512)
    public = image_admin.active_image(data, visibility="public")
    # "Any user may read the image and its data payload. Additionally, the image appears in
    # the default image list of all users."
    assert public["id"] in image_other.list_ids()
    assert public["id"] in image_other.list_ids(visibility="public")
    assert image_other.http.get(f"/images/{public['id']}/file").content == data
    # but only the owner (or an admin) may write it
    assert (
        image_other.patch(
            public["id"], [{"op": "replace", "path": "/name", "value": "x"}]
        ).status_code
        == 403
    )
    assert image_other.http.delete(f"/images/{public['id']}").status_code == 403


def test_community_image(image_owner: ImageUser, image_other: ImageUser) -> None:
    """Community: "Any user may read the image and its data payload, but the image does not
    appear in the default image list of any user other than the owner"."""
    data = image_data(700)
    image = image_owner.active_image(data, visibility="community")
    iid = image["id"]
    assert iid in image_owner.list_ids()
    assert iid not in image_other.list_ids()
    assert iid in image_other.list_ids(visibility="community")
    assert image_other.show(iid)["visibility"] == "community"
    assert image_other.http.get(f"/images/{iid}/file").content == data
    assert image_other.http.delete(f"/images/{iid}").status_code == 403


def test_sharing_with_glanceclient(image_owner: ImageUser, image_other: ImageUser) -> None:
    owner, other = image_owner.glance(), image_other.glance()
    image = owner.images.create(
        name=unique("img"), visibility="shared", disk_format="raw", container_format="bare"
    )
    image_owner.janitor.track(image["id"])
    member = owner.image_members.create(image["id"], image_other.project_id)
    assert member["status"] == "pending"
    assert [m["member_id"] for m in owner.image_members.list(image["id"])] == [
        image_other.project_id
    ]
    listed = {i["id"] for i in other.images.list(filters={"member_status": "pending"})}
    assert image["id"] in listed
    updated = other.image_members.update(image["id"], image_other.project_id, "accepted")
    assert updated["status"] == "accepted"
    assert image["id"] in {i["id"] for i in other.images.list()}
    owner.image_members.delete(image["id"], image_other.project_id)
    assert image["id"] not in {i["id"] for i in other.images.list(filters={"member_status": "all"})}


def test_owner_can_not_be_given_away_by_a_member(
    image_owner: ImageUser, image_other: ImageUser
) -> None:
    """Creating an image owned by another project, or changing the owner, is for admins
    (Glance: add_image needs project_id:%(owner)s; "Owner can't be updated by non admin")."""
    resp = image_owner.http.post(
        "/images", json={"name": unique("img"), "owner": image_other.project_id}
    )
    assert resp.status_code == 403, resp.text
    image = image_owner.create()
    patch = image_owner.patch(
        image["id"], [{"op": "replace", "path": "/owner", "value": image_other.project_id}]
    )
    assert patch.status_code == 403, patch.text
    assert image_owner.show(image["id"])["owner"] == image_owner.project_id
    own = image_owner.create(owner=image_owner.project_id)
    assert own["owner"] == image_owner.project_id


def test_owner_can_deactivate_and_reactivate(
    image_owner: ImageUser, image_other: ImageUser
) -> None:
    """Glance's default policy lets a project member (de)activate the project's images
    ("deactivate"/"reactivate": admin or member of the owning project); Tempest
    BasicOperationsImagesTest.test_deactivate_reactivate_image runs as a plain member.
    Another project may not."""
    data = image_data(300)
    image = image_owner.active_image(data, visibility="community")
    iid = image["id"]
    other = image_other.http.post(f"/images/{iid}/actions/deactivate")
    assert other.status_code in (403, 404), other.text
    resp = image_owner.http.post(f"/images/{iid}/actions/deactivate")
    assert resp.status_code == 204, resp.text
    assert image_owner.show(iid)["status"] == "deactivated"
    assert image_owner.http.get(f"/images/{iid}/file").status_code == 403
    assert image_other.http.post(f"/images/{iid}/actions/reactivate").status_code in (403, 404)
    resp = image_owner.http.post(f"/images/{iid}/actions/reactivate")
    assert resp.status_code == 204, resp.text
    assert image_owner.http.get(f"/images/{iid}/file").content == data
    # "The deactivate operation returns an error if the image status is not active or
    # deactivated" (Glance: 403)
    queued = image_owner.create()
    assert image_owner.http.post(f"/images/{queued['id']}/actions/deactivate").status_code == 403
