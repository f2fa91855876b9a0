"""The one table of allowed sizes and durations per model, extendable with the SORA_EXTRA_MODELS setting.

Videos API (Sora 2): the built-in models are sora-2, sora-2-pro and their dated snapshots, with the sizes and
durations of the REST contract (seeds; openai-python's VideoSize/VideoSeconds enums). Jobs API (Sora 1): the API
itself fixes nine resolutions, 1-20 seconds and a per-resolution variant limit, whatever the deployment's name.

Which model names a request may use (`ModelTable.resolve`), first match wins:
1. a name in the table (built in, or added by SORA_EXTRA_MODELS);
2. the `"*"` entry of SORA_EXTRA_MODELS, if configured (e.g. `{"*": "any"}` lets unknown models use any values);
3. the configured default model (SORA_MODEL), which on Azure is a deployment name rather than a model name: it gets
   sora-2's limits, or sora-2-pro's when "pro" is one of its words (`sora2-pro-eastus`), and is priced the same way;
4. anything else is an error: a typo must not reach the provider. Other deployment names are added with
   SORA_EXTRA_MODELS, e.g. `{"video-hq": {"like": "sora-2-pro"}}`.

SORA_EXTRA_MODELS is a JSON object of model name to either `"any"` or an object with optional keys `like` (a built-in
model whose limits and price to start from), `sizes` (list of "WxH" or "any"), `seconds` (list of whole-number
strings or "any"), `default_size`, `default_seconds`. Its sizes and seconds apply to the videos API; for the jobs API
an entry only makes the name acceptable, as the jobs API's limits do not depend on the model.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from soraflow.errors import ConfigurationError

SETTING = "SORA_EXTRA_MODELS"

SORA2_SIZES = ("720x1280", "1280x720")
SORA2_PRO_SIZES = (*SORA2_SIZES, "1024x1792", "1792x1024")
SORA2_SECONDS = ("4", "8", "12")
DEFAULT_SIZE = "720x1280"
DEFAULT_SECONDS = "4"

# Sora 1 limits (seeds: Azure "Sora 1 technical limitations" and the LemonGrab support matrix): variants are
# disabled at 1080p, at most 2 at 720p (the two 720x1280 / 1280x720 sizes; 720x720 allows 4), 4 otherwise.
SORA1_MAX_VARIANTS = {
    "480x480": 4,
    "480x854": 4,
    "854x480": 4,
    "720x720": 4,
    "720x1280": 2,
    "1280x720": 2,
    "1080x1080": 1,
    "1080x1920": 1,
    "1920x1080": 1,
}
SORA1_SECONDS = tuple(str(n) for n in range(1, 21))
SORA1_DEFAULT_SECONDS = "5"

# Bounds for values a configured "any" lets through: generous, but no absurd (and absurdly billed) requests.
ANY_DIMENSION = (64, 4096)
ANY_SECONDS = (1, 60)

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
SIZE = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")
WHOLE_SECONDS = re.compile(r"[1-9][0-9]{0,3}")


@dataclass(frozen=True)
class ModelLimits:
    """What one model accepts: sizes and seconds (None = any), defaults, and the Sora 1 variant limits."""

    name: str
    family: str | None  # the built-in model whose price applies (None: unknown, no estimate)
    sizes: tuple[str, ...] | None
    seconds: tuple[str, ...] | None
    default_size: str = DEFAULT_SIZE
    default_seconds: str = DEFAULT_SECONDS
    max_variants: Mapping[str, int] = field(default_factory=dict, hash=False)
    source: str = "built-in"  # built-in | SORA_EXTRA_MODELS | SORA_MODEL

    def allows_size(self, size: str) -> bool:
        """Whether `size` ("WxH", already well formed) is allowed for this model."""
        if self.sizes is not None:
            return size in self.sizes
        width, height = parse_size(size)
        return all(ANY_DIMENSION[0] <= n <= ANY_DIMENSION[1] for n in (width, height))

    def allows_seconds(self, seconds: str) -> bool:
        """Whether `seconds` (a canonical whole-number string) is allowed for this model."""
        if self.seconds is not None:
            return seconds in self.seconds
        return ANY_SECONDS[0] <= int(seconds) <= ANY_SECONDS[1]

    def describe_sizes(self) -> str:
        if self.sizes is None:
            return f"any WxH with sides {ANY_DIMENSION[0]}-{ANY_DIMENSION[1]}"
        return ", ".join(self.sizes)

    def describe_seconds(self) -> str:
        if self.seconds is None:
            return f'any whole number of seconds from "{ANY_SECONDS[0]}" to "{ANY_SECONDS[1]}"'
        if self.seconds == SORA1_SECONDS:
            return "a whole number from 1 to 20"
        return ", ".join(f'"{s}"' for s in self.seconds)


SORA_2 = ModelLimits("sora-2", "sora-2", SORA2_SIZES, SORA2_SECONDS)
SORA_2_PRO = ModelLimits("sora-2-pro", "sora-2-pro", SORA2_PRO_SIZES, SORA2_SECONDS)
SORA_1 = ModelLimits(
    "sora",
    "sora",
    tuple(SORA1_MAX_VARIANTS),
    SORA1_SECONDS,
    default_seconds=SORA1_DEFAULT_SECONDS,
    max_variants=SORA1_MAX_VARIANTS,
)

BUILT_IN_VIDEO_MODELS = {
    limits.name: limits
    for limits in (
        SORA_2,
        replace(SORA_2, name="sora-2-2025-10-06"),
        replace(SORA_2, name="sora-2-2025-12-08"),
        SORA_2_PRO,
        replace(SORA_2_PRO, name="sora-2-pro-2025-10-06"),
    )
}
# Sora 1's own model names; deployments are named by their owners (see the module docstring).
BUILT_IN_JOB_MODELS = ("sora", "sora-1")


@dataclass(frozen=True)
class ModelTable:
    """The built-in models plus the SORA_EXTRA_MODELS entries; `resolve` says what a model name may do."""

    extra: Mapping[str, ModelLimits] = field(default_factory=dict, hash=False)
    wildcard: ModelLimits | None = None

    def resolve(self, model: str, *, api: str, default_model: str) -> ModelLimits | None:
        """The limits for `model` under `api` ("videos" or "jobs"), or None when the name is not allowed."""
        if api == "jobs":
            known = model in BUILT_IN_JOB_MODELS or model in self.extra or model == default_model
            return replace(SORA_1, name=model) if known or self.wildcard else None
        if model in self.extra:
            return self.extra[model]
        if model in BUILT_IN_VIDEO_MODELS:
            return BUILT_IN_VIDEO_MODELS[model]
        if self.wildcard is not None:
            return replace(self.wildcard, name=model)
        if model == default_model:
            base = SORA_2_PRO if is_pro_name(model) else SORA_2
            return replace(base, name=model, source="SORA_MODEL")
        return None

    def known_names(self, api: str) -> list[str]:
        """Model names to suggest in an error message."""
        if api == "jobs":
            return [*BUILT_IN_JOB_MODELS, *self.extra]
        return [*BUILT_IN_VIDEO_MODELS, *(name for name in self.extra if name not in BUILT_IN_VIDEO_MODELS)]


def is_pro_name(model: str) -> bool:
    """Whether "pro" is one of the words of a model or deployment name (`sora-2-pro`, `video_pro_1`)."""
    return "pro" in re.split(r"[^a-z0-9]+", model.lower())


def parse_size(size: str) -> tuple[int, int]:
    """("1280x720") -> (1280, 720); ValueError if it is not WxH."""
    match = SIZE.fullmatch(size)
    if not match:
        raise ValueError(f"not a WxH size: {size!r}")
    return int(match.group(1)), int(match.group(2))


@functools.lru_cache(maxsize=16)
def load_model_table(extra_models: str | None) -> ModelTable:
    """The model table with the SORA_EXTRA_MODELS setting (raw JSON text) applied; ConfigurationError if malformed."""
    if extra_models is None or not extra_models.strip():
        return ModelTable()
    try:
        raw = json.loads(extra_models)
    except (ValueError, RecursionError) as error:
        raise ConfigurationError(SETTING, f"is not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(SETTING, f"must be a JSON object of model name to limits, got {type(raw).__name__}")
    extra: dict[str, ModelLimits] = {}
    wildcard = None
    for name, entry in raw.items():
        if name == "*":
            wildcard = _entry_limits("*", entry)
        elif not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
            raise ConfigurationError(SETTING, f"has an invalid model name {name[:80]!r}")
        else:
            extra[name] = _entry_limits(name, entry)
    return ModelTable(extra=extra, wildcard=wildcard)


ENTRY_KEYS = ("like", "sizes", "seconds", "default_size", "default_seconds")


def _entry_limits(name: str, entry: object) -> ModelLimits:
    where = f"entry {name!r}"
    if entry == "any":
        return ModelLimits(name, None, None, None, source=SETTING)
    if not isinstance(entry, dict):
        raise ConfigurationError(SETTING, f'{where} must be "any" or an object with {", ".join(ENTRY_KEYS)}')
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise ConfigurationError(SETTING, f"{where} has unknown keys {unknown}; allowed: {', '.join(ENTRY_KEYS)}")
    like = entry.get("like")
    if like is None:
        base = ModelLimits(name, None, None, None)
    elif isinstance(like, str) and like in BUILT_IN_VIDEO_MODELS:
        base = BUILT_IN_VIDEO_MODELS[like]
    else:
        raise ConfigurationError(SETTING, f"{where}: like must be one of {', '.join(BUILT_IN_VIDEO_MODELS)}")
    if like is None and ("sizes" not in entry or "seconds" not in entry):
        raise ConfigurationError(SETTING, f'{where} needs "sizes" and "seconds" (or "like": a built-in model)')
    sizes = _entry_values(where, "sizes", entry.get("sizes", base.sizes), _is_size)
    seconds = _entry_values(where, "seconds", entry.get("seconds", base.seconds), _is_whole_seconds)
    limits = ModelLimits(
        name,
        base.family,
        sizes,
        seconds,
        default_size=_entry_default(where, "default_size", entry, sizes, DEFAULT_SIZE),
        default_seconds=_entry_default(where, "default_seconds", entry, seconds, DEFAULT_SECONDS),
        source=SETTING,
    )
    return limits


def _entry_values(where: str, key: str, values: object, check) -> tuple[str, ...] | None:
    if values is None or values == "any":
        return None
    if isinstance(values, tuple):  # from the base model
        return values
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and check(v) for v in values):
        example = '["1280x720", "1920x1080"]' if key == "sizes" else '["4", "8", "16"]'
        raise ConfigurationError(SETTING, f'{where}: {key} must be "any" or a non-empty list like {example}')
    return tuple(dict.fromkeys(values))


def _entry_default(where: str, key: str, entry: dict, allowed: tuple[str, ...] | None, preferred: str) -> str:
    if key in entry:
        value = entry[key]
        check = _is_size if key == "default_size" else _is_whole_seconds
        if not isinstance(value, str) or not check(value) or (allowed is not None and value not in allowed):
            raise ConfigurationError(SETTING, f"{where}: {key} must be one of its own {key.split('_')[1]}")
        return value
    if allowed is None or preferred in allowed:
        return preferred
    return allowed[0]


def _is_size(value: str) -> bool:
    return SIZE.fullmatch(value) is not None


def _is_whole_seconds(value: str) -> bool:
    return WHOLE_SECONDS.fullmatch(value) is not None
