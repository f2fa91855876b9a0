"""Request inputs as both APIs accept them: a JSON object or multipart/form-data body, and list queries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

from emulators.sora.errors import ApiError, invalid_type, invalid_value


@dataclass(frozen=True)
class Upload:
    """One uploaded file part."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Payload:
    """A parsed body: JSON values (or form strings) and uploaded files by field name."""

    fields: dict[str, object] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)
    form: bool = False


async def read_payload(request: web.Request) -> Payload:
    """Parse the body by its content type, answering 400 for anything malformed."""
    content_type = request.content_type
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request)
    raw = await request.read()
    if not raw.strip():
        return Payload()
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. The body must be a JSON object "
            f"(sent as application/json) or multipart/form-data ({exc}).",
            code="invalid_json",
        ) from exc
    if not isinstance(value, dict):
        raise ApiError(400, f"The JSON body must be an object, got {type(value).__name__}.", code="invalid_json")
    return Payload(fields=value)


async def _read_form(request: web.Request) -> Payload:
    try:
        form = await request.post()
    except ValueError as exc:
        raise ApiError(400, f"The form body could not be parsed: {exc}.", code="invalid_form") from exc
    payload = Payload(form=True)
    for name, value in form.items():
        if isinstance(value, str):
            if name in payload.fields:
                raise ApiError(400, f"Duplicate parameter: '{name}'.", code="duplicate_parameter", param=name)
            payload.fields[name] = value
        else:
            data = value.file.read()
            upload = Upload(filename=value.filename or "", content_type=value.content_type or "", data=data)
            payload.files.setdefault(name, []).append(upload)
    return payload


def reject_unknown(payload: Payload, allowed: set[str]) -> None:
    """A 400 naming the first parameter the API does not define."""
    for name in [*payload.fields, *payload.files]:
        if name not in allowed:
            raise ApiError(400, f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)


def json_type_name(value: object) -> str:
    """How error messages name a JSON value's type ("an integer", "a string", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string"


def parse_limit(request: web.Request, default: int, maximum: int, minimum: int = 0) -> int:
    """The `limit` query parameter of a list call, within bounds."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_value("limit", f"Invalid 'limit': expected an integer, got '{raw[:100]}'.") from None
    if not minimum <= limit <= maximum:
        raise invalid_value("limit", f"Invalid 'limit': {limit}. It must be between {minimum} and {maximum}.")
    return limit


def wrong_type(param: str, expected: str, value: object) -> ApiError:
    """The 400 `invalid_type` in the real services' words."""
    got = json_type_name(value)
    return invalid_type(param, f"Invalid type for '{param}': expected {expected}, but got {got} instead.")


def list_response(page: list, matching: int, now: float) -> web.Response:
    """A list page as both APIs answer it: `data`, `first_id`, `last_id`, and `has_more` (more matched than shown)."""
    return web.json_response(
        {
            "object": "list",
            "data": [item.to_json(now) for item in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": matching > len(page),
        }
    )
