"""Sora's two wire APIs as plug-ins: `sora` (Sora 2's videos API, or any OpenAI-compatible endpoint) and
`sora-jobs` (Sora 1's jobs API on Azure OpenAI), their models from the model table (`SORA_EXTRA_MODELS`) and their
prices from `SORA_PRICING`."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from soraflow.config import Settings
from soraflow.model_table import SORA2_PRO_SIZES, ModelLimits, is_pro_name, load_model_table
from soraflow.pricing import Cost, PriceTable, estimate_cost, jobs_rate, load_price_table
from soraflow.providers.capabilities import ModelCapabilities, ReferenceImage
from soraflow.providers.provider import VideoProvider, provider_client
from soraflow.providers.sora_request import parse_video_request
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


def _videos_prices(prices: PriceTable, limits: ModelLimits) -> dict[str, float | None]:
    sizes = limits.sizes or ("*",)
    return {size: prices.videos_rate(limits.name, limits.family, size)[0] for size in sizes}


def _jobs_prices(prices: PriceTable, limits: ModelLimits) -> dict[str, float | None]:
    return {size: jobs_rate(prices, size)[0] for size in limits.sizes or ()}
