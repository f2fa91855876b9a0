"""fal-shaped HTTP errors: model errors as a 422 `detail` list, request errors as `{"detail", "error_type"}`."""

from __future__ import annotations

from aiohttp import web

# What an nginx ingress answers; fal-client retries a 502/503/504 only when it carries no
# `x-fal-request-id` and its body mentions nginx (fal_client.client._is_ingress_error).
INGRESS_BODY = (
    "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


class FalError(Exception):
    """An HTTP error answered with a fal body: `{"detail": [...]}` or `{"detail": "...", "error_type": ...}`."""

    def __init__(self, status: int, body: dict, *, headers: dict[str, str] | None = None):
        super().__init__(str(body.get("detail")))
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """This error as an aiohttp response."""
        return web.json_response(self.body, status=self.status, headers=self.headers)


def request_error(status: int, message: str, error_type: str, *, headers: dict[str, str] | None = None) -> FalError:
    """A request (infrastructure) error: flat body, the type also in `X-Fal-Error-Type`."""
    return FalError(
        status,
        {"detail": message, "error_type": error_type},
        headers={"X-Fal-Error-Type": error_type, **(headers or {})},
    )


def validation_error(details: list[dict]) -> FalError:
    """A model's refusal of its input: 422 with the `detail` list."""
    return FalError(422, {"detail": details})


# Scripted `status` faults: the error_type each status answers with unless the fault names its own `code`.
FAULT_ERROR_TYPES = {
    400: ("bad_request", "The request could not be processed (scripted fault)."),
    401: ("unauthorized", "Authentication failed (scripted fault)."),
    404: ("not_found", "Not found (scripted fault)."),
    408: ("request_timeout", "The request timed out (scripted fault)."),
    409: ("conflict", "The request conflicts with another one (scripted fault)."),
    429: ("rate_limited", "Too many requests (scripted fault)."),
    500: ("internal_error", "Internal server error (scripted fault)."),
    502: ("runner_incomplete_response", "The runner sent an incomplete response (scripted fault)."),
    503: ("runner_scheduling_failure", "No runner could be scheduled (scripted fault)."),
    504: ("request_timeout", "Request timed out (scripted fault)."),
}
INGRESS = "ingress"


def fault_response(status: int, *, code: str | None, message: str | None, retry_after: float | None) -> web.Response:
    """The answer of a scripted `status` fault; `code: "ingress"` answers as fal's nginx ingress would."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, round(retry_after)))
    if code == INGRESS:
        return web.Response(
            status=status, text=INGRESS_BODY.format(status=status), content_type="text/html", headers=headers
        )
    default_type, default_message = FAULT_ERROR_TYPES.get(status, ("internal_error", "Scripted fault."))
    if status == 504 and code is None:
        # A start-timeout 504: fal-client never retries one that carries this header.
        headers["X-Fal-Request-Timeout-Type"] = "user"
    return request_error(status, message or default_message, code or default_type, headers=headers).response()
