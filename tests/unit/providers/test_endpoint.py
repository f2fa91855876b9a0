import pytest

from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.providers.endpoint import jobs_endpoint, path_segment, videos_endpoint


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://res.openai.azure.com", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://res.openai.azure.com/", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://res.openai.azure.com/openai/v1", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://res.openai.azure.com/openai/v1/", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://res.openai.azure.com/openai", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://res.openai.azure.com/openai/v1/videos", "https://res.openai.azure.com/openai/v1/videos"),
        ("https://api.openai.com", "https://api.openai.com/v1/videos"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1/videos"),
        ("http://127.0.0.1:8910", "http://127.0.0.1:8910/openai/v1/videos"),
        ("https://gateway.example.com/llm/v1", "https://gateway.example.com/llm/v1/videos"),
    ],
)
def test_videos_base_url_for_azure_openai_and_gateways(endpoint, expected):
    assert videos_endpoint(endpoint).base_url == expected


def test_custom_videos_path_is_appended_to_the_endpoint():
    found = videos_endpoint("https://gw.example.com/proxy", "/sora/videos")
    assert found.base_url == "https://gw.example.com/proxy/sora/videos"
    assert found.params == {}


def test_query_parameters_in_endpoint_or_path_are_kept_for_every_call():
    found = videos_endpoint("https://gw.example.com?tenant=a", "/v2/videos?api-version=2025-01-01")
    assert found.base_url == "https://gw.example.com/v2/videos"
    assert found.params == {"tenant": "a", "api-version": "2025-01-01"}


@pytest.mark.parametrize("path", ["videos", "https://evil.example.com/videos", "//evil.example.com/v", "/a/../b"])
def test_custom_path_must_be_a_plain_absolute_path(path):
    with pytest.raises(ConfigurationError) as info:
        videos_endpoint("https://res.openai.azure.com", path)
    assert info.value.setting == "SORA_VIDEOS_PATH"


@pytest.mark.parametrize("endpoint", ["ftp://x", "res.openai.azure.com", "https://user:pw@res.openai.azure.com"])
def test_bad_endpoint_names_the_setting(endpoint):
    with pytest.raises(ConfigurationError) as info:
        videos_endpoint(endpoint)
    assert info.value.setting == "SORA_ENDPOINT"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://res.openai.azure.com",
        "https://res.openai.azure.com/openai",
        "https://res.openai.azure.com/openai/v1",
        "https://res.openai.azure.com/openai/v1/video/generations",
        "https://res.openai.azure.com/openai/v1/video/generations/jobs",
    ],
)
def test_jobs_root_and_api_version(endpoint):
    found = jobs_endpoint(endpoint)
    assert found.base_url == "https://res.openai.azure.com/openai/v1/video/generations"
    assert found.params == {"api-version": "preview"}
    assert found.url("jobs") == "https://res.openai.azure.com/openai/v1/video/generations/jobs"


def test_jobs_api_version_can_be_overridden_from_the_endpoint():
    assert jobs_endpoint("https://r.openai.azure.com?api-version=2025-02-15-preview").params == {
        "api-version": "2025-02-15-preview"
    }


@pytest.mark.parametrize("value", ["video_68fa7f59f2588190", "task_01jy98zkvpfb", "gen_01jy990g", "a.b_c~d-e"])
def test_provider_ids_are_accepted_as_path_segments(value):
    assert path_segment(value, "video_id") == value


def test_colons_in_ids_are_percent_encoded():
    assert path_segment("ns:video_1", "video_id") == "ns%3Avideo_1"


@pytest.mark.parametrize(
    "value", ["", ".", "..", "../admin", "a/b", "a?b=c", "a#b", "a b", "a%2Fb", "x" * 257, "vidéo", None, 42, "\n"]
)
def test_hostile_ids_never_reach_the_url(value):
    with pytest.raises(RequestValidationError) as info:
        path_segment(value, "video_id")
    assert info.value.errors[0].field == "video_id"
