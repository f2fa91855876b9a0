"""The provider registry: which providers the settings configure, and what each model can do and costs."""

from __future__ import annotations

import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError
from soraflow.pricing import estimate_cost
from soraflow.providers.capabilities import MODEL_FIELDS
from soraflow.providers.registry import (
    configured_models,
    configured_providers,
    model_capabilities,
    request_capabilities,
)
from soraflow.providers.sora_request import parse_video_request

VIDEOS = {"SORA_ENDPOINT": "http://127.0.0.1:8910"}
JOBS = {**VIDEOS, "SORA_API": "jobs", "SORA_MODEL": "sora"}


def settings(**env) -> Settings:
    return Settings.from_env({**VIDEOS, **env})


def test_the_videos_api_configures_the_sora_provider_and_its_models_default_first():
    models = configured_models(settings(SORA_MODEL="sora-2-pro"))
    assert [p.name for p in configured_providers(settings())] == ["sora"]
    assert models[0].model == "sora-2-pro"
    assert {m.model for m in models} >= {"sora-2", "sora-2-pro", "sora-2-2025-10-06"}
    assert all(m.provider == "sora" and m.remix and m.max_variants == 1 for m in models)


def test_an_azure_deployment_name_is_a_model_with_the_limits_and_price_of_its_family():
    caps = model_capabilities("video-pro-eastus", settings(SORA_MODEL="video-pro-eastus"))
    assert caps.sizes == ("720x1280", "1280x720", "1024x1792", "1792x1024") and caps.source == "SORA_MODEL"
    assert caps.usd_per_second["1280x720"] == 0.3 and caps.usd_per_second["1792x1024"] == 0.5


def test_extra_models_and_prices_from_settings_are_listed_as_configured():
    env = {"SORA_EXTRA_MODELS": '{"video-hq": {"like": "sora-2-pro"}}', "SORA_PRICING": '{"videos": {"video-hq": 1}}'}
    caps = model_capabilities("video-hq", settings(**env))
    assert caps.source == "SORA_EXTRA_MODELS" and set(caps.usd_per_second.values()) == {1.0}


def test_a_model_nobody_serves_has_no_capabilities():
    assert model_capabilities("veo-3.1-generate-001", settings()) is None


def test_the_jobs_api_model_has_variants_and_no_remix_priced_per_variant():
    caps = model_capabilities("sora", Settings.from_env(JOBS))
    assert [p.name for p in configured_providers(Settings.from_env(JOBS))] == ["sora-jobs"]
    assert (caps.remix, caps.max_variants, caps.price_per_variant) == (False, 4, True)
    assert caps.usd_per_second["1920x1080"] == pytest.approx(0.1125)


def test_listed_prices_are_what_a_run_is_estimated_at():
    caps = model_capabilities("sora-2-pro", settings())
    request = parse_video_request({"prompt": "p", "model": "sora-2-pro", "size": "1792x1024", "seconds": "8"},
                                  api="videos", default_model="sora-2")  # fmt: skip
    assert estimate_cost(request).estimated_usd == caps.usd_per_second["1792x1024"] * 8


def test_an_earlier_runs_model_is_asked_of_the_provider_that_served_it():
    assert request_capabilities("sora", "jobs", settings()).remix is False
    assert request_capabilities("sora-2", "videos", Settings.from_env(JOBS)).remix is True


def test_every_listed_model_has_every_field():
    for caps in configured_models(settings()):
        assert tuple(caps.to_dict()) == MODEL_FIELDS


def test_a_malformed_model_setting_is_named_when_models_are_listed():
    with pytest.raises(ConfigurationError, match="SORA_EXTRA_MODELS"):
        configured_models(settings(SORA_EXTRA_MODELS="{not json"))
