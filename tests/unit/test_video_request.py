"""The request model: every validation rule for both APIs, the extra-models setting, and hostile bodies."""

from __future__ import annotations

import dataclasses
import json

import pytest

from soraflow.errors import ConfigurationError, RequestValidationError
from soraflow.model_table import SORA1_MAX_VARIANTS, load_model_table
from soraflow.providers.registry import provider_named
from soraflow.providers.sora_request import parse_video_request
from soraflow.video_request import (
    MAX_BODY_BYTES,
    MAX_ERRORS,
    ReferenceSource,
    VideoRequest,
    parse_request_json,
)

CONTAINERS = {"video-requests", "videos"}


def parse(body, *, api="videos", default_model="sora-2", **options) -> VideoRequest:
    options.setdefault("allowed_containers", CONTAINERS)
    options.setdefault("size_hints", provider_named("sora" if api == "videos" else "sora-jobs").size_hints)
    return parse_video_request(body, api=api, default_model=default_model, **options)


def problems(body, **options) -> dict[str, str]:
    """The field -> message map of the validation error that `body` must raise."""
    with pytest.raises(RequestValidationError) as info:
        parse(body, **options)
    return {error.field: error.message for error in info.value.errors}


def problem(body, field: str, **options) -> str:
    found = problems(body, **options)
    assert field in found, found
    return found[field]


# --- videos API (Sora 2) -------------------------------------------------------------------------------------


def test_minimal_videos_request_gets_the_documented_defaults():
    request = parse({"prompt": "A red panda making latte art"})
    assert (request.api, request.model, request.size, request.seconds, request.variants) == (
        "videos",
        "sora-2",
        "720x1280",
        4,
        1,
    )
    assert (request.width, request.height, request.seconds) == (720, 1280, 4)
    assert request.input_reference is None and request.remix_prompt is None and dict(request.metadata) == {}


def test_integer_seconds_is_accepted_and_normalised_to_the_string_the_api_wants():
    request = parse({"prompt": "p", "seconds": 8})
    assert request.seconds == 8
    assert request.seconds == 8


@pytest.mark.parametrize("seconds", ["4", "8", "12", 4, 12, " 8 "])
def test_each_allowed_duration_is_accepted(seconds):
    assert parse({"prompt": "p", "seconds": seconds}).seconds == int(str(seconds).strip())


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "true"),
        (False, "false"),
        (8.5, "8.5"),
        (8.0, "8.0"),
        ("5", '"5"'),
        (5, "5"),
        (16, "16"),
        ("eight", '"eight"'),
        (-4, "-4"),
        (0, "0"),
        ("", '""'),
        ([8], "a list of 1 items"),
        ({"s": 8}, "an object with 1 keys"),
    ],
)
def test_wrong_duration_names_the_value_and_the_allowed_ones(value, shown):
    message = problem({"prompt": "p", "seconds": value}, "seconds")
    assert message == f'seconds must be one of "4", "8", "12" for model sora-2; got {shown}'


@pytest.mark.parametrize("size", ["720x1280", "1280x720"])
def test_sora2_sizes_are_accepted(size):
    request = parse({"prompt": "p", "size": size})
    assert request.size == size
    assert (request.width, request.height) == tuple(int(n) for n in size.split("x"))


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024"])
def test_pro_sizes_need_a_pro_model(size):
    message = problem({"prompt": "p", "size": size}, "size")
    assert f'got "{size}"' in message
    assert "720x1280, 1280x720" in message
    assert "needs a pro model such as sora-2-pro" in message
    assert parse({"prompt": "p", "size": size, "model": "sora-2-pro"}).size == size
    assert parse({"prompt": "p", "size": size, "model": "sora-2-pro-2025-10-06"}).size == size


@pytest.mark.parametrize("model", ["sora-2", "sora-2-2025-10-06", "sora-2-2025-12-08", "sora-2-pro"])
def test_built_in_models_and_snapshots_are_known(model):
    request = parse({"prompt": "p", "model": model})
    assert request.model == model
    assert request.model_family in ("sora-2", "sora-2-pro")


@pytest.mark.parametrize(
    ("size", "shown"),
    [("1280*720", '"1280*720"'), ("big", '"big"'), (1280, "1280"), ("0x720", '"0x720"'), ("1920x1080", '"1920x1080"')],
)
def test_wrong_size_names_the_value_and_the_allowed_ones(size, shown):
    message = problem({"prompt": "p", "size": size}, "size")
    assert "720x1280, 1280x720" in message
    assert message.endswith(f"got {shown}")


def test_size_with_an_upper_case_x_is_normalised():
    assert parse({"prompt": "p", "size": "1280X720"}).size == "1280x720"


def test_variants_is_an_error_against_the_videos_api():
    assert "only available with the jobs API" in problem({"prompt": "p", "variants": 2}, "variants")


def test_remix_is_chained_on_the_videos_api():
    request = parse({"prompt": "a kite", "remix": {"prompt": "  the same kite at night "}})
    assert request.remix_prompt == "the same kite at night"


@pytest.mark.parametrize(
    ("remix", "field", "expected"),
    [
        ("night", "remix", 'remix must be an object {"prompt": "..."}; got "night"'),
        ({}, "remix.prompt", "remix.prompt is required"),
        ({"prompt": ""}, "remix.prompt", "remix.prompt must not be empty"),
        ({"prompt": 3}, "remix.prompt", "remix.prompt must be a string of 1-32,000 characters; got 3"),
        ({"prompt": "x", "seconds": "8"}, "remix.seconds", 'unknown key "seconds"; allowed: prompt'),
    ],
)
def test_malformed_remix_is_rejected(remix, field, expected):
    assert expected in problem({"prompt": "p", "remix": remix}, field)


# --- prompt ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 32_000])
def test_prompt_length_boundaries_are_accepted(length):
    assert len(parse({"prompt": "x" * length}).prompt) == length


def test_prompt_is_measured_after_stripping():
    assert len(parse({"prompt": "  \n" + "x" * 32_000 + "\t "}).prompt) == 32_000


def test_prompt_over_32000_characters_is_rejected_with_its_length():
    assert (
        problem({"prompt": "x" * 32_001}, "prompt") == "prompt must be at most 32,000 characters; got 32,001 characters"
    )


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_is_rejected(prompt):
    assert "prompt must not be empty" in problem({"prompt": prompt}, "prompt")


def test_missing_prompt_is_rejected():
    assert problem({}, "prompt").startswith("prompt is required")


@pytest.mark.parametrize(("value", "shown"), [(None, "null"), (42, "42"), (["a"], "a list of 1 items")])
def test_prompt_of_the_wrong_type_names_the_value(value, shown):
    assert problem({"prompt": value}, "prompt").endswith(f"got {shown}")


@pytest.mark.parametrize(("char", "code"), [("\x00", "0000"), ("\x1b", "001B"), ("\x7f", "007F"), ("\x85", "0085")])
def test_control_characters_in_the_prompt_are_rejected(char, code):
    message = problem({"prompt": f"ab{char}c"}, "prompt")
    assert f"U+{code} at position 2" in message


def test_lone_surrogate_in_the_prompt_is_rejected():
    assert "U+D800" in problem({"prompt": "a\ud800b"}, "prompt")


def test_newlines_and_tabs_are_kept_and_carriage_returns_normalised():
    assert parse({"prompt": "line one\r\nline\ttwo\rthree"}).prompt == "line one\nline\ttwo\nthree"


# --- model and the extra-models setting -------------------------------------------------------------------------


def test_unknown_model_is_rejected_naming_it_and_the_setting():
    message = problem({"prompt": "p", "model": "sora-3"}, "model")
    assert 'got "sora-3"' in message
    assert "sora-2, sora-2-2025-10-06" in message and "sora-2-pro" in message
    assert "SORA_EXTRA_MODELS" in message


@pytest.mark.parametrize(("model", "shown"), [(2, "2"), ("my model", '"my model"'), ("", '""'), ("x" * 200, '"xxx')])
def test_malformed_model_name_is_rejected(model, shown):
    assert f"got {shown}" in problem({"prompt": "p", "model": model}, "model")


def test_configured_default_deployment_gets_sora2_limits_and_price():
    request = parse({"prompt": "p"}, default_model="contoso-video")
    assert (request.model, request.model_family, request.size) == ("contoso-video", "sora-2", "720x1280")
    assert parse({"prompt": "p", "model": "contoso-video"}, default_model="contoso-video").model == "contoso-video"
    assert "needs a pro model" in problem({"prompt": "p", "size": "1792x1024"}, "size", default_model="contoso-video")


def test_default_deployment_with_pro_in_its_name_gets_pro_sizes():
    request = parse({"prompt": "p", "size": "1792x1024"}, default_model="video_pro_eastus")
    assert request.model_family == "sora-2-pro"
    assert "size" in problems({"prompt": "p", "size": "1792x1024"}, default_model="product-videos")


def test_extra_model_with_its_own_sizes_and_durations():
    extra = json.dumps({"my-gateway-model": {"sizes": ["1920x1080"], "seconds": ["4", "8", "16"]}})
    request = parse(
        {"prompt": "p", "model": "my-gateway-model", "seconds": 16, "size": "1920x1080"}, extra_models=extra
    )
    assert (request.size, request.seconds, request.model_family) == ("1920x1080", 16, None)
    defaulted = parse({"prompt": "p", "model": "my-gateway-model"}, extra_models=extra)
    assert (defaulted.size, defaulted.seconds) == ("1920x1080", 4)
    message = problem({"prompt": "p", "model": "my-gateway-model", "seconds": "12"}, "seconds", extra_models=extra)
    assert message == 'seconds must be one of "4", "8", "16" for model my-gateway-model; got "12"'


def test_extra_model_like_a_built_in_takes_its_limits_and_family():
    extra = json.dumps({"video-hq": {"like": "sora-2-pro"}})
    request = parse({"prompt": "p", "model": "video-hq", "size": "1024x1792"}, extra_models=extra)
    assert request.model_family == "sora-2-pro"


def test_wildcard_any_allows_unknown_models_with_unknown_values_within_bounds():
    extra = json.dumps({"*": "any"})
    request = parse({"prompt": "p", "model": "veo-9", "size": "2048x1152", "seconds": "30"}, extra_models=extra)
    assert (request.model, request.size, request.seconds, request.model_family) == ("veo-9", "2048x1152", 30, None)
    found = problems({"prompt": "p", "model": "veo-9", "size": "9000x9000", "seconds": 100_000}, extra_models=extra)
    assert "64-4096" in found["size"] and '"1" to "60"' in found["seconds"]


def test_without_the_setting_the_same_unknown_values_are_rejected():
    assert set(problems({"prompt": "p", "model": "veo-9", "size": "2048x1152"})) == {"model"}


@pytest.mark.parametrize(
    "setting",
    [
        "{not json",
        "[]",
        '"any"',
        '{"m": 5}',
        '{"m": {"sizes": ["1280x720"]}}',
        '{"m": {"sizes": [], "seconds": ["4"]}}',
        '{"m": {"sizes": ["1280*720"], "seconds": ["4"]}}',
        '{"m": {"sizes": ["1280x720"], "seconds": [4]}}',
        '{"m": {"sizes": ["1280x720"], "seconds": ["-4"]}}',
        '{"m": {"like": "sora-9"}}',
        '{"m": {"like": "sora-2", "colour": "red"}}',
        '{"m": {"like": "sora-2", "default_size": "1792x1024"}}',
        '{"bad name!": "any"}',
        '{"*": 1}',
        "[" * 100_000,
    ],
)
def test_malformed_extra_models_setting_names_the_setting(setting):
    with pytest.raises(ConfigurationError) as info:
        parse({"prompt": "p"}, extra_models=setting)
    assert info.value.setting == "SORA_EXTRA_MODELS"
    assert "SORA_EXTRA_MODELS" in info.value.message


def test_empty_extra_models_setting_means_the_built_in_table():
    assert load_model_table("  ") == load_model_table(None)


# --- jobs API (Sora 1) ------------------------------------------------------------------------------------------


def parse_job(body, **options) -> VideoRequest:
    return parse(body, api="jobs", default_model="sora", **options)


def test_minimal_jobs_request_gets_defaults():
    request = parse_job({"prompt": "A rocket landing on mars"})
    assert (request.api, request.size, request.seconds, request.variants, request.model_family) == (
        "jobs",
        "720x1280",
        5,
        1,
        "sora",
    )


@pytest.mark.parametrize("size", sorted(SORA1_MAX_VARIANTS))
@pytest.mark.parametrize("seconds", [1, 20, "5"])
def test_each_sora1_resolution_and_duration_boundary_is_accepted(size, seconds):
    request = parse_job({"prompt": "p", "size": size, "seconds": seconds})
    assert (request.size, request.seconds) == (size, int(seconds))


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0"), (21, "21"), ("21", '"21"'), (5.5, "5.5"), (True, "true")])
def test_sora1_duration_out_of_range_is_rejected(seconds, shown):
    message = problem({"prompt": "p", "seconds": seconds}, "seconds", api="jobs", default_model="sora")
    assert message == f"seconds must be a whole number from 1 to 20; got {shown}"


def test_sora2_only_sizes_are_rejected_by_the_jobs_api():
    message = problem({"prompt": "p", "size": "1792x1024"}, "size", api="jobs", default_model="sora")
    assert "480x480" in message and "1920x1080" in message and 'got "1792x1024"' in message


@pytest.mark.parametrize(("size", "most"), sorted(SORA1_MAX_VARIANTS.items()))
def test_variants_limit_at_each_resolution(size, most):
    assert parse_job({"prompt": "p", "size": size, "variants": most}).variants == most
    assert parse_job({"prompt": "p", "size": size, "variants": str(most)}).variants == most
    if most < 4:
        message = problem(
            {"prompt": "p", "size": size, "variants": most + 1}, "variants", api="jobs", default_model="sora"
        )
        assert message == (
            f"variants must be at most {most} at {size} (1 at 1080p, 2 at 720p, 4 otherwise); got {most + 1}"
        )


@pytest.mark.parametrize(("variants", "shown"), [(0, "0"), (5, "5"), (True, "true"), (1.5, "1.5"), ("two", '"two"')])
def test_variants_outside_one_to_four_are_rejected(variants, shown):
    message = problem(
        {"prompt": "p", "size": "480x480", "variants": variants}, "variants", api="jobs", default_model="sora"
    )
    assert message == f"variants must be a whole number from 1 to 4; got {shown}"


def test_remix_against_the_jobs_api_is_an_error_naming_remix():
    message = problem({"prompt": "p", "remix": {"prompt": "q"}}, "remix", api="jobs", default_model="sora")
    assert "remix is only available with the videos API" in message


def test_jobs_api_accepts_its_deployment_and_sora_names_and_rejects_others():
    assert parse_job({"prompt": "p", "model": "sora"}).model == "sora"
    assert parse(({"prompt": "p"}), api="jobs", default_model="my-sora-1").model == "my-sora-1"
    assert 'got "sora-2-typo"' in problem(
        {"prompt": "p", "model": "sora-2-typo"}, "model", api="jobs", default_model="x"
    )


# --- input_reference --------------------------------------------------------------------------------------------


def test_blob_reference_in_an_allowed_container():
    request = parse({"prompt": "p", "input_reference": {"blob": "video-requests/shots/horse 1.png"}})
    reference = request.input_reference
    assert (reference.kind, reference.container, reference.path, reference.fit) == (
        "blob",
        "video-requests",
        "shots/horse 1.png",
        "cover",
    )


def test_reference_to_a_frame_of_a_previous_run():
    reference = parse({"prompt": "p", "input_reference": {"run": "run-123", "at_seconds": 2.5, "fit": "contain"}})
    assert reference.input_reference == ReferenceSource("run", run_id="run-123", at_seconds=2.5, fit="contain")
    defaulted = parse({"prompt": "p", "input_reference": {"run": "run-123"}}).input_reference
    assert defaulted.at_seconds == 1.0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../etc/passwd", '".."'),
        ("videos/../secrets/x.png", '".."'),
        ("videos/%2e%2e/x.png", '".."'),
        ("videos/./x.png", '".."'),
        ("videos//x.png", "empty segments"),
        ("videos/", "empty segments"),
        ("/videos/x.png", "leading slash"),
        ("videos\\x.png", "backslashes"),
        ("http://169.254.169.254/latest", "not a URL"),
        ("https://evil.example/x.png", "not a URL"),
        ("file:///etc/passwd", "not a URL"),
        ("javascript:alert(1)", "not a URL"),
        ("videos/a\x00b.png", "control characters"),
        ("videos/a\nb.png", "control characters"),
        ("videos", "a container and a blob name"),
        ("Videos/x.png", "not a valid container name"),
        ("private/x.png", "allowed container (video-requests, videos)"),
        ("otheraccount.blob.core.windows.net/c/x.png", "not a valid container name"),
        ("videos/" + "x" * 2000, "at most 1,024 characters"),
        (42, "got 42"),
    ],
)
def test_hostile_blob_paths_are_rejected(path, expected):
    message = problem({"prompt": "p", "input_reference": {"blob": path}}, "input_reference.blob")
    assert expected in message
    assert message.startswith('input_reference.blob must be a blob path "container/path')


def test_blob_reference_with_no_allowed_containers_is_rejected():
    body = {"prompt": "p", "input_reference": {"blob": "videos/x.png"}}
    assert "allowed container (none)" in problem(body, "input_reference.blob", allowed_containers=())


@pytest.mark.parametrize(
    ("reference", "field", "expected"),
    [
        ("https://x/y.png", "input_reference", "URLs are never fetched"),
        ({"url": "https://x/y.png"}, "input_reference", "exactly one of blob or run"),
        ({"blob": "videos/x.png", "run": "abc"}, "input_reference", "both blob and run"),
        ({"blob": "videos/x.png", "at_seconds": 1}, "input_reference.at_seconds", 'unknown key "at_seconds"'),
        ({"blob": "videos/x.png", "fit": "stretch"}, "input_reference.fit", '"cover" or "contain"; got "stretch"'),
        ({"run": "../x"}, "input_reference.run", 'got "../x"'),
        ({"run": "a/b"}, "input_reference.run", 'got "a/b"'),
        ({"run": 7}, "input_reference.run", "got 7"),
        ({"run": "abc", "at_seconds": -1}, "input_reference.at_seconds", "from 0 to 60; got -1"),
        ({"run": "abc", "at_seconds": 61}, "input_reference.at_seconds", "got 61"),
        ({"run": "abc", "at_seconds": "1"}, "input_reference.at_seconds", 'got "1"'),
        ({"run": "abc", "at_seconds": True}, "input_reference.at_seconds", "got true"),
        ({"run": "abc", "at_seconds": float("nan")}, "input_reference.at_seconds", "got NaN"),
        ({"upload": "videos/runs/r/upload.png"}, "input_reference.upload", "set by the server"),
    ],
)
def test_malformed_references_are_rejected(reference, field, expected):
    assert expected in problem({"prompt": "p", "input_reference": reference}, field)


def test_upload_marker_is_accepted_only_from_the_http_layer():
    body = {"prompt": "p", "input_reference": {"upload": "videos/runs/r1/upload.png", "fit": "contain"}}
    reference = parse(body, allow_upload=True, allowed_containers=()).input_reference
    assert (reference.kind, reference.blob, reference.fit) == ("upload", "videos/runs/r1/upload.png", "contain")
    hostile = {"prompt": "p", "input_reference": {"upload": "videos/../x.png"}}
    assert '".."' in problem(hostile, "input_reference.upload", allow_upload=True)


# --- callback_url and metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://127.0.0.1:8080/cb?run=1", "HTTPS://EXAMPLE.COM"])
def test_callback_url_accepted(url):
    assert parse({"prompt": "p", "callback_url": url}).callback_url == url


def test_callback_url_at_2048_characters_is_accepted_and_2049_is_not():
    base = "https://example.com/"
    assert parse({"prompt": "p", "callback_url": base + "a" * (2048 - len(base))}).callback_url
    message = problem({"prompt": "p", "callback_url": base + "a" * (2049 - len(base))}, "callback_url")
    assert message.endswith("got 2,049 characters")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://example.com/x", 'got "ftp://example.com/x"'),
        ("/relative/hook", 'got "/relative/hook"'),
        ("example.com/hook", 'got "example.com/hook"'),
        ("https://", 'got "https://"'),
        ("https://user:secret@example.com/", "without user:password@ credentials"),
        ("https://example.com:99999/", "got"),
        ("https://example.com:0/", "got"),
        ("https://[::1/", "got"),
        ("https://example.com/a b", "without spaces or control characters"),
        ("https://example.com/\x00", "without spaces or control characters"),
        (["https://example.com"], "got a list of 1 items"),
    ],
)
def test_bad_callback_urls_are_rejected(url, expected):
    message = problem({"prompt": "p", "callback_url": url}, "callback_url")
    assert message.startswith("callback_url must be an absolute http(s) URL")
    assert expected in message


def test_credentials_in_a_callback_url_are_not_echoed():
    assert "secret" not in problem({"prompt": "p", "callback_url": "https://u:secret@x.com/"}, "callback_url")


def test_metadata_at_its_limits_is_accepted():
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    assert dict(parse({"prompt": "p", "metadata": metadata}).metadata) == metadata


@pytest.mark.parametrize(
    ("metadata", "field", "expected"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata", "got 17 keys"),
        ({"k" * 65: "v"}, "metadata", "keys must be 1-64 characters"),
        ({"": "v"}, "metadata", 'got ""'),
        ({"k": "v" * 513}, "metadata.k", "at most 512 characters"),
        ({"k": 5}, "metadata.k", "got 5"),
        ({"k": {"deep": "x"}}, "metadata.k", "got an object with 1 keys"),
        ({"k": "a\x00b"}, "metadata.k", "without control characters"),
        ("tag=1", "metadata", 'got "tag=1"'),
        (["a"], "metadata", "got a list of 1 items"),
    ],
)
def test_bad_metadata_is_rejected(metadata, field, expected):
    assert expected in problem({"prompt": "p", "metadata": metadata}, field)


def test_metadata_key_with_invisible_characters_is_escaped_in_the_error():
    found = problems({"prompt": "p", "metadata": {"k\u202e": 1}})
    assert list(found) == ["metadata.k\\u202e"]
    assert "\u202e" not in found["metadata.k\\u202e"]


# --- the body as a whole --------------------------------------------------------------------------------------


def test_every_violation_is_reported_at_once():
    found = problems(
        {
            "prompt": "",
            "model": "nope",
            "seconds": True,
            "variants": 2,
            "callback_url": "ftp://x",
            "metadata": [],
            "n_seconds": "4",
        }
    )
    assert set(found) == {"prompt", "model", "seconds", "variants", "callback_url", "metadata", "n_seconds"}


def test_unknown_field_is_named_with_a_hint_for_provider_names():
    assert problem({"prompt": "p", "n_seconds": "4"}, "n_seconds").startswith(
        'unknown field "n_seconds" (did you mean "seconds"?); allowed fields: prompt, model, size'
    )
    assert problem({"prompt": "p", "colour": "red"}, "colour").startswith('unknown field "colour"; allowed fields')


def test_thousands_of_unknown_fields_give_a_bounded_error():
    body = {"prompt": "p", **{f"field{i}": i for i in range(5000)}}
    with pytest.raises(RequestValidationError) as info:
        parse(body)
    assert len(info.value.errors) <= MAX_ERRORS + 1
    assert info.value.errors[-1].message == "and 4995 more unknown fields"


def test_hostile_field_names_are_shortened_and_escaped():
    name = "\x1b[31m" + "A" * 10_000
    with pytest.raises(RequestValidationError) as info:
        parse({"prompt": "p", name: 1})
    error = info.value.errors[0]
    assert len(error.field) < 80 and "\x1b" not in error.field
    assert "\x1b" not in error.message and "(10,005 characters)" in error.message


def test_echoed_values_are_escaped_and_bounded():
    message = problem({"prompt": "p", "size": "\x00\u202e" + "9" * 5000}, "size")
    assert "\x00" not in message and "\u202e" not in message
    assert "\\u0000\\u202e" in message and len(message) < 300


@pytest.mark.parametrize(("body", "shown"), [([], "a list of 0 items"), ("prompt", '"prompt"'), (None, "null")])
def test_a_body_that_is_not_an_object_is_rejected(body, shown):
    assert problem(body, "body") == f"body must be a JSON object; got {shown}"


def test_api_must_be_one_of_the_two():
    with pytest.raises(ValueError, match="api must be one of"):
        parse_video_request({"prompt": "p"}, api="sora3", default_model="sora-2")


def test_errors_serialise_for_problem_json():
    with pytest.raises(RequestValidationError) as info:
        parse({"prompt": "p", "seconds": 5})
    data = json.loads(json.dumps(info.value.to_dict()))
    assert data["code"] == "invalid_request"
    assert data["errors"] == [
        {"field": "seconds", "message": 'seconds must be one of "4", "8", "12" for model sora-2; got 5'}
    ]


# --- the durable boundary -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "api"),
    [
        (
            {
                "prompt": "a kite",
                "model": "sora-2-pro",
                "size": "1792x1024",
                "seconds": 12,
                "input_reference": {"run": "r1", "at_seconds": 3},
                "remix": {"prompt": "at night"},
                "callback_url": "https://example.com/cb",
                "metadata": {"project": "kites"},
            },
            "videos",
        ),
        ({"prompt": "p", "size": "480x480", "variants": 4, "input_reference": {"blob": "videos/a.png"}}, "jobs"),
    ],
)
def test_request_round_trips_through_json(body, api):
    request = parse(body, api=api)
    restored = VideoRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert restored == request
    assert restored.to_dict() == request.to_dict()


def test_request_is_immutable():
    request = parse({"prompt": "p", "metadata": {"a": "b"}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.prompt = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.metadata["a"] = "c"  # type: ignore[index]


# --- parse_request_json --------------------------------------------------------------------------------------


def body_problem(data) -> str:
    with pytest.raises(RequestValidationError) as info:
        parse_request_json(data)
    [error] = info.value.errors
    return f"{error.field}: {error.message}"


def test_json_body_is_decoded_including_a_byte_order_mark():
    assert parse_request_json(b'\xef\xbb\xbf{"prompt": "caf\xc3\xa9"}') == {"prompt": "café"}
    assert parse_request_json('{"prompt": "p"}') == {"prompt": "p"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "body: body is empty"),
        (b"   ", "body: body is empty"),
        (b'{"prompt": ', "body: body is not valid JSON"),
        (b"\xff\xfe{}", "body: body must be UTF-8 JSON; byte 0"),
        (b'{"prompt": "a", "prompt": "b"}', 'prompt: field "prompt" appears more than once'),
        (b'{"seconds": NaN}', "body: body is not valid JSON: NaN is not a JSON number"),
        (b'{"seconds": -Infinity}', "body: body is not valid JSON: -Infinity is not a JSON number"),
        (b'{"seconds": ' + b"9" * 5000 + b"}", "body: body is not valid JSON: a number has too many digits"),
        (b"[" * 100_000 + b"]" * 100_000, "body: body is nested too deeply"),
        (b'{"a":' * 9 + b"1" + b"}" * 9, "body: body is nested too deeply; at most 8 levels allowed"),
        (b"[1, 2]", "body: body must be a JSON object; got a list of 2 items"),
        (b'"prompt"', 'body: body must be a JSON object; got "prompt"'),
    ],
)
def test_malformed_json_bodies_are_rejected(data, expected):
    assert body_problem(data).startswith(expected)


def test_body_nested_to_the_limit_is_accepted():
    assert parse_request_json(b'{"a":' * 8 + b"1" + b"}" * 8)


def test_oversized_body_is_rejected_before_parsing():
    data = b'{"prompt": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert (
        body_problem(data) == f"body: body is too large: {len(data):,} bytes; at most {MAX_BODY_BYTES:,} bytes allowed"
    )


def test_largest_legitimate_body_fits_under_the_limit():
    body = {
        "prompt": "\u00e9" * 32_000,
        "remix": {"prompt": "\u00e9" * 32_000},
        "metadata": {f"k{i}": "v" * 512 for i in range(16)},
    }
    data = json.dumps(body).encode()  # ensure_ascii: 6 bytes per character, the worst case
    assert parse(parse_request_json(data)).prompt == "\u00e9" * 32_000
