"""Image members: an owner shares a ``shared`` image with other projects, and each member
project accepts or rejects it (only accepted images show in the member's default list)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestack.common.db import Database, retrying, utcnow
from onestack.common.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from onestack.image.access import Caller, find_image
from onestack.image.models import Image, ImageMember
from onestack.image.records import Check, target
from onestack.image.views import member_view

STATUSES = ("pending", "accepted", "rejected")
MAX_MEMBERS = 128


def _visible_member(session: Session, caller: Caller, image: Image, member_id: str) -> ImageMember:
    """The membership, when the caller may see it: the owner (or an admin) sees every member,
    a member project only its own; 404 otherwise."""
    member = session.get(ImageMember, (image.id, member_id))
    if member is None or (
        not caller.is_admin and image.owner != caller.project_id and member_id != caller.project_id
    ):
        raise NotFound(f"Member {member_id} not found for image {image.id}.")
    return member


class Members:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, caller: Caller, image_id: str, check: Check) -> list[dict[str, Any]]:
        with self.db.read() as session:
            image = find_image(session, caller, image_id)
            check("image:get_members", target(image, member_id=caller.project_id))
            query = select(ImageMember).where(ImageMember.image_id == image_id)
            if not caller.is_admin and image.owner != caller.project_id:
                # A member project sees only its own membership.
                query = query.where(ImageMember.member == caller.project_id)
            return [member_view(m) for m in session.scalars(query.order_by(ImageMember.member))]

    def show(self, caller: Caller, image_id: str, member_id: str, check: Check) -> dict[str, Any]:
        with self.db.read() as session:
            image = find_image(session, caller, image_id)
            check("image:get_member", target(image, member_id=member_id))
            member = _visible_member(session, caller, image, member_id)
            return member_view(member)

    @retrying
    def add(self, caller: Caller, image_id: str, member_id: Any, check: Check) -> dict[str, Any]:
        if not isinstance(member_id, str) or not member_id or len(member_id) > 255:
            raise BadRequest("'member' must be a project id.")
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            check("image:add_member", target(image, member_id=member_id))
            if image.visibility != "shared":
                raise Forbidden(
                    f"Only shared images have members; image {image_id} is {image.visibility}."
                )
            if session.get(ImageMember, (image_id, member_id)) is not None:
                raise Conflict(f"Member {member_id} already exists for image {image_id}.")
            count = session.scalar(select(func.count()).where(ImageMember.image_id == image_id))
            if (count or 0) >= MAX_MEMBERS:
                raise PayloadTooLarge(f"An image may have at most {MAX_MEMBERS} members.")
            now = utcnow()
            member = ImageMember(
                image_id=image_id,
                member=member_id,
                status="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(member)
            session.flush()
            return member_view(member)

    @retrying
    def update(
        self, caller: Caller, image_id: str, member_id: str, status: Any, check: Check
    ) -> dict[str, Any]:
        if status not in STATUSES:
            raise BadRequest(f"Invalid status {status!r}: pending, accepted or rejected.")
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            member = session.get(ImageMember, (image_id, member_id), with_for_update=True)
            if member is None:
                raise NotFound(f"Member {member_id} not found for image {image_id}.")
            # Only the member project decides (not the owner): the rule checks member_id.
            check("image:modify_member", target(image, member_id=member_id))
            member.status = status
            member.updated_at = utcnow()
            session.flush()
            return member_view(member)

    @retrying
    def delete(self, caller: Caller, image_id: str, member_id: str, check: Check) -> None:
        with self.db.write() as session:
            image = find_image(session, caller, image_id, lock=True)
            member = _visible_member(session, caller, image, member_id)
            check("image:delete_member", target(image, member_id=member_id))
            session.delete(member)
