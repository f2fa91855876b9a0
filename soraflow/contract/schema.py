"""The request, run, list, model and problem bodies of the HTTP API, declared once as pydantic models.

Constraints live in the `Annotated` types below and use the validator's own limits; per-model rules (sizes,
durations, variants, remix, reference image) come from the capability table and are added by `document`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, WithJsonSchema

from soraflow.model_table import MODEL_NAME
from soraflow.runs import RunStatus
from soraflow.video_request import (
    DEFAULT_AT_SECONDS,
    FITS,
    MAX_AT_SECONDS,
    MAX_BLOB_PATH_CHARS,
    MAX_CALLBACK_URL_CHARS,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    MAX_PROMPT_CHARS,
    MAX_PROVIDER_OPTIONS,
)

# The validator's FORBIDDEN_CHARS as a regex class body: every C0/C1 control but tab, newline and carriage return
# (a prompt's "\r" becomes a newline), and lone surrogates. The document leaves the surrogates out: ECMA 262's
# unicode patterns cannot name them, and valid JSON text never needs them.
SURROGATES = r"\ud800-\udfff"
CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
TEXT_CONTROL = r"\x00-\x08\x0b-\x1f\x7f-\x9f"  # metadata keeps "\r" as it is: refused there


def text_pattern(control: str, *, not_blank: bool) -> str:
    """Text without `control` characters (and, if `not_blank`, with at least one that is not whitespace)."""
    return rf"^[^{control}]*[^\s{control}][^{control}]*$" if not_blank else rf"^[^{control}]*$"


PROMPT_PATTERN = text_pattern(CONTROL, not_blank=True)
METADATA_PATTERN = text_pattern(TEXT_CONTROL, not_blank=False)
# An http(s) URL with a host name (IP literals are accepted too, but not described: link-local ones are refused).
CALLBACK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z][A-Za-z0-9.-]{0,252}(:[1-9][0-9]{0,3})?([/?#][!-~]*)?$"
# A blob name of plain segments; a container name is added by `document` (the allowed containers are settings).
BLOB_SEGMENTS = r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*"
CONTAINER_PATTERN = r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}"
API_RUN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{7,63}$"  # the ids this API hands out (soraflow.runs.is_valid_run_id)

STRICT = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")

# A prompt is measured after its surrounding whitespace is stripped (soraflow.video_request), which a schema cannot
# say: the document promises 32,000 characters, validation counts them once stripped.
Prompt = Annotated[
    str,
    StringConstraints(min_length=1, pattern=text_pattern(CONTROL + SURROGATES, not_blank=True)),
    Field(json_schema_extra={"pattern": PROMPT_PATTERN, "maxLength": MAX_PROMPT_CHARS}),
]
# Where the validator reads more than a pattern can say, the document gives a pattern for the values it promises and
# validation keeps the bounds only (a documented-only pattern is `json_schema_extra`).
CallbackUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_CALLBACK_URL_CHARS),
    Field(json_schema_extra={"pattern": CALLBACK_URL_PATTERN}),
]
METADATA_TEXT = text_pattern(TEXT_CONTROL + SURROGATES, not_blank=False)
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_METADATA_KEY_CHARS, pattern=METADATA_TEXT)]
MetadataValue = Annotated[str, StringConstraints(max_length=MAX_METADATA_VALUE_CHARS, pattern=METADATA_TEXT)]
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=MAX_METADATA_KEYS),
    # pydantic would describe the key rule as patternProperties, which lets other keys through: say it plainly.
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_METADATA_KEYS,
            "propertyNames": {"minLength": 1, "maxLength": MAX_METADATA_KEY_CHARS, "pattern": METADATA_PATTERN},
            "additionalProperties": {
                "type": "string",
                "maxLength": MAX_METADATA_VALUE_CHARS,
                "pattern": METADATA_PATTERN,
            },
        }
    ),
]
Fit = Literal[FITS]  # type: ignore[valid-type]
BlobPath = Annotated[
    str,
    StringConstraints(max_length=MAX_BLOB_PATH_CHARS),
    Field(
        description='"container/path/to/image.png" in a container the app reads references from',
        json_schema_extra={"pattern": rf"^{CONTAINER_PATTERN}/{BLOB_SEGMENTS}$"},
    ),
]


class BlobReference(BaseModel):
    """A reference image stored as a blob."""

    model_config = STRICT
    blob: BlobPath
    fit: Fit = Field("cover", description="cover: resize and centre-crop; contain: letterbox")


class RunReference(BaseModel):
    """A frame of a completed run's video."""

    model_config = STRICT
    run: Annotated[str, Field(description="a completed run's id", json_schema_extra={"pattern": API_RUN_ID_PATTERN})]
    at_seconds: Annotated[float, Field(ge=0, le=MAX_AT_SECONDS)] = DEFAULT_AT_SECONDS
    fit: Fit = "cover"


def reference_kind(value: Any) -> str | None:
    """Which reference a body names: the one key of blob or run it has."""
    if isinstance(value, dict):
        kinds = [kind for kind in ("blob", "run") if kind in value]
        return kinds[0] if len(kinds) == 1 else None
    return getattr(value, "kind", None)


InputReference = Annotated[
    Annotated[BlobReference, Tag("blob")] | Annotated[RunReference, Tag("run")],
    Discriminator(reference_kind),
]


class Remix(BaseModel):
    """Remix the first video with this prompt once it is stored."""

    model_config = STRICT
    prompt: Prompt


class VideoRequest(BaseModel):
    """A request to start a run (POST /api/videos). Which values `model`, `size`, `seconds` and the optional
    fields take depends on the model: the document lists one schema per model, GET /api/models the same table."""

    model_config = STRICT
    prompt: Prompt
    model: Annotated[str, StringConstraints(pattern=rf"^{MODEL_NAME.pattern}$")] | None = None
    size: str | None = Field(None, description='"WxH"; one of the model\'s sizes ("x" may be "X")')
    seconds: int | str | None = Field(
        None, description='one of the model\'s durations, as a string ("8") or an integer'
    )
    variants: int | str | None = Field(None, description="how many videos to generate, where the model offers it")
    input_reference: InputReference | None = None
    remix: Remix | None = None
    callback_url: CallbackUrl | None = None
    metadata: Metadata | None = None
    provider: str | None = Field(None, description="a configured provider; by default the one serving `model`")
    provider_options: Annotated[dict[str, Any], Field(max_length=MAX_PROVIDER_OPTIONS)] | None = None


class RemixRequest(BaseModel):
    """A request to remix a completed run (POST /api/videos/{id}/remix)."""

    model_config = STRICT
    prompt: Prompt
    callback_url: CallbackUrl | None = None
    metadata: Metadata | None = None


# --- responses: what the app answers (built by soraflow.run_resource, triggers.models and triggers.problems) ---

OPEN = ConfigDict(extra="allow")


class Error(BaseModel):
    model_config = OPEN
    code: str
    message: str
    retryable: bool | None = None
    provider_code: str | None = None


class Output(BaseModel):
    model_config = OPEN
    kind: Literal["video", "thumbnail", "spritesheet"]
    source: Literal["generation", "remix"]
    index: Annotated[int, Field(ge=0)]
    blob: str
    content_type: str | None = None
    bytes: int | None = None
    url: str


class ProviderJob(BaseModel):
    model_config = OPEN
    api: str | None = None
    job_id: str | None = None
    status: str | None = None
    progress: int | None = None


class RunCost(BaseModel):
    model_config = OPEN
    estimated_usd: float | None = None
    seconds: int | None = None


class Run(BaseModel):
    """A run: where it is, what it asked for, what it stored, what went wrong and what it costs.

    Every field is always present (null where it does not apply), but `note` and `suspended`.
    """

    model_config = OPEN
    id: str
    status: RunStatus
    progress: Annotated[int, Field(ge=0, le=100)]
    queue_position: int | None
    request: dict[str, Any] | None
    provider: ProviderJob | None
    outputs: list[Output]
    error: Error | None
    remix_error: Error | None = Field(description="why a chained remix failed; the run still completed")
    delete_error: Error | None = Field(description="why a provider copy meant to be deleted could not be")
    cost: RunCost | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    note: str | None = None
    suspended: bool | None = None


class RunList(BaseModel):
    model_config = OPEN
    object: Literal["list"]
    data: list[Run]
    has_more: bool
    continuation: str | None = Field(None, description="pass it as `continuation=` for the next page")


class ProblemField(BaseModel):
    model_config = OPEN
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem: every 4xx and 5xx the app answers; `errors` names each field."""

    model_config = ConfigDict(extra="forbid")
    type: str
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    code: str
    errors: list[ProblemField]


class ReferenceImage(BaseModel):
    model_config = OPEN
    first_frame: bool
    last_frame: bool
    transport: Literal["multipart", "data-uri", "base64", "url"]
    must_match_size: bool


class Price(BaseModel):
    model_config = OPEN
    usd_per_second: dict[str, float | None] = Field(
        description='USD per generated second by size ("*": any size); null where unknown'
    )
    per_variant: bool


class Model(BaseModel):
    """One model a request may name: its provider, what it accepts and offers, and its price."""

    model_config = ConfigDict(extra="forbid")
    provider: str
    model: str
    sizes: list[str] | Literal["any"]
    seconds: list[str] | Literal["any"]
    default_size: str
    default_seconds: str
    reference_image: ReferenceImage | None
    max_variants: Annotated[int, Field(ge=1)]
    remix: bool
    audio: bool
    negative_prompt: bool
    seed: bool
    price: Price
    retention_hours: float
    lists_jobs: bool
    pushes_completion: bool
    source: str
    provider_options: dict[str, dict[str, Any]] = Field(
        description="the options a request may pass in `provider_options`: type, choices or range"
    )


class ModelList(BaseModel):
    model_config = OPEN
    object: Literal["list"]
    default_model: str
    providers: list[str]
    data: list[Model]


class Health(BaseModel):
    model_config = OPEN
    status: Literal["ok"]


class Check(BaseModel):
    model_config = OPEN
    ok: bool
    setting: str | None = None
    code: str | None = None
    message: str | None = None


class Readiness(BaseModel):
    model_config = OPEN
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check] = Field(
        description="settings, task_hub, blob_trigger, storage, provider: each has `ok`, and names the `setting` "
        "or gives a `code` and `message` when it is not"
    )


RESPONSES = (Run, RunList, Problem, Model, ModelList, Health, Readiness)
