"""The providers soraflow can front, and what each configured model can do: one registry that the HTTP API,
validation, pricing, health and the orchestrator read instead of comparing API names.

A provider is a plug-in: it has a name (`sora`, `sora-jobs`, `fal`, `vertex`), says whether the settings configure
it, lists the models it serves with their `ModelCapabilities`, and builds its client. Adding a provider adds one
module in `soraflow/providers/` and its plug-in to `providers()`; callers branch on capabilities (`caps.remix`,
`caps.seconds`), never on a provider's name. The plug-in modules load on the first call, not when the app is
indexed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError, RequestValidationError

if TYPE_CHECKING:
    from soraflow.pricing import Cost
    from soraflow.providers.capabilities import ModelCapabilities, ProviderPlugin
    from soraflow.providers.provider import VideoProvider
    from soraflow.video_request import VideoRequest


@functools.cache
def providers() -> tuple[ProviderPlugin, ...]:
    """Every provider plug-in, in the order a model id is looked for."""
    from soraflow.providers.fal import FalProvider
    from soraflow.providers.sora import SoraJobs, SoraVideos
    from soraflow.providers.vertex import VertexProvider

    return (SoraVideos(), SoraJobs(), FalProvider(), VertexProvider())


def configured_providers(settings: Settings) -> list[ProviderPlugin]:
    """The providers the settings configure, the default one (VIDEO_PROVIDER) first."""
    configured = [provider for provider in providers() if provider.is_configured(settings)]
    return sorted(configured, key=lambda provider: provider.name != settings.video_provider)


def provider_named(name: str) -> ProviderPlugin | None:
    return next((provider for provider in providers() if provider.name == name), None)


def provider_for_api(api: str) -> str:
    """The provider of a request recorded before requests named theirs: the plug-in speaking its wire API."""
    return next((provider.name for provider in providers() if provider.api == api), api)


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
    for provider in providers():
        if provider.api == api:
            return provider.capabilities(model, settings)
    return None
