"""The OpenAPI document and the validator agree: what the document calls valid is accepted, what it calls invalid is
refused, model by model, for every configured provider (the drift of issue 13 included)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from soraflow.config import Settings
from soraflow.errors import RequestValidationError
from soraflow.providers.registry import configured_models, parse_request
from triggers.openapi import openapi_document

VIDEOS = {"SORA_ENDPOINT": "http://127.0.0.1:8910"}
JOBS = {**VIDEOS, "SORA_API": "jobs", "SORA_MODEL": "sora"}
EVERY_PROVIDER = {**VIDEOS, "FAL_KEY": "key-id:secret", "VERTEX_PROJECT": "project-1"}
CONTAINERS = ("video-requests", "videos")


def request_validator(settings: Settings) -> Draft202012Validator:
    document = openapi_document(settings)
    return Draft202012Validator({"$ref": "#/components/schemas/VideoRequest", "components": document["components"]})


def documented(body: dict, settings: Settings) -> bool:
    return request_validator(settings).is_valid(body)


def accepted(body: dict, settings: Settings) -> bool:
    try:
        parse_request(body, settings, allowed_containers=CONTAINERS)
    except RequestValidationError:
        return False
    return True


def test_the_document_is_a_valid_openapi_3_1_document_for_every_provider():
    document = openapi_document(Settings.from_env(EVERY_PROVIDER))
    Draft202012Validator.check_schema(document["components"]["schemas"]["VideoRequest"])
    assert document["openapi"] == "3.1.0"
    titles = {schema.get("title") for schema in document["components"]["schemas"].values()}
    for caps in configured_models(Settings.from_env(EVERY_PROVIDER)):
        assert f"{caps.provider} {caps.model} request" in titles


@pytest.mark.parametrize("env", [VIDEOS, JOBS, EVERY_PROVIDER], ids=["videos", "jobs", "every-provider"])
def test_each_models_documented_sizes_and_durations_are_accepted_and_others_refused(env):
    settings = Settings.from_env(env)
    for caps in configured_models(settings):
        base = {"prompt": "a red kite", "model": caps.model, "provider": caps.provider}
        for size in (caps.sizes or ())[:4]:
            assert documented({**base, "size": size}, settings) and accepted({**base, "size": size}, settings), size
        for seconds in (caps.seconds or ())[:4]:
            for value in (seconds, int(seconds)):
                body = {**base, "seconds": value}
                assert documented(body, settings) and accepted(body, settings), body
        for refused in ({**base, "seconds": 0}, {**base, "size": "1x1"}, {**base, "seconds": "4.5"}):
            assert not documented(refused, settings) and not accepted(refused, settings), refused


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "p", "model": ""},
        {"prompt": "p", "seconds": 0},
        {"prompt": "p", "variants": 1},
        {"prompt": "p", "size": "1792x1024"},  # a pro size, and sora-2 is the default
        {"prompt": "p", "input_reference": {"run": "run-abcdefgh0", "at_seconds": 61}},
        {"prompt": "p", "input_reference": {"blob": "videos/a.png", "run": "run-abcdefgh0"}},
        {"prompt": "p", "metadata": {"k": "a\x00b"}},
        {"prompt": " \n "},
        {"prompt": "p", "style": "noir"},
    ],
    ids=[
        "empty-model",
        "zero-seconds",
        "variants-on-videos",
        "pro-size",
        "at-61",
        "two-kinds",
        "nul",
        "blank",
        "extra",
    ],
)
def test_what_the_issue_found_the_document_accepting_is_now_refused_by_both(body):
    settings = Settings.from_env(VIDEOS)
    assert not documented(body, settings)
    assert not accepted(body, settings)


@pytest.mark.parametrize(
    ("env", "body"),
    [
        (VIDEOS, {"prompt": "p", "size": "1280X720"}),
        (VIDEOS, {"prompt": "p", "input_reference": {"run": "run-abcdefgh0", "at_seconds": 60}}),
        (VIDEOS, {"prompt": "p", "seconds": 8, "callback_url": "https://hooks.example/done?x=1"}),
        (JOBS, {"prompt": "p", "variants": "2", "size": "480x480"}),
        (JOBS, {"prompt": "p", "variants": 4, "size": "480x480"}),
    ],
    ids=["upper-x", "at-60", "integer-seconds", "variants-as-text", "four-variants"],
)
def test_what_the_validator_accepts_the_document_now_accepts(env, body):
    settings = Settings.from_env(env)
    assert documented(body, settings)
    assert accepted(body, settings)


@pytest.mark.parametrize(("size", "most"), [("1920x1080", 1), ("1280x720", 2), ("480x480", 4)])
def test_the_jobs_api_documents_fewer_variants_at_larger_sizes(size, most):
    settings = Settings.from_env(JOBS)
    body = {"prompt": "p", "size": size}
    assert documented({**body, "variants": most}, settings) and accepted({**body, "variants": most}, settings)
    if most < 4:
        assert not documented({**body, "variants": most + 1}, settings)
        assert not accepted({**body, "variants": most + 1}, settings)


def test_provider_options_are_documented_per_model():
    settings = Settings.from_env(EVERY_PROVIDER)
    fal = next(caps for caps in configured_models(settings) if caps.provider == "fal" and caps.options)
    option, spec = next(iter(fal.options.items()))
    good = {"bool": True, "int": 1, "number": 0.5, "string": "x"}[spec.kind]
    body = {"prompt": "p", "model": fal.model, "provider_options": {option: good}}
    assert documented(body, settings) and accepted(body, settings)
    unknown = {**body, "provider_options": {"no_such_option": 1}}
    assert not documented(unknown, settings) and not accepted(unknown, settings)


def test_indexing_the_function_app_loads_neither_pydantic_nor_the_contract():
    loaded = "sorted(m for m in sys.modules if m.startswith(('pydantic', 'soraflow.contract')))"
    code = f"import sys, function_app; print({loaded})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout
