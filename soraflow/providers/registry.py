"""The providers soraflow can front, and what each configured model can do: one registry that the HTTP API,
validation, pricing, health and the orchestrator read instead of comparing API names.

A provider is a plug-in: it has a name (`sora`, `sora-jobs`), says whether the settings configure it, lists the
models it serves with their `ModelCapabilities`, and builds its client. Adding a provider adds one plug-in here and
its client module; callers branch on capabilities (`caps.remix`, `caps.seconds`), never on a provider's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from soraflow.config import Settings
from soraflow.model_table import ModelLimits, load_model_table
from soraflow.pricing import PriceTable, jobs_rate, load_price_table

# Every key of a model in GET /api/models, always present.
MODEL_FIELDS = (
    *("provider", "model", "sizes", "seconds", "default_size", "default_seconds", "reference_image", "max_variants"),
    *("remix", "audio", "negative_prompt", "seed", "price", "retention_hours", "lists_jobs", "pushes_completion"),
    "source",
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
        }


class ProviderPlugin(Protocol):
    """A provider soraflow can front."""

    name: str
    api: str  # the wire API its runs record in their request

    def is_configured(self, settings: Settings) -> bool: ...

    def models(self, settings: Settings) -> list[ModelCapabilities]: ...

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None: ...


class SoraVideos:
    """Sora 2's videos API (OpenAI-style `/videos`), or any OpenAI-compatible endpoint (SORA_API=videos)."""

    name = "sora"
    api = "videos"

    def is_configured(self, settings: Settings) -> bool:
        return settings.sora_api == self.api

    def models(self, settings: Settings) -> list[ModelCapabilities]:
        table = load_model_table(settings.sora_extra_models)
        names = dict.fromkeys([settings.sora_model, *table.known_names(self.api)])
        return [caps for name in names if (caps := self.capabilities(name, settings)) is not None]

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None:
        limits = load_model_table(settings.sora_extra_models).resolve(
            model, api=self.api, default_model=settings.sora_model
        )
        if limits is None:
            return None
        prices = load_price_table(settings.sora_pricing)
        return ModelCapabilities(
            provider=self.name,
            model=model,
            sizes=limits.sizes,
            seconds=limits.seconds,
            default_size=limits.default_size,
            default_seconds=limits.default_seconds,
            reference=ReferenceImage(),
            max_variants=1,
            remix=True,
            audio=True,
            negative_prompt=False,
            seed=False,
            usd_per_second=_videos_prices(prices, limits),
            source=limits.source,
        )


class SoraJobs:
    """Sora 1's jobs API on Azure OpenAI (SORA_API=jobs): variants, no remix."""

    name = "sora-jobs"
    api = "jobs"

    def is_configured(self, settings: Settings) -> bool:
        return settings.sora_api == self.api

    def models(self, settings: Settings) -> list[ModelCapabilities]:
        table = load_model_table(settings.sora_extra_models)
        names = dict.fromkeys([settings.sora_model, *table.known_names(self.api)])
        return [caps for name in names if (caps := self.capabilities(name, settings)) is not None]

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None:
        limits = load_model_table(settings.sora_extra_models).resolve(
            model, api=self.api, default_model=settings.sora_model
        )
        if limits is None:
            return None
        prices = load_price_table(settings.sora_pricing)
        return ModelCapabilities(
            provider=self.name,
            model=model,
            sizes=limits.sizes,
            seconds=limits.seconds,
            default_size=limits.default_size,
            default_seconds=limits.default_seconds,
            reference=ReferenceImage(),
            max_variants=max(limits.max_variants.values(), default=1),
            remix=False,
            audio=False,
            negative_prompt=False,
            seed=False,
            usd_per_second=_jobs_prices(prices, limits),
            price_per_variant=True,
            source=limits.source,
        )


PROVIDERS: tuple[ProviderPlugin, ...] = (SoraVideos(), SoraJobs())


def configured_providers(settings: Settings) -> list[ProviderPlugin]:
    """The providers the settings configure, the default one first."""
    return [provider for provider in PROVIDERS if provider.is_configured(settings)]


def configured_models(settings: Settings) -> list[ModelCapabilities]:
    """Every model a request may name under these settings, with what it can do and what it costs."""
    return [caps for provider in configured_providers(settings) for caps in provider.models(settings)]


def model_capabilities(model: str, settings: Settings) -> ModelCapabilities | None:
    """What `model` can do under these settings (the first configured provider that serves it), or None."""
    for provider in configured_providers(settings):
        caps = provider.capabilities(model, settings)
        if caps is not None:
            return caps
    return None


def request_capabilities(model: str, api: str, settings: Settings) -> ModelCapabilities | None:
    """What the model of an earlier run's request can do, asked of the provider that served it (by its API)."""
    for provider in PROVIDERS:
        if provider.api == api:
            return provider.capabilities(model, settings)
    return None


def _videos_prices(prices: PriceTable, limits: ModelLimits) -> dict[str, float | None]:
    sizes = limits.sizes or ("*",)
    return {size: prices.videos_rate(limits.name, limits.family, size)[0] for size in sizes}


def _jobs_prices(prices: PriceTable, limits: ModelLimits) -> dict[str, float | None]:
    return {size: jobs_rate(prices, size)[0] for size in limits.sizes or ()}
