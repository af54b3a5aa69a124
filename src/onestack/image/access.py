"""Who is asking, and which images that caller can see.

Visibility is decided in the database queries (so lists never load what a caller may not
see): an administrator sees every image; anyone else sees images owned by their project,
public and community images, and shared images their project is a member of.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from onestack.common.errors import NotFound
from onestack.image.models import Image, ImageMember


@dataclass(frozen=True)
class Caller:
    project_id: str | None
    is_admin: bool
    user_id: str | None = None


def member_exists(project_id: str, statuses: tuple[str, ...] | None) -> ColumnElement[bool]:
    query = select(ImageMember.image_id).where(
        ImageMember.image_id == Image.id, ImageMember.member == project_id
    )
    if statuses is not None:
        query = query.where(ImageMember.status.in_(statuses))
    return exists(query)


def visible(caller: Caller) -> ColumnElement[bool] | None:
    """The condition for images ``caller`` can see at all (show, members): None for all."""
    if caller.is_admin:
        return None
    conditions: list[ColumnElement[bool]] = [Image.visibility.in_(("public", "community"))]
    if caller.project_id:
        conditions.append(Image.owner == caller.project_id)
        conditions.append(
            and_(Image.visibility == "shared", member_exists(caller.project_id, None))
        )
    return or_(*conditions)


def find_image(session: Session, caller: Caller, image_id: str, lock: bool = False) -> Image:
    """The image, when the caller can see it; 404 otherwise (never 403: an image the caller
    cannot see does not exist for it)."""
    query = select(Image).where(Image.id == image_id)
    condition = visible(caller)
    if condition is not None:
        query = query.where(condition)
    if lock:
        query = query.with_for_update()
    image = session.scalars(query).first()
    if image is None:
        raise NotFound(f"No image found with ID {image_id}")
    return image


def listed(caller: Caller, visibility: str | None, member_status: str) -> ColumnElement[bool]:
    """The condition for images a list shows, given the ``visibility`` and
    ``member_status`` filters (Glance's rules)."""
    statuses = None if member_status == "all" else (member_status,)
    project = caller.project_id
    if caller.is_admin:
        if visibility in (None, "all"):
            return Image.id.is_not(None)
        return Image.visibility == visibility
    if visibility == "public" or visibility == "community":
        return Image.visibility == visibility
    if not project:
        # Only possible with scope enforcement off: a caller of no project sees what anyone
        # sees.
        if visibility == "all":
            return Image.visibility.in_(("public", "community"))
        return Image.visibility == "public" if visibility is None else false()
    own = Image.owner == project
    shared_with_me = and_(Image.visibility == "shared", member_exists(project, statuses))
    if visibility == "private":
        return and_(Image.visibility == "private", own)
    if visibility == "shared":
        return or_(and_(Image.visibility == "shared", own), shared_with_me)
    conditions = [own, Image.visibility == "public", shared_with_me]
    if visibility == "all":
        conditions.append(Image.visibility == "community")
    return or_(*conditions)
