"""Which provider a request goes to (its `provider`, else the provider serving its `model`, else the default), and
how a model that declares its capabilities validates a request."""

from __future__ import annotations

import pytest

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.providers.capabilities import ModelCapabilities, OptionSpec, ReferenceImage
from soraflow.providers.registry import (
    configured_providers,
    parse_request,
    plugin_for,
)
from soraflow.video_request import VideoRequest, parse_for_capabilities

SORA = {"SORA_ENDPOINT": "http://127.0.0.1:8910"}
VEO = ModelCapabilities(
    provider="fal",
    model="fal-ai/veo3.1",
    sizes=("1280x720", "720x1280", "1920x1080", "1080x1920"),
    seconds=("4", "6", "8"),
    default_size="1280x720",
    default_seconds="8",
    reference=ReferenceImage(transport="data-uri", must_match_size=False),
    max_variants=1,
    remix=False,
    audio=True,
    negative_prompt=True,
    seed=True,
    api="fal",
    options={
        "generate_audio": OptionSpec("bool"),
        "seed": OptionSpec("int", minimum=0, maximum=2**32 - 1),
        "negative_prompt": OptionSpec("string", max_length=2_000),
        "safety_tolerance": OptionSpec("string", choices=("1", "2", "3", "4", "5", "6")),
    },
)


def problems(call) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as info:
        call()
    return {error.field: error.message for error in info.value.errors}


# --- settings ---


def test_sora_settings_alone_make_sora_the_default_provider_as_before():
    assert Settings.from_env(SORA).video_provider == "sora"
    assert Settings.from_env({**SORA, "SORA_API": "jobs"}).video_provider == "sora-jobs"


def test_video_provider_sora_jobs_selects_the_jobs_api():
    settings = Settings.from_env({**SORA, "VIDEO_PROVIDER": "sora-jobs"})
    assert (settings.video_provider, settings.sora_api) == ("sora-jobs", "jobs")


def test_a_fal_key_alone_configures_fal_and_no_sora_endpoint_is_needed():
    settings = Settings.from_env({"FAL_KEY": "key-id:secret"})
    assert settings.video_provider == "fal" and settings.sora_endpoint == ""
    assert settings.fal_queue_url == "https://queue.fal.run"


def test_a_vertex_project_gets_the_regional_endpoint_of_its_location():
    settings = Settings.from_env({"VERTEX_PROJECT": "my-project", "VERTEX_LOCATION": "europe-west4"})
    assert settings.video_provider == "vertex"
    assert settings.vertex_base_url == "https://europe-west4-aiplatform.googleapis.com"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({}, "SORA_ENDPOINT"),
        ({**SORA, "VIDEO_PROVIDER": "runway"}, "VIDEO_PROVIDER"),
        ({**SORA, "VIDEO_PROVIDER": "fal"}, "FAL_KEY"),
        ({**SORA, "VIDEO_PROVIDER": "vertex"}, "VERTEX_PROJECT"),
        ({**SORA, "VIDEO_PROVIDER": "sora", "SORA_API": "jobs"}, "VIDEO_PROVIDER"),
        ({"VIDEO_PROVIDER": "sora"}, "SORA_ENDPOINT"),
        ({"FAL_KEY": "k", "FAL_QUEUE_URL": "queue.fal.run"}, "FAL_QUEUE_URL"),
        ({"VERTEX_PROJECT": "p", "VERTEX_LOCATION": "us central"}, "VERTEX_LOCATION"),
        ({"VERTEX_PROJECT": "p", "VERTEX_OUTPUT_GCS_URI": "s3://bucket"}, "VERTEX_OUTPUT_GCS_URI"),
        ({**SORA, "PUBLIC_BASE_URL": "example.com"}, "PUBLIC_BASE_URL"),
    ],
)
def test_a_missing_or_malformed_provider_setting_is_named(env, setting):
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert info.value.setting == setting


# --- routing ---


def test_a_request_without_provider_or_model_goes_to_the_default_provider():
    request = parse_request({"prompt": "a kite"}, Settings.from_env(SORA))
    assert (request.provider, request.model, request.api) == ("sora", "sora-2", "videos")


def test_a_sora_request_is_validated_exactly_as_before():
    found = problems(lambda: parse_request({"prompt": "p", "seconds": 5}, Settings.from_env(SORA)))
    assert found == {"seconds": 'seconds must be one of "4", "8", "12" for model sora-2; got 5'}


def test_a_provider_that_is_not_configured_is_a_400_naming_the_configured_ones():
    found = problems(lambda: parse_request({"prompt": "p", "provider": "fal"}, Settings.from_env(SORA)))
    assert found == {"provider": 'provider must be one of sora; got "fal"'}


def test_provider_options_are_refused_for_sora_which_takes_none():
    body = {"prompt": "p", "provider_options": {"seed": 1}}
    found = problems(lambda: parse_request(body, Settings.from_env(SORA)))
    assert found == {"provider_options": "provider_options: sora-2 takes no provider options"}


def test_a_recorded_request_knows_its_provider_even_from_before_providers_were_named():
    old = {"api": "jobs", "prompt": "p", "model": "sora", "size": "480x480", "seconds": 2}
    assert VideoRequest.from_dict(old).provider == "sora-jobs"
    assert plugin_for(VideoRequest.from_dict(old)).name == "sora-jobs"


def test_the_default_provider_is_listed_first():
    settings = Settings.from_env({**SORA, "SORA_API": "jobs"})
    assert [provider.name for provider in configured_providers(settings)] == ["sora-jobs"]


# --- a model that declares its capabilities ---


def test_a_declared_model_takes_its_defaults_and_records_its_provider():
    request = parse_for_capabilities({"prompt": "a lighthouse"}, VEO)
    assert (request.provider, request.api, request.size, request.seconds) == ("fal", "fal", "1280x720", 8)


def test_seconds_a_model_cannot_make_name_the_model_and_what_it_supports():
    found = problems(lambda: parse_for_capabilities({"prompt": "p", "seconds": "12"}, VEO))
    assert found == {"seconds": 'seconds must be one of "4", "6", "8" for fal-ai/veo3.1; got "12"'}


def test_an_integer_seconds_is_accepted_as_its_string():
    assert parse_for_capabilities({"prompt": "p", "seconds": 6}, VEO).seconds == 6


def test_a_size_the_model_cannot_make_lists_its_sizes():
    found = problems(lambda: parse_for_capabilities({"prompt": "p", "size": "640x480"}, VEO))
    assert found["size"].startswith('size must be one of "1280x720", "720x1280"') and "fal-ai/veo3.1" in found["size"]


def test_remix_on_a_model_without_remix_is_a_400_naming_remix():
    found = problems(lambda: parse_for_capabilities({"prompt": "p", "remix": {"prompt": "again"}}, VEO))
    assert found == {"remix": "remix is not supported by fal-ai/veo3.1"}


def test_provider_options_are_checked_against_what_the_model_declares():
    body = {"prompt": "p", "provider_options": {"seed": 7, "generate_audio": False}}
    assert dict(parse_for_capabilities(body, VEO).provider_options) == {"seed": 7, "generate_audio": False}
    bad = {"prompt": "p", "provider_options": {"seed": "seven", "colour": "red", "safety_tolerance": "9"}}
    found = problems(lambda: parse_for_capabilities(bad, VEO))
    assert found["provider_options.seed"].startswith("provider_options.seed must be an integer for fal-ai/veo3.1")
    assert found["provider_options.colour"].startswith('fal-ai/veo3.1 has no option "colour"; its options: ')
    assert 'must be one of "1", "2"' in found["provider_options.safety_tolerance"]


def test_variants_are_an_unknown_field_for_a_single_video_model():
    found = problems(lambda: parse_for_capabilities({"prompt": "p", "variants": 2}, VEO))
    assert found["variants"].startswith('unknown field "variants" for fal-ai/veo3.1')


def test_a_reference_is_refused_by_a_model_that_takes_none():
    text_only = ModelCapabilities(**{**VEO.__dict__, "reference": None})
    body = {"prompt": "p", "input_reference": {"blob": "video-requests/cat.png"}}
    found = problems(lambda: parse_for_capabilities(body, text_only, allowed_containers=("video-requests",)))
    assert found == {"input_reference": "input_reference is not supported by fal-ai/veo3.1"}


def test_a_declared_models_request_survives_its_dict_form():
    request = parse_for_capabilities({"prompt": "p", "provider_options": {"seed": 3}}, VEO)
    assert VideoRequest.from_dict(request.to_dict()) == request
