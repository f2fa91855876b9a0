"""The admin API under `/_emulator/` (no auth): reset, request log, faults, imports, the clock and status."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import web

from emulators.sora.emulator import EMULATOR, Emulator
from emulators.sora.errors import ApiError, invalid_type, invalid_value, missing_parameter
from emulators.sora.faults import FaultSpecError
from emulators.sora.media import MediaSource
from emulators.sora.store import (
    GenerationJob,
    Timeline,
    Video,
    new_generation_id,
    new_job_id,
    new_video_id,
    retention_seconds,
)

SIZE = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
IMPORT_FIELDS = {"path", "size", "seconds", "api", "model", "prompt"}
RESET_FIELDS = {"time_scale", "max_concurrent_jobs"}


async def _json_object(request: web.Request) -> dict:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}.", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "The body must be a JSON object.", code="invalid_json")
    return value


def _reject_unknown(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"Unknown parameter: '{unknown[0]}'.", code="unknown_parameter", param=unknown[0])


def _positive_number(body: dict, key: str, *, maximum: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(key, f"'{key}' must be a number.")
    if not 0 < value <= maximum:
        raise invalid_value(key, f"'{key}' must be above 0 and at most {maximum:g}, got {value}.")
    return float(value)


def _emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


async def reset(request: web.Request) -> web.Response:
    """POST /_emulator/reset: drop jobs, faults and the log; optionally override time_scale / max_concurrent_jobs."""
    body = await _json_object(request)
    _reject_unknown(body, RESET_FIELDS)
    time_scale = _positive_number(body, "time_scale", maximum=1000)
    limit = body.get("max_concurrent_jobs")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000):
        raise invalid_value("max_concurrent_jobs", "'max_concurrent_jobs' must be an integer from 1 to 1000.")
    emulator = _emulator(request)
    emulator.reset(time_scale=time_scale, max_concurrent_jobs=limit)
    return web.json_response({"reset": True, **emulator.describe()})


async def status(request: web.Request) -> web.Response:
    """GET /_emulator/status: the settings in force and the number of active jobs."""
    return web.json_response(_emulator(request).describe())


async def list_requests(request: web.Request) -> web.Response:
    """GET /_emulator/requests: the request log, filtered by any of api, operation, method, status, job_id."""
    filters = {k: v for k, v in request.query.items() if k in ("api", "operation", "method", "status", "job_id")}
    return web.json_response({"requests": _emulator(request).log.entries(**filters)})


async def add_fault(request: web.Request) -> web.Response:
    """POST /_emulator/faults: script a fault for the next matching calls."""
    body = await _json_object(request)
    try:
        fault = _emulator(request).faults.add(body)
    except FaultSpecError as exc:
        raise invalid_value(exc.param, str(exc)) from exc
    return web.json_response(fault.to_json(), status=201)


async def list_faults(request: web.Request) -> web.Response:
    """GET /_emulator/faults: the faults still active."""
    return web.json_response({"faults": [f.to_json() for f in _emulator(request).faults.active()]})


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /_emulator/faults: deactivate every fault."""
    _emulator(request).faults.clear()
    return web.json_response({"faults": []})


async def advance_time(request: web.Request) -> web.Response:
    """POST /_emulator/time/advance {"seconds": N}: jump the emulator clock forward."""
    body = await _json_object(request)
    _reject_unknown(body, {"seconds"})
    if "seconds" not in body:
        raise missing_parameter("seconds")
    seconds = _positive_number(body, "seconds", maximum=10 * 365 * 86400)
    now = _emulator(request).clock.advance(seconds or 0.0)
    return web.json_response({"now": now, "offset": _emulator(request).clock.offset})


async def import_video(request: web.Request) -> web.Response:
    """POST /_emulator/videos/import: register a completed video (or job) whose content is a local file."""
    body = await _json_object(request)
    _reject_unknown(body, IMPORT_FIELDS)
    for key in ("path", "size", "seconds"):
        if key not in body:
            raise missing_parameter(key)
    path = body["path"]
    if not isinstance(path, str) or not Path(path).is_file():
        raise invalid_value("path", f"'path' must name an existing file on the emulator's machine: {path!r}.")
    size = body["size"]
    match = SIZE.match(size) if isinstance(size, str) else None
    if match is None:
        raise invalid_value("size", f"'size' must look like '1920x1080', got {size!r}.")
    seconds = body["seconds"]
    if isinstance(seconds, str) and seconds.isdigit():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 3600:
        raise invalid_value("seconds", f"'seconds' must be a whole number of seconds from 1 to 3600, got {seconds!r}.")
    api = body.get("api", "videos")
    if api not in ("videos", "jobs"):
        raise invalid_value("api", f"'api' must be 'videos' or 'jobs', got {api!r}.")
    for key in ("model", "prompt"):
        if key in body and not isinstance(body[key], str):
            raise invalid_type(key, f"'{key}' must be a string.")
    emulator = _emulator(request)
    now = emulator.clock.now()
    width, height = int(match.group(1)), int(match.group(2))
    source = MediaSource(width, height, seconds, path=str(Path(path).resolve()))
    prompt = body.get("prompt", f"Imported from {Path(path).name}")
    # Finished the moment it is created, so it never holds a concurrency slot.
    timeline = Timeline(start=now, duration=0.0)
    retention = retention_seconds(emulator.time_scale)
    if api == "videos":
        video = emulator.store.add_video(
            Video(
                id=new_video_id(),
                model=body.get("model", "sora-2"),
                prompt=prompt,
                size=size,
                seconds=str(seconds),
                timeline=timeline,
                retention=retention,
                source=source,
            )
        )
        return web.json_response(video.to_json(now), status=201)
    job = emulator.store.add_job(
        GenerationJob(
            id=new_job_id(),
            model=body.get("model", "sora"),
            prompt=prompt,
            width=width,
            height=height,
            n_seconds=seconds,
            n_variants=1,
            timeline=timeline,
            retention=retention,
            generation_ids=[new_generation_id()],
            sources=[source],
        )
    )
    return web.json_response(job.to_json(now), status=201)


def routes() -> list[web.RouteDef]:
    """The admin API."""
    return [
        web.post("/_emulator/reset", reset),
        web.get("/_emulator/status", status, allow_head=False),
        web.get("/_emulator/requests", list_requests, allow_head=False),
        web.post("/_emulator/faults", add_fault),
        web.get("/_emulator/faults", list_faults, allow_head=False),
        web.delete("/_emulator/faults", clear_faults),
        web.post("/_emulator/time/advance", advance_time),
        web.post("/_emulator/videos/import", import_video),
    ]
