"""Provider-shaped HTTP errors: every failure answers `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """An HTTP error the emulator answers with the real services' error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = dict(headers or {})

    def body(self) -> dict:
        """The JSON body the real services send for this error."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> web.Response:
        """This error as an aiohttp response."""
        return web.json_response(self.body(), status=self.status, headers=self.headers)


def invalid_value(param: str, message: str) -> ApiError:
    """A 400 for a parameter whose value is outside what the service allows."""
    return ApiError(400, message, code="invalid_value", param=param)


def invalid_type(param: str, message: str) -> ApiError:
    """A 400 for a parameter of the wrong JSON type (the classic `seconds: 8`)."""
    return ApiError(400, message, code="invalid_type", param=param)


def missing_parameter(param: str) -> ApiError:
    """A 400 for a required parameter that was not sent."""
    return ApiError(400, f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)


def not_found(message: str, *, param: str | None = None, code: str = "not_found") -> ApiError:
    """A 404 for an id the emulator does not know."""
    return ApiError(404, message, code=code, param=param)


# Error bodies for scripted `status` faults, by HTTP status; anything else gets a generic body.
FAULT_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "bad_request", "The request could not be processed (scripted fault)."),
    401: ("invalid_request_error", "invalid_api_key", "Access denied (scripted fault)."),
    403: ("invalid_request_error", "forbidden", "The principal lacks the required data action (scripted fault)."),
    404: ("invalid_request_error", "not_found", "The resource was not found (scripted fault)."),
    408: ("server_error", "timeout", "The request timed out (scripted fault)."),
    409: ("invalid_request_error", "conflict", "The request conflicts with the resource state (scripted fault)."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached (scripted fault). Please retry after {retry} second."),
    500: ("server_error", "internal_error", "The server had an error while processing your request (scripted fault)."),
    502: ("server_error", "bad_gateway", "Bad gateway (scripted fault)."),
    503: ("server_error", "service_unavailable", "The service is temporarily unavailable (scripted fault)."),
    504: ("server_error", "gateway_timeout", "The gateway timed out (scripted fault)."),
}


def fault_error(status: int, *, retry_after: float | None, code: str | None, message: str | None) -> ApiError:
    """The error a scripted `status` fault answers with."""
    kind, default_code, default_message = FAULT_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", f"http_{status}", "Scripted fault.")
    )
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, round(retry_after)))
        headers["retry-after-ms"] = str(max(0, round(retry_after * 1000)))
    text = message or default_message.format(retry=retry_after if retry_after is not None else 1)
    return ApiError(status, text, code=code or default_code, type=kind, headers=headers)
