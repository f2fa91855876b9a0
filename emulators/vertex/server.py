"""The aiohttp application: Veo, the Cloud Storage download and the admin API behind one pipeline.

The pipeline logs every API call, applies scripted faults, checks the Bearer token and turns every
failure into Google's error body; the admin API is the Sora emulator's (unlogged, unfaulted, no auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac

from aiohttp import web

from emulators.sora import admin
from emulators.sora.emulator import EMULATOR, FAULT, LOG_ENTRY, STALL
from emulators.sora.errors import ApiError
from emulators.sora.faults import Fault
from emulators.sora.media import MediaError
from emulators.vertex import oauth, predict_api, storage_api
from emulators.vertex.emulator import API, STORAGE_API, Options, VertexEmulator
from emulators.vertex.errors import AUTH_HELP, GoogleError, error_info, fault_error

# Room for a first frame, a last frame and three reference images as base64 (20 MB each at most).
MAX_BODY_BYTES = 64 * 1024 * 1024
DROPPED = "vertex.dropped"
SERVICES = {API: "aiplatform.googleapis.com", STORAGE_API: "storage.googleapis.com"}
CHALLENGE = 'Bearer realm="https://accounts.google.com/"'


def check_auth(request: web.Request, api_key: str | None, api: str | None) -> None:
    """Require `Authorization: Bearer <token>`; with `--api-key` the token must equal it. 401 otherwise."""
    authorization = request.headers.get("Authorization", "")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    service = SERVICES.get(api or "", "googleapis.com")
    if not token:
        raise GoogleError(
            401,
            f"Request is missing required authentication credential. {AUTH_HELP}",
            details=[error_info("CREDENTIALS_MISSING", "googleapis.com", {"service": service})],
            headers={"WWW-Authenticate": CHALLENGE},
        )
    if api_key is not None and not hmac.compare_digest(token.encode(), api_key.encode()):
        raise GoogleError(
            401,
            f"Request had invalid authentication credentials. {AUTH_HELP}",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    if exc.status in (404, 405):
        # Google's frontends answer an unknown path or method with 404.
        return GoogleError(404, f"The requested URL {request.method} {request.path} was not found.").response()
    if exc.status == 413:
        return GoogleError(400, f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes.").response()
    return GoogleError(exc.status, exc.reason).response()


async def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the client sees a disconnect)."""
    request[DROPPED] = True
    # Read the body first: closing while request bytes still arrive makes the kernel send a reset instead.
    with contextlib.suppress(Exception):
        await request.read()
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _fault_error(fault: Fault) -> GoogleError:
    return fault_error(fault.status or 500, retry_after=fault.retry_after, code=fault.code, message=fault.message)


async def _serve(request: web.Request, handler, emulator: VertexEmulator, api: str | None, name: str | None):
    fault = emulator.faults.take(api, name)
    if fault is not None:
        request[LOG_ENTRY]["fault"] = fault.kind
        if fault.kind == "slow":
            # Take the whole request first: a client that gives up while waiting must not undo a call that arrived.
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
        check_auth(request, emulator.options.api_key, api)
        response = await handler(request)
    except GoogleError as exc:
        response = exc.response()
    except MediaError as exc:
        response = GoogleError(500, f"Internal error encountered: the video could not be made: {exc}").response()
    if fault is not None and fault.phase == "after":
        if fault.kind == "status":
            return _fault_error(fault).response()
        if fault.kind == "drop":
            return await _drop(request)
    if request.get(FAULT) is not None and request[FAULT].kind == "drop":
        return await _drop(request)  # the download failed before streaming: drop it anyway, as the fault promised
    return response


@web.middleware
async def pipeline(request: web.Request, handler):
    """Log every API call, apply faults, check auth, and turn every failure into Google's error body."""
    emulator = request.app[EMULATOR]
    if request.path.startswith("/_emulator/") or request.path == "/token":  # admin and OAuth: no Bearer token
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            return _http_error(request, exc)
    target = request.match_info.handler
    api, name = getattr(target, "api", None), getattr(target, "operation", None)
    if callable(name):
        name = name(request)  # one path, two operations (a Cloud Storage object's metadata or its bytes)
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
    except GoogleError as exc:
        response = exc.response()
    except web.HTTPException as exc:
        response = _http_error(request, exc)
    if not request.get(DROPPED) and entry["status"] is None:
        entry["status"] = response.status
    return response


def admin_routes() -> list[web.RouteDef]:
    """The Sora emulator's admin API, less its video import (which makes Sora videos)."""
    return [route for route in admin.routes() if route.path != "/_emulator/videos/import"]


def create_app(options: Options, service_account: oauth.ServiceAccount | None = None) -> web.Application:
    """The emulator as an aiohttp application; with `service_account`, also its OAuth token endpoint."""
    app = web.Application(middlewares=[pipeline], client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = VertexEmulator(options)
    app.add_routes(predict_api.routes() + storage_api.routes() + admin_routes())
    if service_account is not None:
        app[oauth.SERVICE_ACCOUNT] = service_account
        app.add_routes(oauth.routes())
    return app
