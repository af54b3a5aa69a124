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

# Metadata definitions, as Glance's defaults: an administrator manages them; readers see public
# namespaces and their own project's private ones (visibility itself is decided by the
# queries in image/metadefs.py, so a namespace a reader cannot see is 404, never 403).
# ``project_id`` in a target is the namespace's owner.
METADEF_RULES: list[Rule] = [
    _rule(name, check, description)
    for name, check, description in [
        ("get_metadef_namespace", READER, "Show a metadata definition namespace."),
        ("get_metadef_namespaces", READER, "List metadata definition namespaces."),
        ("add_metadef_namespace", ADMIN, "Create a metadata definition namespace."),
        ("modify_metadef_namespace", ADMIN, "Update a metadata definition namespace."),
        ("delete_metadef_namespace", ADMIN, "Delete a metadata definition namespace."),
        ("get_metadef_object", READER, "Show a metadata definition object."),
        ("get_metadef_objects", READER, "List the objects of a namespace."),
        ("add_metadef_object", ADMIN, "Create a metadata definition object."),
        ("modify_metadef_object", ADMIN, "Update a metadata definition object."),
        ("delete_metadef_object", ADMIN, "Delete a metadata definition object (or all)."),
        ("get_metadef_property", READER, "Show a metadata definition property."),
        ("get_metadef_properties", READER, "List the properties of a namespace."),
        ("add_metadef_property", ADMIN, "Create a metadata definition property."),
        ("modify_metadef_property", ADMIN, "Update a metadata definition property."),
        ("remove_metadef_property", ADMIN, "Delete a metadata definition property (or all)."),
        ("get_metadef_tag", READER, "Show a metadata definition tag."),
        ("get_metadef_tags", READER, "List the tags of a namespace."),
        ("add_metadef_tag", ADMIN, "Create a metadata definition tag."),
        ("add_metadef_tags", ADMIN, "Create several metadata definition tags at once."),
        ("modify_metadef_tag", ADMIN, "Rename a metadata definition tag."),
        ("delete_metadef_tag", ADMIN, "Delete a metadata definition tag."),
        ("delete_metadef_tags", ADMIN, "Delete all the tags of a namespace."),
        ("list_metadef_resource_types", READER, "List metadata definition resource types."),
        ("get_metadef_resource_type", READER, "List a namespace's resource type associations."),
        ("add_metadef_resource_type_association", ADMIN, "Associate a resource type."),
        ("remove_metadef_resource_type_association", ADMIN, "Remove a resource type association."),
    ]
]
RULES += METADEF_RULES
