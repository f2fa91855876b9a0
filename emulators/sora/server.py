"""The aiohttp application: both APIs and the admin API behind one pipeline (log, faults, auth, errors)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets

from aiohttp import web

from emulators.sora import admin, jobs_api, videos_api
from emulators.sora.emulator import EMULATOR, FAULT, LOG_ENTRY, STALL, Emulator, Options
from emulators.sora.errors import ApiError, fault_error
from emulators.sora.faults import Fault
from emulators.sora.media import MediaError

# Large enough for a 20 MB reference image (or two, plus a video, for the jobs API) and multipart overhead.
MAX_BODY_BYTES = 64 * 1024 * 1024
DROPPED = "sora.dropped"

HTTP_ERROR_CODES = {404: "invalid_url", 405: "method_not_allowed", 413: "request_too_large"}


def _mask(key: str) -> str:
    return f"{key[:2]}{'*' * 6}{key[-2:]}" if len(key) > 8 else "*" * len(key)


def check_auth(request: web.Request, api_key: str | None) -> None:
    """Accept the key as an `api-key` header or an `Authorization: Bearer` token; 401 otherwise."""
    if api_key is None:
        return
    offered = []
    if "api-key" in request.headers:
        offered.append(request.headers["api-key"].strip())
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        offered.append(authorization[7:].strip())
    offered = [key for key in offered if key]
    if not offered:
        raise ApiError(
            401,
            "You didn't provide an API key. Send it in the 'api-key' header or as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    if not any(hmac.compare_digest(key.encode(), api_key.encode()) for key in offered):
        raise ApiError(
            401,
            f"Incorrect API key provided: {_mask(offered[0])}. Access denied due to invalid subscription key.",
            code="invalid_api_key",
        )


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    if exc.status == 404:
        message = f"Invalid URL ({request.method} {request.path})"
    elif exc.status == 405:
        message = f"Method {request.method} is not allowed on {request.path}."
    elif exc.status == 413:
        message = f"The request body is larger than the {MAX_BODY_BYTES // (1024 * 1024)} MB the service accepts."
    else:
        message = exc.reason
    kind = "server_error" if exc.status >= 500 else "invalid_request_error"
    code = HTTP_ERROR_CODES.get(exc.status, f"http_{exc.status}")
    return ApiError(exc.status, message, code=code, type=kind).response()


async def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the client sees a disconnect)."""
    request[DROPPED] = True
    # Read the body first: closing with request bytes still arriving makes the kernel send a reset
    # instead of a clean close, and the fault would look different from one run to the next.
    with contextlib.suppress(Exception):
        await request.read()
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _fault_error(fault: Fault) -> ApiError:
    return fault_error(fault.status or 500, retry_after=fault.retry_after, code=fault.code, message=fault.message)


async def _serve(request: web.Request, handler, emulator: Emulator, api: str | None, name: str | None):
    fault = emulator.faults.take(api, name)
    if fault is not None:
        request[LOG_ENTRY]["fault"] = fault.kind
        if fault.kind == "slow":
            # Take the whole request first, as a slow service has: a client that gives up while waiting must not
            # undo a call that arrived (aiohttp fails a body read once the connection is gone).
            with contextlib.suppress(Exception):
                await request.read()
            await asyncio.sleep(fault.seconds or 0)
        elif fault.kind == "stall":
            request[STALL] = True
        elif fault.phase == "after":
            pass  # applied once the call has been processed, below
        elif fault.kind == "status":
            raise _fault_error(fault)
        elif name == "content":
            request[FAULT] = fault  # truncate or drop, mid-body (downloads.stream_file)
        else:
            return await _drop(request)
    try:
        check_auth(request, emulator.options.api_key)
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except MediaError as exc:
        # An imported file ffmpeg cannot read, say: the caller learns why instead of a bare 500.
        response = ApiError(
            500, f"The asset could not be made: {exc}", code="media_error", type="server_error"
        ).response()
    if fault is not None and fault.phase == "after":
        if fault.kind == "status":
            return _fault_error(fault).response()
        if fault.kind == "drop":
            return await _drop(request)
    if request.get(FAULT) is not None and request[FAULT].kind == "drop":
        # The content call failed before streaming: drop it anyway, as the fault promised.
        return await _drop(request)
    return response


@web.middleware
async def pipeline(request: web.Request, handler):
    """Log every API call, apply faults, check auth, and turn every failure into the providers' error body."""
    emulator = request.app[EMULATOR]
    if request.path.startswith("/_emulator/"):
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            return _http_error(request, exc)
    target = request.match_info.handler
    api, name = getattr(target, "api", None), getattr(target, "operation", None)
    entry = emulator.log.start(
        method=request.method,
        path=request.path,
        query=request.query_string,
        api=api,
        operation=name,
        time=emulator.clock.now(),
    )
    request[LOG_ENTRY] = entry
    try:
        response = await _serve(request, handler, emulator, api, name)
    except ApiError as exc:
        response = exc.response()
    except web.HTTPException as exc:
        response = _http_error(request, exc)
    if not request.get(DROPPED) and entry["status"] is None:
        entry["status"] = response.status
    return response


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("x-request-id", "req_" + secrets.token_hex(12))


def create_app(options: Options) -> web.Application:
    """The emulator as an aiohttp application."""
    app = web.Application(middlewares=[pipeline], client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = Emulator(options)
    app.add_routes(videos_api.routes() + jobs_api.routes() + admin.routes())
    app.on_response_prepare.append(_stamp)
    return app
