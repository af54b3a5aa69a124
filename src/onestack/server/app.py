"""The one ASGI application: every enabled service mounted at its prefix, plus /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from onestack.common import metrics
from onestack.common.config import Settings
from onestack.common.context import new_request_id
from onestack.common.db import Database
from onestack.common.http import ServiceMiddleware
from onestack.common.logging import ACCESS
from onestack.common.policy import Enforcer
from onestack.identity import policies as identity_policies
from onestack.identity.api import app as identity_app
from onestack.identity.api.common import fault as identity_fault
from onestack.identity.bootstrap import CatalogEntry
from onestack.identity.service import IdentityService, InProcessIdentityClient
from onestack.image import policies as image_policies
from onestack.image.api import app as image_app
from onestack.image.api.common import fault as image_fault
from onestack.image.service import ImageService

log = logging.getLogger(__name__)

SERVICES = ("identity", "image")
CATALOG = {
    "identity": CatalogEntry("identity", "keystone", "/identity", "onestack Identity"),
    "image": CatalogEntry("image", "glance", "/image", "onestack Image"),
}


@dataclass
class Cloud:
    """Everything a running onestack holds: settings, database, policy, services."""

    settings: Settings
    db: Database
    enforcer: Enforcer
    identity: IdentityService
    image: ImageService | None = None
    mounts: dict[str, ASGIApp] = field(default_factory=dict)

    @property
    def services(self) -> list[str]:
        return [s for s in self.settings.server.enabled_services if s in SERVICES]

    def catalog_entries(self) -> list[CatalogEntry]:
        return [CATALOG[s] for s in self.services]


def open_cloud(settings: Settings) -> Cloud:
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database(settings.database_url, settings.database.pool_size, settings.database.echo)
    enforcer = Enforcer(enforce_scope=settings.policy.enforce_scope)
    enforcer.register(identity_policies.RULES)
    enforcer.register(image_policies.RULES)
    if settings.policy.file:
        enforcer.load_overrides(settings.policy.file)
    identity = IdentityService(db, settings)
    cloud = Cloud(settings=settings, db=db, enforcer=enforcer, identity=identity)
    if "image" in cloud.services:
        cloud.image = ImageService(db, settings)
    return cloud


class Dispatcher:
    """Routes a request to the service whose prefix it starts with."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        max_body = cloud.settings.server.max_request_body_size
        client = InProcessIdentityClient(cloud.identity)
        self.mounts: list[tuple[str, ASGIApp]] = []
        if "identity" in cloud.services:
            app = identity_app.build(cloud.identity, cloud.enforcer, client)
            self.mounts.append(
                ("/identity", ServiceMiddleware(app, "identity", identity_fault, max_body))
            )
        if cloud.image is not None:
            app = image_app.build(cloud.image, cloud.enforcer, client)
            middleware = ServiceMiddleware(
                app, "image", image_fault, max_body, unlimited=image_app.streams_data
            )
            self.mounts.append(("/image", middleware))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                if path == prefix:
                    scope = {**scope, "path": prefix + "/", "raw_path": (prefix + "/").encode()}
                scope["root_path"] = scope.get("root_path", "") + prefix
                await app(scope, receive, send)
                return
        if path == "/metrics":
            body, content_type = metrics.generate()
            await _send(send, 200, body, content_type)
            return
        if path == "/":
            services = [{"name": p.strip("/"), "href": p} for p, _ in self.mounts]
            await _send(send, 200, orjson.dumps({"services": services}), "application/json")
            return
        error = {
            "error": {
                "code": 404,
                "message": "The resource could not be found.",
                "title": "Not Found",
            }
        }
        await _send(send, 404, orjson.dumps(error), "application/json")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        maintenance: asyncio.Task[None] | None = None
        flusher: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                maintenance = asyncio.create_task(self._maintain())
                flusher = asyncio.create_task(self._flush_access_log())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in (maintenance, flusher):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                ACCESS.flush()
                self.cloud.db.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_access_log(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            ACCESS.flush()

    async def _maintain(self, interval: float = 30.0, prune_every: int = 20) -> None:
        """Periodic housekeeping: pick up rotated token keys (every ``interval`` seconds) and
        drop revocation events no token can match any more (every ``prune_every`` rounds)."""
        identity = self.cloud.identity
        rounds = 0
        while True:
            try:
                if identity.reload_keys_if_rotated():
                    log.info("token keys were rotated: reloaded them")
                if rounds % prune_every == 0:
                    pruned = await anyio.to_thread.run_sync(identity.tokens.revocations.prune)
                    if pruned:
                        log.info("pruned %d expired revocation events", pruned)
            except Exception:
                log.exception("housekeeping failed; trying again later")
            rounds += 1
            await asyncio.sleep(interval)


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-openstack-request-id", new_request_id().encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
