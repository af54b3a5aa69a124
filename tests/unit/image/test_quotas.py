"""Per-project image quotas: configured defaults, per-project overrides, and the checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from onestack.common.config import ImageSettings, Settings
from onestack.common.db import Database
from onestack.common.errors import PayloadTooLarge
from onestack.image.access import Caller
from onestack.image.models import ImageQuota
from onestack.image.quotas import MIB, NAMES, Limits, Quotas
from onestack.image.service import ImageService

from .conftest import MakeImage

P = "project-a"


def quotas(**defaults: int) -> Quotas:
    return Quotas(ImageSettings(**defaults))


def set_limits(db: Database, project: str, **values: int | None) -> Limits:
    with db.write() as session:
        return quotas().set(session, project, values)


def test_defaults_come_from_settings() -> None:
    assert quotas().limits(None) == Limits(-1, -1, -1, -1)
    configured = quotas(
        image_count_total=10, image_size_total=20, image_stage_total=30, image_count_uploading=2
    )
    assert configured.limits(None) == Limits(10, 20, 30, 2)


def test_overrides_win_and_none_falls_back() -> None:
    q = quotas(image_count_total=10, image_size_total=20)
    row = ImageQuota(project_id=P, image_count_total=0, image_size_total=None)
    assert q.limits(row) == Limits(0, 20, -1, -1)
    row = ImageQuota(project_id=P, image_size_total=-1, image_count_uploading=5)
    assert q.limits(row) == Limits(10, -1, -1, 5)


def test_set_and_read_back(db: Database) -> None:
    q = quotas(image_count_total=10)
    with db.read() as session:
        assert q.limits_for(session, P) == Limits(10, -1, -1, -1)
    assert set_limits(db, P, image_count_total=3, image_stage_total=7) == Limits(3, -1, 7, -1)
    with db.read() as session:
        assert q.limits_for(session, P) == Limits(3, -1, 7, -1)
        assert q.limits_for(session, "project-b") == Limits(10, -1, -1, -1)
    set_limits(db, P, image_count_total=None)  # back to the default
    with db.read() as session:
        assert q.limits_for(session, P) == Limits(10, -1, 7, -1)


def test_set_refuses_unknown_names(db: Database) -> None:
    with pytest.raises(KeyError), db.write() as session:
        quotas().set(session, P, {"image_count": 1})


def test_lock_creates_the_row_once(db: Database) -> None:
    q = quotas()
    with db.write() as session:
        first = q.lock(session, P)
        assert q.lock(session, P) is first
    with db.write() as session:
        assert q.lock(session, P).project_id == P
        assert session.query(ImageQuota).count() == 1


def test_usage(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="active", size=100)
    make_image(owner=P, status="saving")
    make_image(owner=P, status="uploading", staged_size=40)
    make_image(owner=P, status="importing", staged_size=2, size=None)
    make_image(owner=P, status="queued", size=None)
    make_image(owner="project-b", status="saving", size=1000, staged_size=1000)
    with db.read() as session:
        assert quotas().usage(session, P) == {
            "image_count_total": 5,
            "image_size_total": 100,
            "image_stage_total": 42,
            "image_count_uploading": 3,
        }
        assert quotas().usage(session, "project-c") == dict.fromkeys(NAMES, 0)


# -- image count ----------------------------------------------------------------------------------


def check_count(db: Database, q: Quotas, project: str = P) -> None:
    with db.write() as session:
        q.check_count(session, project)


def test_check_count(db: Database, make_image: MakeImage) -> None:
    q = quotas(image_count_total=2)
    make_image(owner=P)
    make_image(owner="project-b")
    make_image(owner="project-b")
    check_count(db, q)  # one of two
    make_image(owner=P)
    with pytest.raises(PayloadTooLarge, match="image_count_total is 2") as raised:
        check_count(db, q)
    assert raised.value.status == 413
    with pytest.raises(PayloadTooLarge):
        check_count(db, q, "project-b")
    check_count(db, q, "project-c")


def test_check_count_unlimited_and_overridden(db: Database, make_image: MakeImage) -> None:
    for _ in range(5):
        make_image(owner=P)
    check_count(db, quotas())
    check_count(db, quotas(image_count_total=-1))
    strict = quotas(image_count_total=100)
    set_limits(db, P, image_count_total=5)
    with pytest.raises(PayloadTooLarge):
        check_count(db, strict)
    set_limits(db, P, image_count_total=-1)
    check_count(db, quotas(image_count_total=0))  # the override lifts the default
    set_limits(db, "project-b", image_count_total=0)
    with pytest.raises(PayloadTooLarge):
        check_count(db, quotas(), "project-b")  # even the first image


# -- data allowance -------------------------------------------------------------------------------


def allowance(db: Database, q: Quotas, staging: bool = False) -> int | None:
    with db.write() as session:
        return q.data_allowance(session, P, staging)


def test_allowance_unlimited(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="active", size=10 * MIB)
    assert allowance(db, quotas()) is None
    assert allowance(db, quotas(), staging=True) is None
    assert allowance(db, quotas(image_stage_total=1)) is None  # not staging: no stage limit


def test_allowance_is_what_is_left(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="active", size=MIB + 5)
    make_image(owner=P, status="uploading", staged_size=100)
    make_image(owner="project-b", status="active", size=50 * MIB)
    q = quotas(image_size_total=3, image_stage_total=1)
    assert allowance(db, q) == 2 * MIB - 5
    assert allowance(db, q, staging=True) == MIB - 100  # the smaller of the two
    set_limits(db, P, image_stage_total=10)
    assert allowance(db, q, staging=True) == 2 * MIB - 5


def test_allowance_used_up(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="active", size=MIB)
    with pytest.raises(PayloadTooLarge, match="all of its image storage"):
        allowance(db, quotas(image_size_total=1))
    with pytest.raises(PayloadTooLarge):
        allowance(db, quotas(image_size_total=0))
    make_image(owner=P, status="uploading", staged_size=MIB)
    with pytest.raises(PayloadTooLarge):
        allowance(db, quotas(image_stage_total=1), staging=True)
    assert allowance(db, quotas(image_stage_total=1)) is None


def test_allowance_limits_uploads_at_once(db: Database, make_image: MakeImage) -> None:
    assert allowance(db, quotas(image_count_uploading=1)) is None
    make_image(owner=P, status="saving")
    with pytest.raises(PayloadTooLarge, match="image_count_uploading is 1"):
        allowance(db, quotas(image_count_uploading=1))
    with pytest.raises(PayloadTooLarge):
        allowance(db, quotas(image_count_uploading=0))
    assert allowance(db, quotas(image_count_uploading=2)) is None
    make_image(owner="project-b", status="importing")
    assert allowance(db, quotas(image_count_uploading=2)) is None


# -- size at the end of an upload -----------------------------------------------------------------


def check_size(db: Database, q: Quotas, size: int, staging: bool = False) -> None:
    with db.write() as session:
        q.check_size(session, P, size, staging)


def test_check_size(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="active", size=MIB)
    q = quotas(image_size_total=2)
    check_size(db, q, MIB)  # exactly full
    with pytest.raises(PayloadTooLarge, match="image_size_total is 2 MiB"):
        check_size(db, q, MIB + 1)
    check_size(db, quotas(), 10**15)
    set_limits(db, P, image_size_total=-1)
    check_size(db, q, 10**15)


def test_check_size_when_staging(db: Database, make_image: MakeImage) -> None:
    make_image(owner=P, status="uploading", staged_size=MIB // 2)
    q = quotas(image_stage_total=1)
    check_size(db, q, MIB // 2, staging=True)
    with pytest.raises(PayloadTooLarge, match="image_stage_total is 1 MiB"):
        check_size(db, q, MIB // 2 + 1, staging=True)
    check_size(db, q, 5 * MIB, staging=False)  # an upload is no staging


# -- the service view -----------------------------------------------------------------------------


def test_service_usage_and_quota(db: Database, tmp_path: Path, make_image: MakeImage) -> None:
    settings = Settings(state_dir=tmp_path)
    settings.image.image_count_total = 100
    service = ImageService(db, settings)
    make_image(owner=P, status="active", size=MIB + 1)
    assert service.show_quota(P) == {
        "image_count_total": 100,
        "image_size_total": -1,
        "image_stage_total": -1,
        "image_count_uploading": -1,
    }
    assert service.set_quota(P, {"image_size_total": 5})["image_size_total"] == 5
    usage = service.usage(Caller(project_id=P, is_admin=False))
    assert usage["image_count_total"] == {"limit": 100, "usage": 1}
    assert usage["image_size_total"] == {"limit": 5, "usage": 2}  # MiB, rounded up
    assert usage["image_count_uploading"] == {"limit": -1, "usage": 0}
    assert service.usage(Caller(project_id=None, is_admin=True)) == {}
