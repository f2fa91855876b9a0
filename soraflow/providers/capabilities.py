"""What a provider's model can do and costs (`ModelCapabilities`), and the plug-in interface every provider implements.

`DeclaredProvider` is the base of providers whose models are a declared table (every provider but Sora's two APIs,
whose limits come from the model table and SORA_PRICING): it validates requests against the table and prices them
from it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from soraflow.config import Settings
from soraflow.errors import FieldError, RequestValidationError
from soraflow.pricing import Cost, CostItem
from soraflow.video_request import VideoRequest, parse_for_capabilities

if TYPE_CHECKING:
    from soraflow.providers.provider import VideoProvider

# Every key of a model in GET /api/models, always present.
MODEL_FIELDS = (
    *("provider", "model", "sizes", "seconds", "default_size", "default_seconds", "reference_image", "max_variants"),
    *("remix", "audio", "negative_prompt", "seed", "price", "retention_hours", "lists_jobs", "pushes_completion"),
    *("source", "provider_options"),
)
# Sora keeps outputs 24 h after creation (both APIs).
SORA_RETENTION_HOURS = 24.0


@dataclass(frozen=True)
class ReferenceImage:
    """How a model takes a reference image: as its first frame (and last, where offered), sent how, fitted how."""

    first_frame: bool = True
    last_frame: bool = False
    transport: str = "multipart"  # multipart | data-uri | base64 | url
    must_match_size: bool = True

    def to_dict(self) -> dict:
        return {
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "transport": self.transport,
            "must_match_size": self.must_match_size,
        }


@dataclass(frozen=True)
class OptionSpec:
    """One `provider_options` entry a model takes: its type, and its allowed values or range."""

    kind: str  # bool | int | number | string
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 2_000
    description: str = ""

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` for this option, or None."""
        kinds = {"bool": (bool,), "int": (int,), "number": (int, float), "string": (str,)}[self.kind]
        if not isinstance(value, kinds) or (self.kind != "bool" and isinstance(value, bool)):
            return f"must be {'a' if self.kind != 'int' else 'an'} {self.kind.replace('int', 'integer')}"
        if self.choices is not None and value not in self.choices:
            return "must be one of " + ", ".join(json.dumps(choice) for choice in self.choices)
        low = self.minimum if self.minimum is not None else float("-inf")
        high = self.maximum if self.maximum is not None else float("inf")
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            return f"must be from {low:g} to {high:g}"
        if isinstance(value, str) and len(value) > self.max_length:
            return f"must be at most {self.max_length:,} characters"
        return None

    def json_schema(self) -> dict:
        """This option as a JSON Schema (the OpenAPI document's `provider_options` of the model)."""
        schema: dict = {"type": {"bool": "boolean", "int": "integer", "number": "number"}.get(self.kind, "string")}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.kind == "string":
            schema["maxLength"] = self.max_length
        if self.description:
            schema["description"] = self.description
        return schema

    def to_dict(self) -> dict:
        shown = {"type": self.kind}
        if self.choices is not None:
            shown["choices"] = list(self.choices)
        if self.minimum is not None:
            shown["minimum"], shown["maximum"] = self.minimum, self.maximum
        if self.description:
            shown["description"] = self.description
        return shown


@dataclass(frozen=True)
class ModelCapabilities:
    """What one model of one provider accepts and offers, and what it costs."""

    provider: str
    model: str
    sizes: tuple[str, ...] | None  # None: any WxH within the model table's bounds
    seconds: tuple[str, ...] | None  # None: any whole number within the bounds
    default_size: str
    default_seconds: str
    reference: ReferenceImage | None
    max_variants: int
    remix: bool
    audio: bool
    negative_prompt: bool
    seed: bool
    usd_per_second: Mapping[str, float | None] = field(default_factory=dict, hash=False)  # by size, "*" for any
    price_per_variant: bool = False
    retention_hours: float = SORA_RETENTION_HOURS
    lists_jobs: bool = True
    pushes_completion: bool = False
    source: str = "built-in"
    api: str = ""  # the wire API a run records in its request ("videos", "jobs", "fal", "vertex")
    options: Mapping[str, OptionSpec] = field(default_factory=dict, hash=False)
    # Where fewer variants than `max_variants` are allowed at a size (Sora 1: 1 at 1080p, 2 at 720p).
    variants_by_size: Mapping[str, int] = field(default_factory=dict, hash=False)
    # Why a size the model lacks is refused, where another model of the provider has it ("needs a pro model").
    size_hints: Mapping[str, str] = field(default_factory=dict, hash=False)

    def rate(self, size: str, *, audio: bool = False) -> float | None:
        """USD per generated second at `size` ("WxH"), with or without audio: `usd_per_second` keys are tried most
        specific first ("1280x720+audio", "1280x720", "*+audio", "*")."""
        keys = (f"{size}+audio", size, "*+audio", "*") if audio else (size, "*")
        return next((self.usd_per_second[key] for key in keys if self.usd_per_second.get(key) is not None), None)

    def to_dict(self) -> dict:
        return {
            "provider": self.provider,
            "model": self.model,
            "sizes": list(self.sizes) if self.sizes is not None else "any",
            "seconds": list(self.seconds) if self.seconds is not None else "any",
            "default_size": self.default_size,
            "default_seconds": self.default_seconds,
            "reference_image": self.reference.to_dict() if self.reference else None,
            "max_variants": self.max_variants,
            "remix": self.remix,
            "audio": self.audio,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "price": {"usd_per_second": dict(self.usd_per_second), "per_variant": self.price_per_variant},
            "retention_hours": self.retention_hours,
            "lists_jobs": self.lists_jobs,
            "pushes_completion": self.pushes_completion,
            "source": self.source,
            "provider_options": {name: spec.to_dict() for name, spec in self.options.items()},
        }


class ProviderPlugin(Protocol):
    """A provider soraflow can front."""

    name: str
    api: str  # the wire API its runs record in their request

    def is_configured(self, settings: Settings) -> bool: ...

    def default_model(self, settings: Settings) -> str: ...

    def models(self, settings: Settings) -> list[ModelCapabilities]: ...

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None: ...

    def parse(
        self, body: Mapping, settings: Settings, *, allowed_containers: Collection[str], allow_upload: bool
    ) -> VideoRequest: ...

    def estimate(self, request: VideoRequest, settings: Settings) -> Cost: ...

    def quota(self, settings: Settings) -> dict | None: ...

    def client(self, settings: Settings) -> VideoProvider: ...

    def probe(self, settings: Settings) -> None: ...


class DeclaredProvider:
    """A provider whose models are a declared table: subclasses give `name`, `api`, `declared_models` and the rest of
    the plug-in (`is_configured`, `quota`, `client`, `probe`)."""

    name: str
    api: str

    def declared_models(self, settings: Settings) -> list[ModelCapabilities]:
        raise NotImplementedError

    def default_model(self, settings: Settings) -> str:
        return self.declared_models(settings)[0].model

    def models(self, settings: Settings) -> list[ModelCapabilities]:
        return self.declared_models(settings)

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None:
        return next((caps for caps in self.declared_models(settings) if caps.model == model), None)

    def parse(
        self, body: Mapping, settings: Settings, *, allowed_containers: Collection[str], allow_upload: bool
    ) -> VideoRequest:
        model = body.get("model") if isinstance(body, Mapping) else None
        caps = self.capabilities(model if isinstance(model, str) else self.default_model(settings), settings)
        if caps is None:
            names = ", ".join(c.model for c in self.declared_models(settings))
            shown = json.dumps(model)[:80] if isinstance(model, str) else type(model).__name__
            raise RequestValidationError(
                FieldError("model", f"model must be one of {names} for {self.name}; got {shown}")
            )
        return parse_for_capabilities(body, caps, allowed_containers=allowed_containers, allow_upload=allow_upload)

    def estimate(self, request: VideoRequest, settings: Settings) -> Cost:
        caps = self.capabilities(request.model, settings)
        audio = bool(request.provider_options.get("generate_audio", caps.audio if caps else False))
        rate = caps.rate(request.size, audio=audio) if caps else None
        runs = [("generation", request.variants)] + ([("remix", 1)] if request.remix_prompt is not None else [])
        items = tuple(
            CostItem(kind, request.seconds, n, rate, None if rate is None else round(rate * request.seconds * n, 4))
            for kind, n in runs
        )
        seconds = sum(item.seconds * item.variants for item in items)
        if rate is None:
            return Cost(None, seconds, "no estimate", items, reason=f"no price for {request.model} at {request.size}")
        total = round(sum(item.usd for item in items), 4)
        basis = f"{request.model} at ${rate:g}/s{' with audio' if audio else ''}; {request.seconds} s"
        return Cost(total, seconds, basis, items)
