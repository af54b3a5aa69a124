"""Image data: upload (PUT /file), staging (PUT /stage), import, and download (GET /file)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from onestack.common.errors import (
    BadRequest,
    NotFound,
    OnestackError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from onestack.common.http import JSONResponse, read_json
from onestack.image.api.common import Api, run
from onestack.image.data import Download, Transfer
from onestack.image.pipeline import Pipeline

log = logging.getLogger(__name__)
OCTET_STREAM = "application/octet-stream"


class ClientGone(BadRequest):
    default_message = "The client closed the connection before the image data was complete."


def _content_md5(request: Request) -> str | None:
    """The md5 a client sent in Content-MD5 (base64 per RFC 1864, or hex), as hex."""
    value = request.headers.get("content-md5")
    if not value:
        return None
    value = value.strip()
    if len(value) == 32 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise BadRequest("Content-MD5 is neither base64 nor hex.") from None


def _declared_size(request: Request) -> int | None:
    """The size a client announced in x-openstack-image-size (checked against the data)."""
    value = request.headers.get("x-openstack-image-size")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise BadRequest(f"Invalid x-openstack-image-size {value!r}: a size in bytes.")
    return int(value)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientGone() from None


async def receive_data(api: Api, request: Request, transfer: Transfer, staging: bool) -> None:
    """Stream the request body into the transfer's writer, verify it, and commit it."""
    data = api.service.data
    too_large = "Image exceeds the storage quota or the maximum image size."
    try:
        declared = _declared_size(request)
        limit = transfer.max_bytes
        if declared is not None and limit is not None and declared > limit:
            raise PayloadTooLarge(too_large)
        transferred = await Pipeline(transfer.writer, transfer.max_bytes, too_large).consume(
            _chunks(request)
        )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) != transferred.size:
            raise ClientGone(f"Got {transferred.size} bytes of the {length} announced.")
        if declared is not None and declared != transferred.size:
            raise BadRequest(
                f"Image size mismatch: x-openstack-image-size says {declared} bytes, "
                f"{transferred.size} were received."
            )
        expected = _content_md5(request)
        if expected is not None and expected != transferred.checksum:
            raise BadRequest(
                f"Checksum mismatch: Content-MD5 says {expected}, the data's md5 is "
                f"{transferred.checksum}."
            )
        await run(data.finish, transfer, transferred)
    except BaseException:
        await asyncio.shield(run(data.fail, transfer))
        raise


def _check_media(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != OCTET_STREAM:
        raise UnsupportedMediaType(
            f"Unsupported content type {media!r}: image data is {OCTET_STREAM}."
        )


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single ``bytes=`` range; None when it is unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        raise BadRequest("Only a single bytes range is supported.")
    first_text, _, last_text = spec.strip().partition("-")
    try:
        if not first_text:
            suffix = int(last_text)
            if suffix <= 0 or size == 0:
                return None
            return max(0, size - suffix), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        raise BadRequest(f"Invalid Range header {header!r}.") from None
    if first >= size:
        return None
    if first > last:
        raise BadRequest(f"Invalid Range header {header!r}.")
    return first, min(last, size - 1)


class DataResponse(Response):
    """Streams a byte range of stored data; each chunk is read in a worker thread."""

    def __init__(self, chunks: Iterator[bytes], status_code: int, headers: dict[str, str]):
        super().__init__(status_code=status_code, headers=headers, media_type=OCTET_STREAM)
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        loop = asyncio.get_running_loop()
        ahead: asyncio.Future[bytes | None] | None = None
        try:
            # One chunk read ahead: the disk read of the next chunk overlaps sending this one.
            ahead = loop.run_in_executor(None, next, self.chunks, None)
            while True:
                chunk = await ahead
                if chunk is None:
                    break
                ahead = loop.run_in_executor(None, next, self.chunks, None)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if ahead is not None and not ahead.done():
                # The reader thread must be done with the generator before it is closed.
                with contextlib.suppress(BaseException):
                    await asyncio.shield(ahead)
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()


def routes(api: Api) -> list[Route]:
    data = api.service.data
    imports: set[asyncio.Task[None]] = set()

    async def upload(request: Request) -> Response:
        _check_media(request)
        _, caller, check = api.prepare(request)
        image_id = request.path_params["image_id"]
        transfer = await run(data.begin, caller, image_id, check, False)
        await receive_data(api, request, transfer, staging=False)
        return Response(status_code=204)

    async def stage(request: Request) -> Response:
        _check_media(request)
        _, caller, check = api.prepare(request)
        image_id = request.path_params["image_id"]
        transfer = await run(data.begin, caller, image_id, check, True)
        await receive_data(api, request, transfer, staging=True)
        return Response(status_code=204)

    async def run_import(transfer: Transfer) -> None:
        loop = asyncio.get_running_loop()
        try:
            staged = api.service.staging.read(data.staged_location(transfer.image_id))

            async def chunks() -> AsyncIterator[bytes]:
                while True:
                    chunk = await loop.run_in_executor(None, next, staged, None)
                    if chunk is None:
                        return
                    yield chunk

            transferred = await Pipeline(transfer.writer, None, "").consume(chunks())
            await run(data.finish_import, transfer, transferred)
        except Exception as exc:
            log.exception("import of image %s failed", transfer.image_id)
            await run(data.fail_import, transfer, f"Import failed: {exc}")

    async def import_image(request: Request) -> Response:
        ctx, caller, check = api.prepare(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        image_id = request.path_params["image_id"]
        transfer = await run(data.begin_import, caller, image_id, body, ctx.request_id, check)
        # The import goes on after the answer (202), as Glance's tasks do.
        task = asyncio.create_task(run_import(transfer))
        imports.add(task)
        task.add_done_callback(imports.discard)
        return Response(status_code=202)

    async def download(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        image_id = request.path_params["image_id"]
        found: Download | None = await api.read(data.download, caller, image_id, check)
        if found is None:
            return Response(status_code=204)
        store = api.service.store

        def open_data(offset: int = 0, length: int | None = None) -> Iterator[bytes]:
            try:
                return store.read(found.location, offset, length)
            except FileNotFoundError:
                # Deleted since it was looked up.
                raise NotFound(f"No image data found for image {image_id}") from None

        range_header = request.headers.get("range")
        if range_header and "," in range_header:
            raise BadRequest("Multi-range requests are not supported.")
        if range_header:
            try:
                span = _parse_range(range_header, found.size)
            except OnestackError:
                span = (0, found.size - 1) if found.size else None
                range_header = None
            if span is None:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{found.size}"})
            if range_header:
                first, last = span
                length = last - first + 1
                headers = {
                    "Content-Range": f"bytes {first}-{last}/{found.size}",
                    "Content-Length": str(length),
                }
                return DataResponse(open_data(first, length), 206, headers)
        headers = {"Content-Length": str(found.size)}
        if found.checksum:
            headers["Content-MD5"] = found.checksum
        return DataResponse(open_data(), 200, headers)

    async def image_tasks(request: Request) -> Response:
        _, caller, check = api.prepare(request)
        tasks = await api.read(data.tasks, caller, request.path_params["image_id"], check)
        return JSONResponse({"tasks": tasks})

    return [
        Route("/v2/images/{image_id}/tasks", image_tasks, methods=["GET"]),
        Route("/v2/images/{image_id}/file", upload, methods=["PUT"]),
        Route("/v2/images/{image_id}/file", download, methods=["GET"]),
        Route("/v2/images/{image_id}/stage", stage, methods=["PUT"]),
        Route("/v2/images/{image_id}/import", import_image, methods=["POST"]),
    ]
