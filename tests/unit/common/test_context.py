"""Request ids."""

from __future__ import annotations

import uuid

from onestack.common.context import new_request_id


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        assert request_id.startswith("req-")
        value = uuid.UUID(request_id[4:])
        assert str(value) == request_id[4:]  # canonical lower-case text
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
