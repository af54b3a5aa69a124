"""Image lists: Glance's filters, sorting and marker pagination, as one indexed query.

Pagination is by keyset (the sort values of the marker image), not by offset, so a page deep
in a large list costs what the first page costs. Nullable sort columns are compared through
COALESCE so that NULLs sort the same way on every database and in both the ORDER BY and the
keyset condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session

from onestack.common.errors import BadRequest, NotFound
from onestack.image.access import Caller, find_image, listed
from onestack.image.attributes import VISIBILITIES
from onestack.image.models import Image, ImageProperty, ImageTag

SORT_KEYS = {
    "name": "",
    "status": "",
    "container_format": "",
    "disk_format": "",
    "size": -1,
    "virtual_size": -1,
    "id": None,
    "created_at": None,
    "updated_at": None,
    "min_disk": None,
    "min_ram": None,
    "owner": "",
    "visibility": None,
}
IN_FILTERS = ("id", "name", "status", "container_format", "disk_format")
TIME_FILTERS = ("created_at", "updated_at")
COLUMN_FILTERS = ("owner", "checksum", "os_hash_algo", "os_hash_value")
INT_FILTERS = ("min_disk", "min_ram", "size", "virtual_size")
TIME_OPERATORS = {"gt", "gte", "lt", "lte", "eq", "neq"}
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
PAGING = {"limit", "marker", "sort_key", "sort_dir", "sort"}


@dataclass
class ListQuery:
    limit: int
    marker: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    visibility: str | None = None
    member_status: str = "accepted"
    conditions: list[ColumnElement[bool]] = field(default_factory=list)


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid value {value!r} for filter '{name}': expected true or false.")


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid value {value!r} for '{name}': expected an integer.") from None
    return number


def _time(name: str, text: str) -> ColumnElement[bool]:
    """A created_at/updated_at comparison. Images show their times in whole seconds, and a
    client filters with the times it was shown, so a stored time compares as its whole second
    (S = floor(column)): "gt:12:00:05Z" must not match an image shown as 12:00:05."""
    operator, _, value = text.partition(":")
    if operator not in TIME_OPERATORS or not value:
        operator, value = "eq", text
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid timestamp {value!r} for '{name}'.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    floor = moment.replace(microsecond=0)
    whole = floor == moment
    ceil = floor if whole else floor + timedelta(seconds=1)
    next_second = floor + timedelta(seconds=1)
    column = getattr(Image, name)
    same_second = and_(column >= floor, column < next_second) if whole else false()
    return {
        "gt": column >= next_second,  # S > T  <=>  S >= floor(T) + 1
        "gte": column >= ceil,  # S >= T  <=>  S >= ceil(T)
        "lt": column < ceil,  # S < T  <=>  S < ceil(T)
        "lte": column < next_second,  # S <= T  <=>  S <= floor(T)
        "eq": same_second,
        "neq": not_(same_second),
    }[operator]


def _sort(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    keys = [v for k, v in params if k == "sort_key"]
    dirs = [v for k, v in params if k == "sort_dir"]
    combined = [v for k, v in params if k == "sort"]
    pairs: list[tuple[str, str]] = []
    if combined:
        if keys or dirs:
            raise BadRequest("The 'sort' parameter cannot be combined with sort_key or sort_dir.")
        for item in ",".join(combined).split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), (direction or "desc").strip()))
    else:
        keys = [k for value in keys for k in value.split(",")]
        if dirs and len(dirs) not in (1, len(keys)):
            raise BadRequest("The number of sort_dir values must be 1 or match sort_key.")
        for index, key in enumerate(keys):
            direction = dirs[index] if len(dirs) > 1 else (dirs[0] if dirs else "desc")
            pairs.append((key.strip(), direction))
        if not keys and dirs:
            pairs.append(("created_at", dirs[0]))
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key {key!r}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction {direction!r}: asc or desc.")
    seen = [k for k, _ in pairs]
    for tail in ("created_at", "id"):
        if tail not in seen:
            pairs.append((tail, "desc"))
    return pairs


def parse(params: list[tuple[str, str]], default_limit: int, max_limit: int) -> ListQuery:
    """Read a list request's query parameters; 400 for anything malformed."""
    single = {k: v for k, v in params}
    limit = default_limit
    if "limit" in single:
        limit = _int("limit", single["limit"])
        if limit < 0:
            raise BadRequest("Limit must be a non-negative integer.")
    query = ListQuery(limit=min(limit, max_limit), marker=single.get("marker") or None)
    query.sort = _sort(params)
    hidden: bool | None = False
    conditions = query.conditions
    for name, value in params:
        if name in PAGING:
            continue
        if name == "visibility":
            if value not in (*VISIBILITIES, "all"):
                raise BadRequest(f"Invalid visibility {value!r}.")
            query.visibility = value
        elif name == "member_status":
            if value not in MEMBER_STATUSES:
                raise BadRequest(f"Invalid member_status {value!r}.")
            query.member_status = value
        elif name == "os_hidden":
            hidden = _bool(name, value)
        elif name == "protected":
            conditions.append(Image.protected == _bool(name, value))
        elif name in IN_FILTERS:
            column = getattr(Image, name)
            if value.startswith("in:"):
                conditions.append(column.in_([v.strip() for v in value[3:].split(",")]))
            else:
                conditions.append(column == value)
        elif name in TIME_FILTERS:
            conditions.append(_time(name, value))
        elif name == "size_min":
            conditions.append(Image.size >= _int(name, value))
        elif name == "size_max":
            conditions.append(Image.size <= _int(name, value))
        elif name in INT_FILTERS:
            conditions.append(getattr(Image, name) == _int(name, value))
        elif name in COLUMN_FILTERS:
            conditions.append(getattr(Image, name) == value)
        elif name == "tag":
            conditions.append(
                exists(
                    select(ImageTag.image_id).where(
                        ImageTag.image_id == Image.id, ImageTag.value == value
                    )
                )
            )
        else:
            conditions.append(
                exists(
                    select(ImageProperty.image_id).where(
                        ImageProperty.image_id == Image.id,
                        ImageProperty.name == name,
                        ImageProperty.value == value,
                    )
                )
            )
    if hidden is not None:
        conditions.append(Image.os_hidden == hidden)
    return query


def _sort_expression(key: str) -> Any:
    column = getattr(Image, key)
    default = SORT_KEYS[key]
    return column if default is None else func.coalesce(column, default)


def _after(query: ListQuery, marker: Image) -> list[ColumnElement[bool]]:
    """Rows that sort after the marker: (k1 > m1) or (k1 = m1 and k2 > m2) or ..., and the
    redundant k1 >= m1, which lets an index on k1 start at the marker."""
    values = []
    for key, _ in query.sort:
        value = getattr(marker, key)
        default = SORT_KEYS[key]
        values.append(default if value is None and default is not None else value)
    alternatives = []
    for index, (key, direction) in enumerate(query.sort):
        expression = _sort_expression(key)
        step = expression > values[index] if direction == "asc" else expression < values[index]
        equal = [_sort_expression(k) == values[i] for i, (k, _) in enumerate(query.sort[:index])]
        alternatives.append(and_(*equal, step))
    first_key, first_direction = query.sort[0]
    first = _sort_expression(first_key)
    start = first >= values[0] if first_direction == "asc" else first <= values[0]
    return [start, or_(*alternatives)]


# SQLite's planner prefers to gather the rows of each OR branch through their own indexes
# and sort them all, which for the usual list (newest first, 100 of 10,000) reads every
# visible row. Walking the (created_at, id) index in order and stopping at the limit reads
# only what the page needs.
NEWEST_FIRST_INDEX = "INDEXED BY ix_image_image_created_id"


def page(session: Session, caller: Caller, query: ListQuery) -> list[tuple[str, Any]]:
    """The (id, updated_at) of each image of one page, in order."""
    statement = select(Image.id, Image.updated_at).where(
        listed(caller, query.visibility, query.member_status), *query.conditions
    )
    if query.marker:
        try:
            marker = find_image(session, caller, query.marker)
        except NotFound:
            raise BadRequest(f"Invalid marker. Image {query.marker} could not be found.") from None
        statement = statement.where(*_after(query, marker))
    keys = [key for key, _ in query.sort]
    if keys[:2] == ["created_at", "id"] and query.sort[0][1] == query.sort[1][1]:
        statement = statement.with_hint(Image, NEWEST_FIRST_INDEX, "sqlite")
    order = [
        _sort_expression(k).asc() if d == "asc" else _sort_expression(k).desc()
        for k, d in query.sort
    ]
    statement = statement.order_by(*order).limit(query.limit)
    return [(row[0], row[1]) for row in session.execute(statement)]
