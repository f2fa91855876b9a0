"""Google-shaped HTTP errors: every failure answers `{"error": {"code", "message", "status", "details"?}}`."""

from __future__ import annotations

from aiohttp import web

# HTTP status -> the google.rpc canonical code name Google's frontends send with it.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# google.rpc.Code numbers, for the `error` of a finished operation (a google.rpc.Status carries no status name).
RPC_CODES = {"INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "RESOURCE_EXHAUSTED": 8, "INTERNAL": 13, "UNAVAILABLE": 14}

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
AUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def status_name(http_status: int) -> str:
    """The canonical code name for an HTTP status (unmapped: INTERNAL for 5xx, FAILED_PRECONDITION for 4xx)."""
    if http_status in STATUS_NAMES:
        return STATUS_NAMES[http_status]
    return "INTERNAL" if http_status >= 500 else "FAILED_PRECONDITION"


class GoogleError(Exception):
    """An HTTP error the emulator answers with Google's JSON error body."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or status_name(code)
        self.details = list(details or [])
        self.headers = dict(headers or {})

    def body(self) -> dict:
        """The JSON body Google's APIs send for this error."""
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> web.Response:
        """This error as an aiohttp response."""
        return web.json_response(self.body(), status=self.code, headers=self.headers)


def invalid_argument(field: str, message: str) -> GoogleError:
    """A 400 INVALID_ARGUMENT naming the offending field, as a google.rpc.BadRequest field violation too."""
    violation = {"field": field, "description": message}
    return GoogleError(400, message, details=[{"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]}])


def unknown_field(field: str) -> GoogleError:
    """The 400 Google's JSON parser answers for a field the request message does not define."""
    parent, _, name = field.rpartition(".")
    where = f" at '{parent}'" if parent else ""
    return invalid_argument(field, f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.')


def not_found(message: str) -> GoogleError:
    """A 404 NOT_FOUND."""
    return GoogleError(404, message)


def error_info(reason: str, domain: str, metadata: dict[str, str]) -> dict:
    """A google.rpc.ErrorInfo detail."""
    return {"@type": ERROR_INFO_TYPE, "reason": reason, "domain": domain, "metadata": metadata}


# Messages for scripted `status` faults, by HTTP status; anything else gets a generic one.
FAULT_MESSAGES = {
    400: "Request contains an invalid argument. (scripted fault)",
    401: f"Request had invalid authentication credentials. {AUTH_HELP} (scripted fault)",
    403: "The caller does not have permission. (scripted fault)",
    404: "Requested entity was not found. (scripted fault)",
    409: "The operation was aborted. (scripted fault)",
    429: "Resource exhausted. Please try again later. (scripted fault)",
    500: "Internal error encountered. (scripted fault)",
    502: "The service is currently unavailable. (scripted fault)",
    503: "The service is currently unavailable. (scripted fault)",
    504: "The request timed out. (scripted fault)",
}


def fault_error(http_status: int, *, retry_after: float | None, code: str | None, message: str | None) -> GoogleError:
    """The error a scripted `status` fault answers with; the fault's `code` overrides the status name."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, round(retry_after)))
    text = message or FAULT_MESSAGES.get(http_status, "Scripted fault.")
    return GoogleError(http_status, text, status=code, headers=headers)
