"""The request of Sora's two wire APIs (the `sora` and `sora-jobs` plug-ins): the videos API (Sora 2: `remix`,
`seconds` "4"/"8"/"12") and the jobs API (Sora 1: `variants`, 1-20 s), validated against the model table
(`SORA_EXTRA_MODELS`) with the shared field checks of `soraflow.video_request`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType

from soraflow.errors import FieldError
from soraflow.model_table import MODEL_NAME, SORA1_MAX_VARIANTS, ModelLimits, load_model_table
from soraflow.video_request import (
    COMMON_FIELDS,
    FIELD_HINTS,
    MAX_UNKNOWN_FIELDS_NAMED,
    ROUTING_FIELDS,
    VideoRequest,
    _check_callback_url,
    _check_metadata,
    _check_prompt,
    _check_reference,
    _check_remix,
    _check_size,
    _fail,
    _field_name,
    _refuse_if_any,
    _show,
)

APIS = ("videos", "jobs")
MAX_VARIANTS = 4
FIELDS = {"videos": (*COMMON_FIELDS, "remix"), "jobs": (*COMMON_FIELDS, "variants")}


def parse_video_request(
    body: object,
    *,
    api: str,
    default_model: str,
    extra_models: str | None = None,
    allowed_containers: Collection[str] = (),
    allow_upload: bool = False,
    size_hints: Callable[[ModelLimits], Mapping[str, str]] | None = None,
) -> VideoRequest:
    """Validate a request body for `api` ("videos" or "jobs"); every violation is reported in one error.

    `size_hints` says, for a model's limits, why a size it lacks is refused (the plug-in's capability table).
    """
    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, got {api!r}")
    table = load_model_table(extra_models)  # ConfigurationError (naming SORA_EXTRA_MODELS) if malformed
    if not isinstance(body, Mapping):
        _fail("body", f"body must be a JSON object; got {_show(body)}")
    errors: list[FieldError] = []
    _check_unknown_fields(errors, body, api)

    prompt = _check_prompt(errors, "prompt", body.get("prompt"), required="prompt" not in body)

    model = body.get("model", None)
    limits: ModelLimits | None = None
    if model is None:
        model = default_model
    elif not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        errors.append(FieldError("model", f"model must be a model or deployment name; got {_show(model)}"))
        model = None
    if model is not None:
        limits = table.resolve(model, api=api, default_model=default_model)
        if limits is None:
            names = ", ".join(table.known_names(api)[:12])
            errors.append(
                FieldError(
                    "model",
                    f"model must be one of {names} or the configured default {_show(default_model)}; "
                    f"got {_show(model)} (add it to the SORA_EXTRA_MODELS setting to allow it)",
                )
            )

    hints = size_hints(limits) if size_hints and limits else {}
    size = _check_size(errors, body.get("size"), limits, hints)
    seconds = _check_seconds(errors, body.get("seconds"), limits, api)
    variants = _check_variants(errors, body, size, api)
    reference = _check_reference(errors, body.get("input_reference"), allowed_containers, allow_upload)
    remix_prompt = _check_remix(errors, body) if api == "videos" else None
    callback_url = _check_callback_url(errors, body.get("callback_url"))
    metadata = _check_metadata(errors, body.get("metadata"))
    if body.get("provider_options") not in (None, {}):
        errors.append(FieldError("provider_options", f"provider_options: {model} takes no provider options"))

    _refuse_if_any(errors, body)
    assert prompt is not None and model is not None and limits is not None and size and seconds
    return VideoRequest(
        api=api,
        prompt=prompt,
        model=model,
        size=size,
        seconds=int(seconds),
        variants=variants,
        input_reference=reference,
        remix_prompt=remix_prompt,
        callback_url=callback_url,
        metadata=MappingProxyType(metadata),
        model_family=limits.family,
    )


def _check_unknown_fields(errors: list[FieldError], body: Mapping, api: str) -> None:
    allowed = FIELDS[api]
    other_api = "jobs" if api == "videos" else "videos"
    unknown = []
    for name in body:
        if name in allowed or name in ROUTING_FIELDS:
            continue
        if name in FIELDS[other_api]:
            which = "the jobs API (Sora 1)" if api == "videos" else "the videos API (Sora 2)"
            this = "the videos API (Sora 2)" if api == "videos" else "the jobs API (Sora 1)"
            errors.append(FieldError(name, f"{name} is only available with {which}; this app uses {this}"))
            continue
        unknown.append(name)
    for name in unknown[:MAX_UNKNOWN_FIELDS_NAMED]:
        hint = FIELD_HINTS.get(name) if isinstance(name, str) else None
        did_you_mean = f' (did you mean "{hint}"?)' if hint in allowed else ""
        errors.append(
            FieldError(
                _field_name(name),
                f"unknown field {_show(name)}{did_you_mean}; allowed fields: {', '.join(allowed)}",
            )
        )
    if len(unknown) > MAX_UNKNOWN_FIELDS_NAMED:
        errors.append(FieldError("body", f"and {len(unknown) - MAX_UNKNOWN_FIELDS_NAMED} more unknown fields"))


def _check_seconds(errors: list[FieldError], value: object, limits: ModelLimits | None, api: str) -> str | None:
    if value is None:
        return limits.default_seconds if limits else None
    allowed = limits.describe_seconds() if limits else "a whole number of seconds"
    message = f"seconds must be {allowed}" if api == "jobs" or limits is None else f"seconds must be one of {allowed}"
    if limits is not None and api == "videos":
        message += f" for model {limits.name}"
    # An integer 8 is the most common user error against the videos API (it wants "8"); accept it and normalise.
    if isinstance(value, int) and not isinstance(value, bool):
        canonical = str(value) if 0 < value < 10_000 else None
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        canonical = str(int(value.strip())) if len(value.strip()) <= 4 else None
    else:
        canonical = None
    if canonical is None or (limits is not None and not limits.allows_seconds(canonical)):
        errors.append(FieldError("seconds", f"{message}; got {_show(value)}"))
        return None
    return canonical


def _check_variants(errors: list[FieldError], body: Mapping, size: str | None, api: str) -> int:
    if api != "jobs" or body.get("variants") is None:
        return 1
    value = body["variants"]
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        count = int(value.strip())
    else:
        count = None
    if count is None or not 1 <= count <= MAX_VARIANTS:
        errors.append(FieldError("variants", f"variants must be a whole number from 1 to 4; got {_show(value)}"))
        return 1
    most = SORA1_MAX_VARIANTS.get(size or "", MAX_VARIANTS)
    if count > most:
        errors.append(
            FieldError(
                "variants",
                f"variants must be at most {most} at {size} (1 at 1080p, 2 at 720p, 4 otherwise); got {_show(value)}",
            )
        )
    return count
