"""The providers soraflow can front, and what each configured model can do: one registry that the HTTP API,
validation, pricing, health and the orchestrator read instead of comparing API names.

A provider is a plug-in: it has a name (`sora`, `sora-jobs`), says whether the settings configure it, lists the
models it serves with their `ModelCapabilities`, and builds its client. Adding a provider adds one plug-in here and
its client module; callers branch on capabilities (`caps.remix`, `caps.seconds`), never on a provider's name.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError, RequestValidationError
from soraflow.model_table import SORA2_PRO_SIZES, ModelLimits, is_pro_name, load_model_table
from soraflow.pricing import Cost, PriceTable, estimate_cost, jobs_rate, load_price_table
from soraflow.providers.capabilities import (  # noqa: F401 - the registry is where callers find them
    MODEL_FIELDS,
    SORA_RETENTION_HOURS,
    DeclaredProvider,
    ModelCapabilities,
    OptionSpec,
    ProviderPlugin,
    ReferenceImage,
)
from soraflow.providers.fal import FalProvider
from soraflow.providers.provider import VideoProvider, provider_client
from soraflow.providers.sora_request import parse_video_request
from soraflow.providers.vertex import VertexProvider
from soraflow.quota import quota_options
from soraflow.video_request import VideoRequest


class SoraPlugin:
    """What both Sora APIs share: the model table, SORA_PRICING, the Sora client and quota settings."""

    name: str
    api: str

    def is_configured(self, settings: Settings) -> bool:
        return bool(settings.sora_endpoint) and settings.sora_api == self.api

    def default_model(self, settings: Settings) -> str:
        return settings.sora_model

    def models(self, settings: Settings) -> list[ModelCapabilities]:
        table = load_model_table(settings.sora_extra_models)
        names = dict.fromkeys([settings.sora_model, *table.known_names(self.api)])
        return [caps for name in names if (caps := self.capabilities(name, settings)) is not None]

    def parse(
        self, body: Mapping, settings: Settings, *, allowed_containers: Collection[str], allow_upload: bool
    ) -> VideoRequest:
        return parse_video_request(
            body,
            api=self.api,
            default_model=settings.sora_model,
            extra_models=settings.sora_extra_models,
            allowed_containers=allowed_containers,
            allow_upload=allow_upload,
            size_hints=self.size_hints,
        )

    def _capabilities(self, model: str, settings: Settings, *, remix: bool, audio: bool, per_variant: bool,
                      variants, prices) -> ModelCapabilities | None:  # fmt: skip
        """A model's capabilities from the model table (SORA_EXTRA_MODELS) and SORA_PRICING."""
        limits = load_model_table(settings.sora_extra_models).resolve(
            model, api=self.api, default_model=settings.sora_model
        )
        if limits is None:
            return None
        return ModelCapabilities(
            provider=self.name,
            model=model,
            sizes=limits.sizes,
            seconds=limits.seconds,
            default_size=limits.default_size,
            default_seconds=limits.default_seconds,
            reference=ReferenceImage(),
            max_variants=variants(limits),
            remix=remix,
            audio=audio,
            negative_prompt=False,
            seed=False,
            usd_per_second=prices(load_price_table(settings.sora_pricing), limits),
            price_per_variant=per_variant,
            source=limits.source,
            api=self.api,
            variants_by_size=limits.max_variants,
            size_hints=self.size_hints(limits),
        )

    def size_hints(self, limits: ModelLimits) -> dict[str, str]:
        return {}

    def estimate(self, request: VideoRequest, settings: Settings) -> Cost:
        return estimate_cost(request, settings.sora_pricing)

    def quota(self, settings: Settings) -> dict | None:
        return quota_options(settings)

    def client(self, settings: Settings) -> VideoProvider:
        return provider_client(settings)

    def probe(self, settings: Settings) -> None:
        """One cheap authenticated call: list a single job."""
        provider_client(settings).list_jobs(limit=1)


class SoraVideos(SoraPlugin):
    """Sora 2's videos API (OpenAI-style `/videos`), or any OpenAI-compatible endpoint (SORA_API=videos)."""

    name = "sora"
    api = "videos"

    def size_hints(self, limits: ModelLimits) -> dict[str, str]:
        """The pro sizes a model without "pro" in its name lacks: say which model has them."""
        if is_pro_name(limits.name) or limits.sizes is None:
            return {}
        return {size: "needs a pro model such as sora-2-pro" for size in SORA2_PRO_SIZES if size not in limits.sizes}

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None:
        return self._capabilities(model, settings, remix=True, audio=True, variants=lambda limits: 1,
                                  prices=_videos_prices, per_variant=False)  # fmt: skip


class SoraJobs(SoraPlugin):
    """Sora 1's jobs API on Azure OpenAI (SORA_API=jobs): variants, no remix."""

    name = "sora-jobs"
    api = "jobs"

    def capabilities(self, model: str, settings: Settings) -> ModelCapabilities | None:
        return self._capabilities(model, settings, remix=False, audio=False, per_variant=True,
                                  variants=lambda limits: max(limits.max_variants.values(), default=1),
                                  prices=_jobs_prices)  # fmt: skip


PROVIDERS: tuple[ProviderPlugin, ...] = (SoraVideos(), SoraJobs(), FalProvider(), VertexProvider())


def configured_providers(settings: Settings) -> list[ProviderPlugin]:
    """The providers the settings configure, the default one (VIDEO_PROVIDER) first."""
    configured = [provider for provider in PROVIDERS if provider.is_configured(settings)]
    return sorted(configured, key=lambda provider: provider.name != settings.video_provider)


def provider_named(name: str) -> ProviderPlugin | None:
    return next((provider for provider in PROVIDERS if provider.name == name), None)


def provider_for_api(api: str) -> str:
    """The provider of a request recorded before requests named theirs: the plug-in speaking its wire API."""
    return next((provider.name for provider in PROVIDERS if provider.api == api), api)


def parse_request(
    body: object, settings: Settings, *, allowed_containers: Collection[str] = (), allow_upload: bool = False
) -> VideoRequest:
    """Validate a request for the provider its `provider` or `model` picks (else the default provider).

    A model no configured provider serves goes to the default provider, whose validation names the models it has.
    """
    providers = configured_providers(settings)
    plugin = providers[0] if providers else None
    if isinstance(body, Mapping) and body.get("provider") is not None:
        chosen = body["provider"]
        named = [provider for provider in providers if provider.name == chosen]
        if not named:
            names = ", ".join(provider.name for provider in providers)
            shown = json.dumps(chosen)[:60] if isinstance(chosen, str) else type(chosen).__name__
            raise RequestValidationError(FieldError("provider", f"provider must be one of {names}; got {shown}"))
        plugin = named[0]
    elif isinstance(body, Mapping) and isinstance(body.get("model"), str):
        serving = [provider for provider in providers if provider.capabilities(body["model"], settings) is not None]
        plugin = serving[0] if serving else plugin
    if plugin is None:
        raise ConfigurationError(
            "VIDEO_PROVIDER", "no provider is configured (set SORA_ENDPOINT, FAL_KEY or VERTEX_PROJECT)"
        )
    return plugin.parse(body, settings, allowed_containers=allowed_containers, allow_upload=allow_upload)


def plugin_for(request: VideoRequest) -> ProviderPlugin:
    """The provider a validated request (or one recorded in a run) was made for."""
    plugin = provider_named(request.provider)
    if plugin is None:
        raise ConfigurationError("VIDEO_PROVIDER", f"provider {request.provider} is not available in this version")
    return plugin


def run_cost(request: VideoRequest, settings: Settings) -> Cost:
    """What the run is estimated to cost, priced by its provider."""
    return plugin_for(request).estimate(request, settings)


def client_for(provider: str | None, settings: Settings) -> VideoProvider:
    """The shared client of `provider` (a run's), or of the default provider."""
    plugin = provider_named(provider or settings.video_provider)
    if plugin is None:
        raise ConfigurationError("VIDEO_PROVIDER", f"provider {provider} is not available in this version")
    return plugin.client(settings)


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
