"""16 clients at once creating, uploading (a few MiB each), updating, downloading and deleting
images of one project. Whatever the interleaving: no 5xx, and afterwards every image is either
fully there (active, right checksum, downloadable, listed) or gone (404, not listed, its data
removed from the store) - never half-uploaded or half-deleted.

It takes a few seconds, so it runs on every database backend, not only the default SQLite.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .conftest import ImageUser, Server, unique

pytestmark = pytest.mark.functional

THREADS = 16
STEPS = 12
MIB = 1024 * 1024


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: list[str] = field(default_factory=list)
    expected: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (md5, size)
    deleted: set[str] = field(default_factory=set)
    # answers that are right only if a concurrent DELETE of that image succeeded (checked when
    # every thread is done: the DELETE may return after the answer it caused)
    needs_deleted: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def record(self, resp: httpx.Response) -> httpx.Response:
        with self.lock:
            self.calls.append((resp.request.method, resp.request.url.path, resp.status_code))
            if resp.status_code >= 500:
                self.problems.append(
                    f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: "
                    f"{resp.text[:300]}"
                )
        return resp

    def gone(self, image_id: str, what: str) -> None:
        with self.lock:
            self.needs_deleted[image_id] = what

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 256 * 1024):
        yield data[start : start + 256 * 1024]


def _client(user: ImageUser) -> httpx.Client:
    return httpx.Client(
        base_url=f"{user.image_url}/v2", timeout=120, headers={"X-Auth-Token": user.token}
    )


def _worker(user: ImageUser, ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    with _client(user) as http:
        for step in range(STEPS):
            action = rng.choices(
                ["create_upload", "update", "delete", "download", "list"], [4, 3, 2, 3, 1]
            )[0]
            with ledger.lock:
                candidates = [i for i in ledger.created if i not in ledger.deleted]
            if action != "create_upload" and not candidates:
                action = "create_upload"
            try:
                if action == "create_upload":
                    _create_and_upload(http, user, ledger, rng, f"{seed}-{step}")
                elif action == "update":
                    target = rng.choice(candidates)
                    resp = ledger.record(
                        http.patch(
                            f"/images/{target}",
                            content=json.dumps(
                                [
                                    {"op": "add", "path": "/worker", "value": str(seed)},
                                    {"op": "replace", "path": "/min_ram", "value": step},
                                ]
                            ),
                            headers={
                                "Content-Type": "application/openstack-images-v2.1-json-patch"
                            },
                        )
                    )
                    if resp.status_code == 404:
                        ledger.gone(target, "PATCH -> 404")
                    elif resp.status_code != 200:
                        ledger.problem(f"PATCH {target} -> {resp.status_code}: {resp.text[:200]}")
                elif action == "delete":
                    target = rng.choice(candidates)
                    resp = ledger.record(http.delete(f"/images/{target}"))
                    if resp.status_code == 204:
                        with ledger.lock:
                            ledger.deleted.add(target)
                    elif resp.status_code == 404:
                        ledger.gone(target, "DELETE -> 404")
                    else:
                        ledger.problem(f"DELETE {target} -> {resp.status_code}: {resp.text[:200]}")
                elif action == "download":
                    _download(http, ledger, rng.choice(candidates))
                else:
                    resp = ledger.record(http.get("/images", params={"limit": 50}))
                    if resp.status_code != 200:
                        ledger.problem(f"GET /images -> {resp.status_code}")
            except httpx.HTTPError as exc:
                ledger.problem(f"{action}: transport error {exc!r}")


def _create_and_upload(
    http: httpx.Client, user: ImageUser, ledger: Ledger, rng: random.Random, label: str
) -> None:
    resp = ledger.record(
        http.post(
            "/images",
            json={"name": f"cc-{label}", "disk_format": "raw", "container_format": "bare"},
        )
    )
    if resp.status_code != 201:
        ledger.problem(f"POST /images -> {resp.status_code}: {resp.text[:200]}")
        return
    image_id = resp.json()["id"]
    user.janitor.track(image_id)
    data = rng.randbytes(rng.randint(1 * MIB, 3 * MIB))
    with ledger.lock:
        ledger.created.append(image_id)
        ledger.expected[image_id] = (hashlib.md5(data).hexdigest(), len(data))
    resp = ledger.record(
        http.put(
            f"/images/{image_id}/file",
            content=_chunks(data),
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    if resp.status_code in (404, 409, 410):
        # only a concurrent delete may spoil an upload (Glance: 404, 409 or 410)
        ledger.gone(image_id, f"PUT /file -> {resp.status_code}")
    elif resp.status_code != 204:
        ledger.problem(f"PUT {image_id}/file -> {resp.status_code}: {resp.text[:200]}")


def _download(http: httpx.Client, ledger: Ledger, image_id: str) -> None:
    with http.stream("GET", f"/images/{image_id}/file") as resp:
        body = b"".join(resp.iter_bytes()) if resp.status_code == 200 else b""
    ledger.record(resp)
    if resp.status_code == 200:
        md5, size = ledger.expected[image_id]
        if len(body) != size or hashlib.md5(body).hexdigest() != md5:
            ledger.problem(f"GET {image_id}/file returned {len(body)} bytes of other data")
    elif resp.status_code == 404:
        ledger.gone(image_id, "GET /file -> 404")
    elif resp.status_code != 204:
        ledger.problem(f"GET {image_id}/file -> {resp.status_code}")


def _store_bytes(server: Server) -> int | None:
    store = server.state_dir / "images"
    if server.proc is None or not store.is_dir():
        return None
    return sum(p.stat().st_size for p in Path(store).rglob("*") if p.is_file())


def test_racing_uploads_of_one_image(server: Server, image_owner: ImageUser) -> None:
    """Two clients upload different data into the same queued image at the same moment:
    exactly one wins (204), the other gets 409, and the image holds the winner's data."""
    images = [
        image_owner.create(name=unique("race"), disk_format="raw", container_format="bare")["id"]
        for _ in range(THREADS // 2)
    ]
    payloads = {
        (image_id, side): random.Random(f"{image_id}{side}").randbytes(2 * MIB)
        for image_id in images
        for side in (0, 1)
    }
    barrier = threading.Barrier(THREADS)

    def upload(key: tuple[str, int]) -> tuple[tuple[str, int], int]:
        with _client(image_owner) as http:
            barrier.wait(timeout=60)
            resp = http.put(
                f"/images/{key[0]}/file",
                content=_chunks(payloads[key]),
                headers={"Content-Type": "application/octet-stream"},
            )
            return key, resp.status_code

    with ThreadPoolExecutor(THREADS) as pool:
        results = dict(pool.map(upload, list(payloads)))
    for image_id in images:
        statuses = sorted([results[(image_id, 0)], results[(image_id, 1)]])
        assert statuses == [204, 409], (image_id, statuses)
        winner = payloads[(image_id, 0 if results[(image_id, 0)] == 204 else 1)]
        shown = image_owner.show(image_id)
        assert shown["status"] == "active"
        assert shown["checksum"] == hashlib.md5(winner).hexdigest()
        assert image_owner.http.get(f"/images/{image_id}/file").content == winner
        assert image_owner.http.delete(f"/images/{image_id}").status_code == 204


def test_concurrent_image_traffic(
    server: Server, image_owner: ImageUser, image_admin: ImageUser
) -> None:
    ledger = Ledger()
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(_worker, image_owner, ledger, seed) for seed in range(THREADS)]:
            future.result()

    assert not [c for c in ledger.calls if c[2] >= 500], ledger.problems
    assert not ledger.problems, "\n".join(ledger.problems)
    unexplained = {i: what for i, what in ledger.needs_deleted.items() if i not in ledger.deleted}
    assert not unexplained, f"not-found answers for images nobody deleted: {unexplained}"
    assert len(ledger.created) >= THREADS

    present: dict[str, int] = {}
    for image_id in ledger.created:
        resp = image_owner.http.get(f"/images/{image_id}")
        if image_id in ledger.deleted:
            assert resp.status_code == 404, (image_id, resp.status_code, resp.text)
            assert image_owner.http.get(f"/images/{image_id}/file").status_code == 404
            continue
        assert resp.status_code == 200, (image_id, resp.status_code, resp.text)
        shown = resp.json()
        md5, size = ledger.expected[image_id]
        assert shown["status"] == "active", shown
        assert (shown["checksum"], shown["size"]) == (md5, size), shown
        body = image_owner.http.get(f"/images/{image_id}/file").content
        assert hashlib.md5(body).hexdigest() == md5, image_id
        present[image_id] = size

    listed = set(image_owner.list_ids(owner=image_owner.project_id, visibility="all"))
    mine = set(ledger.created)
    assert listed & mine == set(present), "the list disagrees with the images' states"

    # deleted images left no data behind in the store: it holds exactly the data of the
    # images that exist (every project's, as the admin lists them)
    stored = _store_bytes(server)
    if stored is not None:
        everything = set(image_admin.list_ids(visibility="all"))
        everything |= set(image_admin.list_ids(visibility="all", os_hidden="true"))
        shown_all = [image_admin.show(i) for i in everything]
        if not [i for i in shown_all if i["status"] in ("saving", "uploading", "importing")]:
            with_data = sum(i["size"] or 0 for i in shown_all if i["status"] != "queued")
            assert stored == with_data, (
                f"the store holds {stored} bytes, the {len(shown_all)} images {with_data}"
            )


def test_concurrent_patches_of_one_image(image_owner: ImageUser) -> None:
    """16 clients add their own property to one image at the same moment: every PATCH
    answers 200 (never 5xx) and no property is lost to another client's update."""
    image = image_owner.create(name=unique("patch"))
    barrier = threading.Barrier(THREADS)

    def patch(n: int) -> list[int]:
        statuses = []
        with _client(image_owner) as http:
            barrier.wait(timeout=60)
            for round_ in range(3):
                ops = [
                    {"op": "add", "path": f"/p{n}_{round_}", "value": str(n)},
                    {"op": "replace", "path": "/min_ram", "value": n},
                ]
                resp = http.patch(
                    f"/images/{image['id']}",
                    content=json.dumps(ops),
                    headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
                )
                statuses.append(resp.status_code)
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(patch, range(THREADS)))
    assert all(s == 200 for statuses in results for s in statuses), results
    shown = image_owner.show(image["id"])
    missing = [f"p{n}_{r}" for n in range(THREADS) for r in range(3) if f"p{n}_{r}" not in shown]
    assert not missing, f"properties lost to concurrent updates: {missing}"
    assert shown["min_ram"] in range(THREADS)
