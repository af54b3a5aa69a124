"""Image policy defaults, in the spirit of Glance's: admin, member and reader personas.

Which images a caller can see at all (owner, public, community, shared with an accepting
member) is decided by the service's queries; these rules decide what a caller may do with
an image it can see. ``project_id`` in a target is the image's owner.
"""

from __future__ import annotations

from onestack.common.policy import Rule

PROJECT = ("project",)
ADMIN = "role:admin"
OWNER_MEMBER = "role:admin or (role:member and project_id:%(project_id)s)"
READER = "role:admin or role:reader"
MEMBER_OF_IMAGE = "role:admin or (role:member and project_id:%(member_id)s)"
OWNER_OR_MEMBER_READER = (
    "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))"
)


def _rule(name: str, check: str, description: str) -> Rule:
    return Rule(f"image:{name}", check, description, PROJECT)


RULES: list[Rule] = [
    Rule("image:context_is_admin", ADMIN, "Who sees and manages every image."),
    _rule("add_image", OWNER_MEMBER, "Create an image (owned by the caller's project)."),
    _rule("get_image", READER, "Show an image the caller can see."),
    _rule("get_images", READER, "List the images the caller can see."),
    _rule("modify_image", OWNER_MEMBER, "Update an image."),
    _rule("delete_image", OWNER_MEMBER, "Delete an image."),
    _rule("publicize_image", ADMIN, "Make an image public."),
    _rule("communitize_image", OWNER_MEMBER, "Make an image community-visible."),
    _rule("upload_image", OWNER_MEMBER, "Upload image data."),
    _rule("download_image", READER, "Download the data of an image the caller can see."),
    _rule("import_image", OWNER_MEMBER, "Stage and import image data."),
    # Glance's current defaults let the owning project's members (de)activate, too.
    _rule("deactivate", OWNER_MEMBER, "Deactivate an image."),
    _rule("reactivate", OWNER_MEMBER, "Reactivate an image."),
    _rule("add_member", OWNER_MEMBER, "Share an image with a project."),
    _rule("delete_member", OWNER_MEMBER, "Stop sharing an image with a project."),
    _rule("get_member", OWNER_OR_MEMBER_READER, "Show an image member."),
    _rule("get_members", OWNER_OR_MEMBER_READER, "List the members of an image."),
    _rule("modify_member", MEMBER_OF_IMAGE, "Accept or reject an image shared with a project."),
    _rule("get_usage", READER, "Show the caller's image quota usage."),
    _rule("get_stores", READER, "List the image stores."),
]
