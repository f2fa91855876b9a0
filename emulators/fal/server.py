"""The aiohttp application: the queue API, CDN and JWKS behind one pipeline (log, faults, auth, fal errors)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import uuid

from aiohttp import web

from emulators.fal import api
from emulators.fal.emulator import FalEmulator, Options, dispatch_webhooks
from emulators.fal.errors import FalError, fault_response
from emulators.fal.webhooks import cancel_quietly
from emulators.sora import admin
from emulators.sora.emulator import EMULATOR, FAULT, LOG_ENTRY, STALL
from emulators.sora.errors import ApiError
from emulators.sora.faults import Fault
from emulators.sora.media import MediaError

MAX_BODY_BYTES = 64 * 1024 * 1024
DROPPED = "fal.dropped"
INGRESS_ANSWER = "fal.ingress"
HTTP_ERROR_DETAILS = {404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large"}


def check_auth(request: web.Request, api_key: str | None) -> None:
    """Accept `Authorization: Key <key>` (a `key_id:key_secret` pair is one key); 401 otherwise."""
    if api_key is None:
        return
    authorization = request.headers.get("Authorization", "").strip()
    scheme, _, offered = authorization.partition(" ")
    if not authorization:
        raise FalError(401, {"detail": "Missing Authorization header: send 'Authorization: Key <FAL_KEY>'."})
    if scheme.lower() != "key" or not offered.strip():
        raise FalError(401, {"detail": "Unsupported Authorization scheme: send 'Authorization: Key <FAL_KEY>'."})
    if not hmac.compare_digest(offered.strip().encode(), api_key.encode()):
        raise FalError(401, {"detail": "No user found for the key given in the Authorization header."})


def _http_error(exc: web.HTTPException) -> web.Response:
    return web.json_response({"detail": HTTP_ERROR_DETAILS.get(exc.status, exc.reason)}, status=exc.status)


async def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the client sees a disconnect)."""
    request[DROPPED] = True
    # Read the body first: closing with request bytes still arriving makes the kernel send a reset.
    with contextlib.suppress(Exception):
        await request.read()
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _fault_answer(request: web.Request, fault: Fault) -> web.Response:
    if fault.code == "ingress":
        request[INGRESS_ANSWER] = True
    return fault_response(fault.status or 500, code=fault.code, message=fault.message, retry_after=fault.retry_after)


async def _serve(request: web.Request, handler, emulator: FalEmulator, api_name: str | None, name: str | None):
    fault = emulator.faults.take(api_name, name)
    if fault is not None:
        request[LOG_ENTRY]["fault"] = fault.kind
        if fault.kind == "slow":
            with contextlib.suppress(Exception):
                await request.read()
            await asyncio.sleep(fault.seconds or 0)
        elif fault.kind == "stall":
            request[STALL] = True
        elif fault.phase == "after":
            pass  # applied once the call has been processed, below
        elif fault.kind == "status":
            return _fault_answer(request, fault)
        elif name == "media":
            request[FAULT] = fault  # truncate or drop, mid-body (sora.downloads.stream_file)
        else:
            return await _drop(request)
    try:
        if api_name == "queue":
            check_auth(request, emulator.options.api_key)
        response = await handler(request)
    except FalError as exc:
        response = exc.response()
    except MediaError as exc:
        response = FalError(500, {"detail": f"The output could not be made: {exc}", "error_type": "internal_error"})
        response = response.response()
    if fault is not None and fault.phase == "after":
        if fault.kind == "status":
            return _fault_answer(request, fault)
        if fault.kind == "drop":
            return await _drop(request)
    return response


@web.middleware
async def pipeline(request: web.Request, handler):
    """Log every API call, apply faults, check the key, and answer every failure with a fal body."""
    emulator: FalEmulator = request.app[EMULATOR]
    if request.path.startswith("/_emulator/"):
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()  # the admin API answers as the Sora emulator's does
        except web.HTTPException as exc:
            return _http_error(exc)
    target = request.match_info.handler
    api_name, name = getattr(target, "api", None), getattr(target, "operation", None)
    entry = emulator.log.start(
        method=request.method,
        path=request.path,
        query=request.query_string,
        api=api_name,
        operation=name,
        time=emulator.clock.now(),
    )
    request[LOG_ENTRY] = entry
    try:
        response = await _serve(request, handler, emulator, api_name, name)
    except FalError as exc:
        response = exc.response()
    except web.HTTPException as exc:
        response = _http_error(exc)
    if not request.get(DROPPED) and entry["status"] is None:
        entry["status"] = response.status
    return response


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    # fal sends x-fal-request-id on every answer; fal-client reads its absence as an ingress error.
    if not request.get(INGRESS_ANSWER):
        response.headers.setdefault("x-fal-request-id", request.get(api.REQUEST_ID) or str(uuid.uuid4()))


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /_emulator/webhooks: every webhook, its attempts and whether it was delivered."""
    emulator: FalEmulator = request.app[EMULATOR]
    return web.json_response({"webhooks": [d.to_json() for d in emulator.deliveries.values()]})


def admin_routes() -> list[web.RouteDef]:
    """The Sora emulator's admin API (same paths and shapes), plus the webhook deliveries."""
    return [
        web.post("/_emulator/reset", admin.reset),
        web.get("/_emulator/status", admin.status, allow_head=False),
        web.get("/_emulator/requests", admin.list_requests, allow_head=False),
        web.post("/_emulator/faults", admin.add_fault),
        web.get("/_emulator/faults", admin.list_faults, allow_head=False),
        web.delete("/_emulator/faults", admin.clear_faults),
        web.post("/_emulator/time/advance", admin.advance_time),
        web.get("/_emulator/webhooks", list_webhooks, allow_head=False),
    ]


async def _webhook_dispatcher(app: web.Application):
    task = asyncio.create_task(dispatch_webhooks(lambda: app[EMULATOR]))
    yield
    await cancel_quietly(task)


def create_app(options: Options) -> web.Application:
    """The emulator as an aiohttp application."""
    app = web.Application(middlewares=[pipeline], client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = FalEmulator(options)
    app.add_routes(admin_routes() + api.routes(options.jwks_path))
    app.on_response_prepare.append(_stamp)
    app.cleanup_ctx.append(_webhook_dispatcher)
    return app
