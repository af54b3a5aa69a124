"""Errors that know their HTTP status.

Services raise these; each service's API maps them to its own OpenStack fault body in one place
(see ``identity/api/faults.py``). The message is shown to the client, so it never carries
secrets or internals.
"""

from __future__ import annotations

from http import HTTPStatus


class OnestackError(Exception):
    status: int = 500
    default_message = "An unexpected error prevented the server from fulfilling your request."

    def __init__(self, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(OnestackError):
    status = 400
    default_message = "The request you have made requires validation."


class ValidationError(BadRequest):
    pass


class Unauthorized(OnestackError):
    status = 401
    default_message = "The request you have made requires authentication."


class Forbidden(OnestackError):
    status = 403
    default_message = "You are not authorized to perform the requested action."


class NotFound(OnestackError):
    status = 404
    default_message = "Could not find the requested resource."


class MethodNotAllowed(OnestackError):
    status = 405
    default_message = "The method is not allowed for the requested URL."


class NotAcceptable(OnestackError):
    status = 406
    default_message = "The requested version or representation is not available."


class Conflict(OnestackError):
    status = 409
    default_message = "Conflict occurred attempting to store the resource."


class Gone(OnestackError):
    status = 410


class PayloadTooLarge(OnestackError):
    status = 413
    default_message = "Request entity is too large."


class UnsupportedMediaType(OnestackError):
    status = 415
    default_message = "The media type of the request is not supported."


class NotImplementedYet(OnestackError):
    status = 501
    default_message = "The action you have requested has not been implemented."


class ServiceUnavailable(OnestackError):
    status = 503
    default_message = "The service is temporarily unavailable."
