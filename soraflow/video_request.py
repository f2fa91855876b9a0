"""The normalised video request every provider takes, and the validation that builds it from a request body.

`parse_for_capabilities` (and, for Sora's two APIs, `soraflow.providers.sora_request`) checks a body (the JSON of
`POST /api/videos`, a blob-triggered request file, or the fields of a multipart form) and either returns one
immutable `VideoRequest` or raises `RequestValidationError` listing every violation, each naming the field, the
value received and what is allowed. `parse_request_json` turns raw bytes into the body first, refusing what a JSON
parser alone would accept but should not (huge, deeply nested, duplicate keys, NaN).

Reference images are named, never fetched: `{"blob": "container/path"}` in a container the caller allows,
`{"run": "<run id>", "at_seconds": 1.0}` for a frame of a previous run's video, or `{"upload": "container/path"}`,
which only the HTTP layer may set (with `allow_upload=True`) after storing a multipart file. Each may add
`"fit": "cover"` (default: resize and centre-crop) or `"contain"` (letterbox).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import socket
import urllib.parse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, NoReturn

from soraflow.errors import FieldError, RequestValidationError
from soraflow.model_table import SIZE, ModelLimits, parse_size

if TYPE_CHECKING:
    from soraflow.providers.registry import ModelCapabilities

MAX_PROMPT_CHARS = 32_000
MAX_CALLBACK_URL_CHARS = 2_048
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
MAX_BLOB_PATH_CHARS = 1_024  # Azure's limit for a blob name
MAX_RUN_ID_CHARS = 128
MAX_AT_SECONDS = 60.0
# 2 prompts of 32,000 characters, each up to 6 bytes as JSON "\uXXXX" escapes, plus metadata: well under 1 MiB.
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 8
MAX_ERRORS = 20
MAX_UNKNOWN_FIELDS_NAMED = 5
FITS = ("cover", "contain")
DEFAULT_AT_SECONDS = 1.0

COMMON_FIELDS = (
    *("prompt", "model", "size", "seconds", "input_reference", "callback_url", "metadata"),
    *("provider", "provider_options"),
)
# A request's own words for what it asks of the provider (routing reads them; some providers take no options).
ROUTING_FIELDS = ("provider", "provider_options")
MAX_PROVIDER_OPTIONS = 16
# Names people reach for from the providers' own schemas or other APIs.
FIELD_HINTS = {
    "n_seconds": "seconds",
    "duration": "seconds",
    "n_variants": "variants",
    "width": "size",
    "height": "size",
    "resolution": "size",
    "image": "input_reference",
    "reference": "input_reference",
    "remix_video_id": "remix",
    "callback": "callback_url",
    "webhook": "callback_url",
    "webhook_url": "callback_url",
}
REFERENCE_KEYS = {"blob": ("blob", "fit"), "run": ("run", "at_seconds", "fit"), "upload": ("upload", "fit")}

# Newlines and tabs are text; every other C0/C1 control (NUL included) is not. Lone surrogates cannot be encoded.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class ReferenceSource:
    """Where the reference image comes from: a blob, a frame of a previous run, or a multipart upload.

    The image itself, once read and fitted (`reference_image.fit_reference_image`), travels to the provider as
    `providers.job.InputReference`.
    """

    kind: str  # blob | run | upload
    blob: str | None = None  # "container/path" for blob and upload
    run_id: str | None = None
    at_seconds: float | None = None
    fit: str = "cover"

    @property
    def container(self) -> str | None:
        return self.blob.split("/", 1)[0] if self.blob else None

    @property
    def path(self) -> str | None:
        return self.blob.split("/", 1)[1] if self.blob else None

    def to_dict(self) -> dict:
        if self.kind == "run":
            return {"run": self.run_id, "at_seconds": self.at_seconds, "fit": self.fit}
        return {self.kind: self.blob, "fit": self.fit}

    @classmethod
    def from_dict(cls, data: Mapping) -> ReferenceSource:
        """Rebuild from `to_dict()` output (durable history; trusted)."""
        fit = data.get("fit", "cover")
        if "run" in data:
            return cls("run", run_id=data["run"], at_seconds=float(data.get("at_seconds", DEFAULT_AT_SECONDS)), fit=fit)
        kind = "upload" if "upload" in data else "blob"
        return cls(kind, blob=data[kind], fit=fit)


@dataclass(frozen=True)
class VideoRequest:
    """One validated request, the same shape for both APIs; `to_dict`/`from_dict` cross the durable boundary."""

    api: str  # the wire API of its provider: "videos", "jobs" (Sora 2, Sora 1), "fal", "vertex"
    prompt: str
    model: str
    size: str  # "WxH"
    seconds: int
    variants: int = 1
    input_reference: ReferenceSource | None = None
    remix_prompt: str | None = None
    callback_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    # The built-in model whose limits (and price) apply, e.g. "sora-2" for a snapshot or a deployment name.
    model_family: str | None = None
    provider: str = ""  # the registered provider serving the model ("sora", "sora-jobs", "fal", "vertex")
    provider_options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self):
        if not self.provider:  # recorded before requests named their provider: the plug-in of its wire API
            from soraflow.providers.registry import provider_for_api

            object.__setattr__(self, "provider", provider_for_api(self.api))

    @property
    def width(self) -> int:
        return parse_size(self.size)[0]

    @property
    def height(self) -> int:
        return parse_size(self.size)[1]

    def to_dict(self) -> dict:
        return {
            "api": self.api,
            "prompt": self.prompt,
            "model": self.model,
            "model_family": self.model_family,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "seconds": self.seconds,
            "variants": self.variants,
            "input_reference": self.input_reference.to_dict() if self.input_reference else None,
            "remix": {"prompt": self.remix_prompt} if self.remix_prompt is not None else None,
            "callback_url": self.callback_url,
            "metadata": dict(self.metadata),
            "provider": self.provider,
            "provider_options": dict(self.provider_options),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> VideoRequest:
        """Rebuild from `to_dict()` output (durable history; trusted, not re-validated)."""
        reference = data.get("input_reference")
        remix = data.get("remix")
        return cls(
            api=data["api"],
            prompt=data["prompt"],
            model=data["model"],
            size=data["size"],
            seconds=int(data["seconds"]),
            variants=int(data.get("variants", 1)),
            input_reference=ReferenceSource.from_dict(reference) if reference else None,
            remix_prompt=remix["prompt"] if remix else None,
            callback_url=data.get("callback_url"),
            metadata=MappingProxyType(dict(data.get("metadata") or {})),
            model_family=data.get("model_family"),
            provider=data.get("provider") or "",
            provider_options=MappingProxyType(dict(data.get("provider_options") or {})),
        )


def parse_request_json(data: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """Decode a request body or file into a JSON object, refusing oversized, malformed or ambiguous input."""
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > max_bytes:
        _fail("body", f"body is too large: {size:,} bytes; at most {max_bytes:,} bytes allowed")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            _fail("body", f"body must be UTF-8 JSON; byte {error.start} is not valid UTF-8")
    if not data.strip():
        _fail("body", "body is empty; a JSON object with at least a prompt is required")
    try:
        value = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except _DuplicateKey as error:
        _fail(_field_name(error.field), f"field {_show(error.field)} appears more than once in the JSON object")
    except RecursionError:
        _fail("body", f"body is nested too deeply; at most {MAX_JSON_DEPTH} levels allowed")
    except ValueError as error:  # JSONDecodeError, NaN/Infinity, numbers beyond int's digit limit
        reason = "a number has too many digits" if "digits" in str(error) else str(error)
        _fail("body", f"body is not valid JSON: {reason}")
    if _depth(value) > MAX_JSON_DEPTH:
        _fail("body", f"body is nested too deeply; at most {MAX_JSON_DEPTH} levels allowed")
    if not isinstance(value, dict):
        _fail("body", f"body must be a JSON object; got {_show(value)}")
    return value


def _refuse_if_any(errors: list[FieldError], body: Mapping) -> None:
    """Raise every problem found (at most MAX_ERRORS, then a count); with none, what the published schema refuses."""
    errors = errors or _contract_errors(body)
    if errors:
        if len(errors) > MAX_ERRORS:
            errors = [*errors[:MAX_ERRORS], FieldError("body", f"and {len(errors) - MAX_ERRORS} more problems")]
        raise RequestValidationError(errors)


def _contract_errors(body: Mapping) -> list[FieldError]:
    """What the published request schema refuses in a body the checks above accepted (normally nothing)."""
    from soraflow.contract.validation import contract_errors  # pydantic loads on the first request, not at indexing

    return contract_errors(body)


def _check_prompt(errors: list[FieldError], name: str, value: object, *, required: bool) -> str | None:
    if required:
        errors.append(FieldError(name, f"{name} is required: a description of the video, 1-32,000 characters"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, f"{name} must be a string of 1-32,000 characters; got {_show(value)}"))
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        errors.append(FieldError(name, f"{name} must not be empty or only whitespace; got {_show(value)}"))
        return None
    if len(text) > MAX_PROMPT_CHARS:
        errors.append(
            FieldError(name, f"{name} must be at most {MAX_PROMPT_CHARS:,} characters; got {len(text):,} characters")
        )
        return None
    bad = FORBIDDEN_CHARS.search(text)
    if bad:
        errors.append(
            FieldError(
                name,
                f"{name} contains the control character U+{ord(bad.group()):04X} at position {bad.start()}; "
                "only newlines and tabs are allowed",
            )
        )
        return None
    return text


def _check_size(
    errors: list[FieldError], value: object, limits: ModelLimits | None, hints: Mapping[str, str]
) -> str | None:
    if value is None:
        return limits.default_size if limits else None
    allowed = f"one of {limits.describe_sizes()}" if limits else '"WxH"'
    if not isinstance(value, str):
        errors.append(FieldError("size", f'size must be a string "WxH", {allowed}; got {_show(value)}'))
        return None
    size = value.strip().lower()
    if not SIZE.fullmatch(size):
        errors.append(FieldError("size", f'size must be "WxH" (e.g. "1280x720"), {allowed}; got {_show(value)}'))
        return None
    if limits is None or limits.allows_size(size):
        return size
    hint = f" ({size} {hints[size]})" if size in hints else ""
    errors.append(FieldError("size", f"size must be {allowed} for model {limits.name}; got {_show(value)}{hint}"))
    return None


def _check_reference(
    errors: list[FieldError], value: object, allowed_containers: Collection[str], allow_upload: bool
) -> ReferenceSource | None:
    if value is None:
        return None
    shape = '{"blob": "container/path"} or {"run": "<run id>", "at_seconds": 1.0}'
    if not isinstance(value, Mapping):
        note = " (URLs are never fetched)" if isinstance(value, str) and URL_SCHEME.match(value) else ""
        message = f"input_reference must be an object {shape}; got {_show(value)}{note}"
        errors.append(FieldError("input_reference", message))
        return None
    kinds = [kind for kind in REFERENCE_KEYS if kind in value]
    if len(kinds) != 1:
        got = "both " + " and ".join(kinds) if kinds else f"{_show(value)} with keys {_keys(value)}"
        errors.append(FieldError("input_reference", f"input_reference must have exactly one of blob or run; got {got}"))
        return None
    kind = kinds[0]
    before = len(errors)
    for key in value:
        if key not in REFERENCE_KEYS[kind]:
            errors.append(
                FieldError(
                    f"input_reference.{_field_name(key)}",
                    f"input_reference has an unknown key {_show(key)}; with {kind} allowed: "
                    f"{', '.join(REFERENCE_KEYS[kind])}",
                )
            )
    fit = value.get("fit", "cover")
    if fit not in FITS:
        message = f'input_reference.fit must be "cover" or "contain"; got {_show(fit)}'
        errors.append(FieldError("input_reference.fit", message))
    if kind == "upload" and not allow_upload:
        errors.append(
            FieldError(
                "input_reference.upload",
                "input_reference.upload is set by the server for a multipart file; send the image as multipart "
                'form field "input_reference", or use {"blob": "container/path"}',
            )
        )
        return None
    if kind == "run":
        run_id = value["run"]
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or ".." in run_id:
            message = f"input_reference.run must be the id of a previous run; got {_show(run_id)}"
            errors.append(FieldError("input_reference.run", message))
        at = value.get("at_seconds", DEFAULT_AT_SECONDS)
        valid_number = isinstance(at, int | float) and not isinstance(at, bool) and math.isfinite(at)
        if not valid_number or not 0 <= at <= MAX_AT_SECONDS:
            errors.append(
                FieldError(
                    "input_reference.at_seconds",
                    f"input_reference.at_seconds must be a number of seconds from 0 to {MAX_AT_SECONDS:g}; "
                    f"got {_show(at)}",
                )
            )
        if len(errors) > before:
            return None
        return ReferenceSource("run", run_id=run_id, at_seconds=float(at), fit=fit)
    problem = blob_path_problem(value[kind], None if kind == "upload" else allowed_containers)
    if problem:
        errors.append(FieldError(f"input_reference.{kind}", f"input_reference.{kind} {problem}"))
    if len(errors) > before:
        return None
    return ReferenceSource(kind, blob=value[kind], fit=fit)


def blob_path_problem(path: object, allowed_containers: Collection[str] | None) -> str | None:
    """What is wrong with a "container/path" blob reference, or None; `allowed_containers=None` skips that check."""
    expected = 'must be a blob path "container/path/to/image.png"'
    if not isinstance(path, str):
        return f"{expected}; got {_show(path)}"
    if len(path) > MAX_BLOB_PATH_CHARS + 64:
        return f"{expected} of at most {MAX_BLOB_PATH_CHARS:,} characters; got {len(path):,} characters"
    if FORBIDDEN_CHARS.search(path) or "\n" in path or "\t" in path:
        return f"{expected} without control characters; got {_show(path)}"
    if URL_SCHEME.match(path) or "://" in path:
        return f"{expected}, not a URL (URLs are never fetched); got {_show(path)}"
    if "\\" in path:
        return f"{expected} with forward slashes and no backslashes; got {_show(path)}"
    if path.startswith("/"):
        return f"{expected} without a leading slash; got {_show(path)}"
    segments = path.split("/")
    decoded = [urllib.parse.unquote(s) for s in segments]
    if any(d in ("", ".", "..") or "/" in d or "\\" in d for d in decoded):
        return f'{expected} without "..", "." or empty segments, plain or percent-encoded; got {_show(path)}'
    if len(segments) < 2:
        return f"{expected}: a container and a blob name; got {_show(path)}"
    container = segments[0]
    if not CONTAINER.fullmatch(container):
        return f"{expected}; {_show(container)} is not a valid container name"
    if allowed_containers is not None and container not in allowed_containers:
        allowed = ", ".join(sorted(allowed_containers)) or "none"
        return f"{expected} in an allowed container ({allowed}); got container {_show(container)}"
    return None


def _check_remix(errors: list[FieldError], body: Mapping) -> str | None:
    if body.get("remix") is None:
        return None
    value = body["remix"]
    if not isinstance(value, Mapping):
        errors.append(FieldError("remix", f'remix must be an object {{"prompt": "..."}}; got {_show(value)}'))
        return None
    for key in value:
        if key != "prompt":
            errors.append(
                FieldError(f"remix.{_field_name(key)}", f"remix has an unknown key {_show(key)}; allowed: prompt")
            )
    return _check_prompt(errors, "remix.prompt", value.get("prompt"), required="prompt" not in value)


def _check_callback_url(errors: list[FieldError], value: object) -> str | None:
    if value is None:
        return None
    expected = f"callback_url must be an absolute http(s) URL of at most {MAX_CALLBACK_URL_CHARS:,} characters"
    if not isinstance(value, str):
        errors.append(FieldError("callback_url", f"{expected}; got {_show(value)}"))
        return None
    if len(value) > MAX_CALLBACK_URL_CHARS:
        errors.append(FieldError("callback_url", f"{expected}; got {len(value):,} characters"))
        return None
    if any(c.isspace() or not c.isprintable() for c in value):
        message = f"{expected} without spaces or control characters; got {_show(value)}"
        errors.append(FieldError("callback_url", message))
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        errors.append(FieldError("callback_url", f"{expected}; got {_show(value)}"))
        return None
    if "@" in parts.netloc:
        errors.append(FieldError("callback_url", f"{expected} without user:password@ credentials; got a URL with them"))
        return None
    if _is_metadata_address(parts.hostname):
        message = f"{expected}, not a link-local address such as the cloud metadata service; got {_show(value)}"
        errors.append(FieldError("callback_url", message))
        return None
    return value


def _is_metadata_address(host: str) -> bool:
    """True for a literal link-local, unspecified or multicast address (169.254.169.254 is every cloud's metadata).

    Hosts are also read the way the C resolver reads them ("2852039166", "0xa9fea9fe", "0251.0376.0251.0376"), so
    another spelling of the same address is refused too. A name that resolves to such an address is not caught here.
    """
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address.is_unspecified or address.is_multicast


def _check_metadata(errors: list[FieldError], value: object) -> dict[str, str]:
    if value is None:
        return {}
    expected = (
        f"metadata must be an object of at most {MAX_METADATA_KEYS} string keys ({MAX_METADATA_KEY_CHARS} characters) "
        f"to string values ({MAX_METADATA_VALUE_CHARS} characters)"
    )
    if not isinstance(value, Mapping):
        errors.append(FieldError("metadata", f"{expected}; got {_show(value)}"))
        return {}
    if len(value) > MAX_METADATA_KEYS:
        errors.append(FieldError("metadata", f"{expected}; got {len(value)} keys"))
        return {}
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_METADATA_KEY_CHARS or FORBIDDEN_CHARS.search(key):
            errors.append(
                FieldError(
                    "metadata",
                    f"metadata keys must be 1-{MAX_METADATA_KEY_CHARS} characters without control characters; "
                    f"got {_show(key)}",
                )
            )
            continue
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE_CHARS or FORBIDDEN_CHARS.search(item):
            name = f"metadata.{_field_name(key)}"
            errors.append(
                FieldError(
                    name,
                    f"{name} must be a string of at most {MAX_METADATA_VALUE_CHARS} characters without "
                    f"control characters; got {_show(item)}",
                )
            )
            continue
        result[key] = item
    return result


def _show(value: object) -> str:
    """A value as it would appear in JSON, short and safe to echo (no control characters, bounded length)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large number"
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else "Infinity")
    if isinstance(value, str):
        text = '"' + "".join(_escape(c) for c in value[:60]) + '"'
        return text if len(value) <= 60 else f'{text[:-1]}…" ({len(value):,} characters)'
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, Mapping):
        return f"an object with {len(value)} keys"
    return f"a value of type {type(value).__name__}"


def _escape(char: str) -> str:
    if char in '\\"':
        return "\\" + char
    return char if char.isprintable() else f"\\u{ord(char):04x}"


def _field_name(name: object) -> str:
    """A field name safe to put in an error's `field` (hostile keys are shortened and escaped)."""
    if isinstance(name, str) and len(name) <= 64 and name.isprintable():
        return name
    if not isinstance(name, str):
        return _show(name)
    return "".join(_escape(c) for c in name[:60]) + ("…" if len(name) > 60 else "")


def _keys(value: Mapping) -> str:
    return ", ".join(_show(k) for k in list(value)[:5]) or "none"


def _fail(name: str, message: str) -> NoReturn:
    raise RequestValidationError([FieldError(name, message)])


class _DuplicateKey(ValueError):
    def __init__(self, name: str):
        super().__init__(name)
        self.field = name


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_for_capabilities(
    body: Mapping,
    caps: ModelCapabilities,
    *,
    allowed_containers: Collection[str] = (),
    allow_upload: bool = False,
) -> VideoRequest:
    """Validate a request for a model that declares its capabilities.

    The same checks and messages as the Sora plug-ins' parser where the fields are shared; sizes, durations, variants,
    remix, reference images and `provider_options` are checked against what `caps` says the model can do.
    """
    if not isinstance(body, Mapping):
        _fail("body", f"body must be a JSON object; got {_show(body)}")
    model = caps.model
    errors: list[FieldError] = []
    allowed = (*COMMON_FIELDS, *(("variants",) if caps.max_variants > 1 else ()), "remix")
    for name in list(body)[: MAX_UNKNOWN_FIELDS_NAMED * 4]:
        if name not in allowed:
            hint = FIELD_HINTS.get(name) if isinstance(name, str) else None
            did_you_mean = f' (did you mean "{hint}"?)' if hint in allowed else ""
            message = f"unknown field {_show(name)}{did_you_mean} for {model}; allowed fields: {', '.join(allowed)}"
            errors.append(FieldError(_field_name(name), message))
    prompt = _check_prompt(errors, "prompt", body.get("prompt"), required="prompt" not in body)
    size = _check_choice(errors, "size", body.get("size"), caps.sizes, caps.default_size, model, normalise=str.lower)
    seconds = _check_choice(errors, "seconds", body.get("seconds"), caps.seconds, caps.default_seconds, model,
                            normalise=_canonical_seconds)  # fmt: skip
    variants = 1
    if body.get("variants") is not None and caps.max_variants > 1:
        value = body["variants"]
        count = value if isinstance(value, int) and not isinstance(value, bool) else None
        if count is None or not 1 <= count <= caps.max_variants:
            message = f"variants must be a whole number from 1 to {caps.max_variants} for {model}; got {_show(value)}"
            errors.append(FieldError("variants", message))
        else:
            variants = count
    remix_prompt = None
    if body.get("remix") is not None:
        if caps.remix:
            remix_prompt = _check_remix(errors, body)
        else:
            errors.append(FieldError("remix", f"remix is not supported by {model}"))
    reference = None
    if body.get("input_reference") is not None:
        if caps.reference is None:
            errors.append(FieldError("input_reference", f"input_reference is not supported by {model}"))
        else:
            reference = _check_reference(errors, body.get("input_reference"), allowed_containers, allow_upload)
    options = _check_provider_options(errors, body.get("provider_options"), caps)
    callback_url = _check_callback_url(errors, body.get("callback_url"))
    metadata = _check_metadata(errors, body.get("metadata"))
    _refuse_if_any(errors, body)
    assert prompt is not None and size and seconds
    return VideoRequest(
        api=caps.api,
        prompt=prompt,
        model=model,
        size=size,
        seconds=int(seconds),
        variants=variants,
        input_reference=reference,
        remix_prompt=remix_prompt,
        callback_url=callback_url,
        metadata=MappingProxyType(metadata),
        model_family=model,
        provider=caps.provider,
        provider_options=MappingProxyType(options),
    )


def _canonical_seconds(value: object) -> str | None:
    """8, "8" and " 8 " are "8"; anything else is None. (An integer is the most common mistake: accept it.)"""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if 0 < value < 10_000 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        return str(int(value.strip()))
    return None


def _check_choice(errors: list[FieldError], name: str, value: object, choices, default: str, model: str, *,
                  normalise) -> str | None:  # fmt: skip
    """`value` (or the default) when it is one of `choices` for `model`; else an error naming what is allowed."""
    if value is None:
        return default
    allowed = ", ".join(f'"{choice}"' for choice in choices) if choices is not None else "any"
    canonical = normalise(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if canonical is None or (choices is not None and canonical not in choices):
        errors.append(FieldError(name, f"{name} must be one of {allowed} for {model}; got {_show(value)}"))
        return None
    return canonical


def _check_provider_options(errors: list[FieldError], value: object, caps: ModelCapabilities) -> dict:
    """`provider_options`: a small object whose keys and values the model declares (`caps.options`)."""
    if value is None:
        return {}
    declared = caps.options
    names = ", ".join(declared) or "none"
    if not isinstance(value, Mapping) or len(value) > MAX_PROVIDER_OPTIONS:
        message = f"provider_options must be an object of at most {MAX_PROVIDER_OPTIONS} options ({names}) for " \
                  f"{caps.model}; got {_show(value)}"  # fmt: skip
        errors.append(FieldError("provider_options", message))
        return {}
    options = {}
    for key, option in value.items():
        field_name = f"provider_options.{_field_name(key)}"
        spec = declared.get(key) if isinstance(key, str) else None
        if spec is None:
            errors.append(FieldError(field_name, f"{caps.model} has no option {_show(key)}; its options: {names}"))
            continue
        problem = spec.problem(option)
        if problem:
            errors.append(FieldError(field_name, f"{field_name} {problem} for {caps.model}; got {_show(option)}"))
            continue
        options[key] = option
    return options
