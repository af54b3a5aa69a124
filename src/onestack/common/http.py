"""HTTP plumbing shared by every service: JSON in and out, request ids, limits, metrics.

Each service is a Starlette app. :class:`ServiceMiddleware` wraps it and gives every request
an ``x-openstack-request-id``, a log line, metrics, and a body-size limit; errors raised before
the service's own handlers run are rendered with the service's fault formatter, so a client
always sees that service's OpenStack error format.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onestack.common import metrics
from onestack.common.context import RequestContext, new_request_id, request_id_var
from onestack.common.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    OnestackError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
)
from onestack.common.logging import ACCESS

log = logging.getLogger("onestack.http")

FaultFormatter = Callable[[OnestackError], Response]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def context(request: Request) -> RequestContext:
    ctx = request.scope.get("onestack.context")
    if ctx is None:
        ctx = RequestContext(request_id=request.scope.get("onestack.request_id", new_request_id()))
        request.scope["onestack.context"] = ctx
    return ctx


async def read_json(request: Request, schema: Mapping[str, Any] | None = None) -> Any:
    """The request body as JSON, checked against a JSON schema; 400 when it is not."""
    check_json_content_type(request.headers.get("content-type", ""))
    return parse_json(await request.body(), schema)


def check_json_content_type(content_type: str) -> None:
    """415 unless the request's content type is JSON (or absent)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"Unsupported content type {media!r}: use application/json.")


def parse_json(raw: bytes, schema: Mapping[str, Any] | None = None) -> Any:
    """A request body as JSON, checked against a JSON schema; 400 when it is not."""
    if not raw or raw.isspace():  # same test as `not raw.strip()`, without the copy
        raise ValidationError("The request body is empty; a JSON object was expected.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError("Malformed request body: it is not valid JSON.") from None
    if schema is not None:
        validate(body, schema)
    return body


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower case), as Starlette's
    ``request.headers.get`` would give it, for handlers that run without a Request."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole request body, read as Starlette's ``Request.body()`` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Send serialized JSON with the headers (and their order) a :class:`JSONResponse` has:
    the given ones, then content-length and content-type. For hot handlers, which skip
    building a Response object."""
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append(_JSON_TYPE)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_JSON_TYPE = (b"content-type", b"application/json")


# Schemas are compiled to Python once (fastjsonschema): validation costs microseconds.
_validators: dict[int, Callable[[Any], Any]] = {}


def validate(body: Any, schema: Mapping[str, Any]) -> None:
    validator = _validators.get(id(schema))
    if validator is None:
        validator = fastjsonschema.compile(dict(schema))
        _validators[id(schema)] = validator
    try:
        validator(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = ".".join(str(p) for p in (exc.path or [])[1:]) or "request body"
        message = exc.message.removeprefix(str(exc.name or "")).strip() or exc.message
        raise ValidationError(f"Invalid input for field '{field}': {message}") from None


def parse_bool(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"Invalid value for query parameter {name!r}: {value!r}.")


class ServiceMiddleware:
    """Request id, access log, metrics, body limit and fault rendering for one service."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        fault: FaultFormatter,
        max_body: int,
        unlimited: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.fault = fault
        self.max_body = max_body
        # (method, path) -> True for requests that stream data (image uploads, objects):
        # their size is bounded by the service itself, not by the JSON body limit.
        self.unlimited = unlimited
        self._series: dict[tuple[str, str, int], metrics.RequestSeries] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = new_request_id()
        token = request_id_var.set(request_id)
        scope["onestack.request_id"] = request_id
        status_holder = [500]
        response_started = [False]
        id_header = (b"x-openstack-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], id_header]
            await send(message)

        try:
            if self.unlimited is not None and self.unlimited(scope["method"], scope["path"]):
                await self.app(scope, receive, send_with_id)
                return
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                await self.fault(PayloadTooLarge())(scope, receive, send_with_id)
                return
            # A body that grows past the limit raises PayloadTooLarge from the route's
            # read, so the service's own exception handler answers 413.
            await self.app(scope, _limit_receive(receive, self.max_body), send_with_id)
        except Exception:
            log.exception("unhandled error")
            # Starlette's error middleware may have answered 500 already and re-raised:
            # a second response would break the connection.
            if not response_started[0]:
                await self.fault(OnestackError())(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            status = status_holder[0]
            series = self._series.get((template, method, status))
            if series is None:
                series = metrics.HTTP.series(self.service, template, method, str(status))
                self._series[(template, method, status)] = series
            series.observe(elapsed)
            # scope["path"] is the full path; root_path only marks the service's prefix.
            ACCESS.write(request_id, self.service, method, scope["path"], status, elapsed * 1000)
            request_id_var.reset(token)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limit_receive(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge()
        return message

    return limited


def base_url(request: Request) -> str:
    """The service's prefix as the client reached it: scheme://host/<prefix>."""
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    if not host:
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}{request.scope.get('root_path', '')}"


def fault_handlers(fault: FaultFormatter) -> dict[Any, Callable[[Request, Exception], Any]]:
    """Starlette exception handlers that render our errors and Starlette's own (404, 405)
    with a service's fault formatter."""

    async def on_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OnestackError)
        return fault(exc)

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return fault(http_exception_to_error(exc))

    return {OnestackError: on_error, HTTPException: on_http}


def http_exception_to_error(exc: HTTPException) -> OnestackError:
    if exc.status_code == 404:
        return NotFound("The resource could not be found.")
    if exc.status_code == 405:
        return MethodNotAllowed()
    error = OnestackError(exc.detail)
    error.status = exc.status_code
    return error
